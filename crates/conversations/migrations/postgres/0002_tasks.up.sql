-- Follow-up tasks for staff: made by hand or by a workflow, optionally about a contact.
CREATE TABLE tasks (
    tenant_id       TEXT NOT NULL,
    id              TEXT NOT NULL,
    title           TEXT NOT NULL,
    notes           TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL CHECK (status IN ('open', 'done')),
    contact_id      TEXT,
    conversation_id TEXT,
    assignee_id     TEXT,                -- a user id
    due_at          BIGINT,
    created_by      TEXT NOT NULL,       -- who made it: a person's label or `workflow <name>`
    created_at      BIGINT NOT NULL,
    completed_at    BIGINT,
    completed_by    TEXT,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX tasks_status ON tasks (tenant_id, status, id);
CREATE INDEX tasks_contact ON tasks (tenant_id, contact_id, status, id);
SELECT frontdesk_protect('tasks');

-- The tenants with recent conversation activity, for the business-metrics job: the one index
-- that does not lead with tenant_id, because its question crosses tenants ("who was active in
-- the last hour?") and must not cost a probe per idle tenant.
CREATE INDEX conversations_recent ON conversations (last_message_at);
