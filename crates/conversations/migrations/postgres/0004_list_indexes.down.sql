DROP INDEX tasks_contact;
CREATE INDEX tasks_contact ON tasks (tenant_id, contact_id, status, id);
DROP INDEX conversations_waiting;
DROP INDEX conversations_status;
