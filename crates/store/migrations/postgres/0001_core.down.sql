DROP TABLE audit_log;
DROP TABLE jobs;
DROP FUNCTION frontdesk_append_only();
DROP FUNCTION frontdesk_protect(regclass);
