DROP INDEX audit_log_recent;
