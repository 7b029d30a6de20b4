-- Lists with optional filters, each from an index that gives its order: with the filters written
-- as plain comparisons (frontdesk_store::Conditions) a view of the few handed-off or waiting
-- conversations, or of one contact's tasks, no longer walks all of the tenant's.
CREATE INDEX conversations_status ON conversations (tenant_id, status, last_message_at, id);
CREATE INDEX conversations_waiting ON conversations (tenant_id, waiting_since, id) WHERE waiting_since IS NOT NULL;
-- A contact's tasks newest first (with or without a status); status first could not give id order.
DROP INDEX tasks_contact;
CREATE INDEX tasks_contact ON tasks (tenant_id, contact_id, id);
