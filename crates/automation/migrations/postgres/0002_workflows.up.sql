-- Workflows: a trigger (an event kind, or "schedule"), conditions on the event's fields and ordered
-- actions, all JSON text. Slack webhook URLs inside actions are sealed with the keyring
-- ("workflow-secret"). trigger_event repeats trigger.event for look-ups.
CREATE TABLE workflows (
    tenant_id      TEXT NOT NULL REFERENCES tenants (id),
    id             TEXT NOT NULL,
    name           TEXT NOT NULL,
    trigger_event  TEXT NOT NULL,
    trigger        TEXT NOT NULL,
    conditions     TEXT NOT NULL,
    actions        TEXT NOT NULL,
    cooldown_secs  BIGINT NOT NULL,
    disabled_at    BIGINT,
    last_fired_at  BIGINT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX workflows_trigger ON workflows (tenant_id, trigger_event);

-- One run per (workflow, event). The run keeps what it needs to finish on its own: the event,
-- a snapshot of the actions, each step's outcome, and a cursor (next step, attempts on it).
CREATE TABLE workflow_runs (
    tenant_id      TEXT NOT NULL,
    id             TEXT NOT NULL,
    workflow_id    TEXT NOT NULL,
    event_id       TEXT NOT NULL,
    event_kind     TEXT NOT NULL,
    event_data     TEXT NOT NULL,
    source         TEXT NOT NULL CHECK (source IN ('event', 'schedule', 'test')),
    actions        TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('running', 'succeeded', 'failed', 'skipped')),
    steps          TEXT NOT NULL,
    step_cursor    BIGINT NOT NULL,
    step_attempts  BIGINT NOT NULL,
    error          TEXT,
    started_at     BIGINT NOT NULL,
    finished_at    BIGINT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, workflow_id) REFERENCES workflows (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX workflow_runs_event ON workflow_runs (tenant_id, workflow_id, event_id);
CREATE INDEX workflow_runs_workflow ON workflow_runs (tenant_id, workflow_id, id);

SELECT frontdesk_protect('workflows');
SELECT frontdesk_protect('workflow_runs');
