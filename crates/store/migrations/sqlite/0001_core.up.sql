-- The durable job queue: background work of every capability, enqueued inside the caller's
-- transaction. A platform table: tenant_id is NULL for system jobs.
CREATE TABLE jobs (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT,
    kind          TEXT NOT NULL,
    payload       TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('queued', 'running', 'dead')),
    ordering_key  TEXT,
    dedupe_key    TEXT,
    priority      INTEGER NOT NULL DEFAULT 0,
    attempts      INTEGER NOT NULL DEFAULT 0,
    max_attempts  INTEGER NOT NULL,
    run_at        INTEGER NOT NULL,
    lease_until   INTEGER,
    locked_by     TEXT,
    last_error    TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX jobs_ready ON jobs (priority, run_at) WHERE state = 'queued';
CREATE INDEX jobs_leased ON jobs (lease_until) WHERE state = 'running';
CREATE INDEX jobs_ordering ON jobs (ordering_key, id) WHERE ordering_key IS NOT NULL;
CREATE INDEX jobs_tenant ON jobs (tenant_id, state, id);
CREATE UNIQUE INDEX jobs_dedupe ON jobs (dedupe_key) WHERE dedupe_key IS NOT NULL;

-- Who changed what, where, when. Append-only (the triggers refuse updates and deletes).
CREATE TABLE audit_log (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    at           INTEGER NOT NULL,
    actor_type   TEXT NOT NULL,
    actor_id     TEXT,
    actor_label  TEXT NOT NULL,
    action       TEXT NOT NULL,
    object_type  TEXT NOT NULL,
    object_id    TEXT,
    via          TEXT NOT NULL,
    ip           TEXT,
    request_id   TEXT,
    details      TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_log_action ON audit_log (tenant_id, action, id);
CREATE INDEX audit_log_actor ON audit_log (tenant_id, actor_id, id);
CREATE INDEX audit_log_object ON audit_log (tenant_id, object_id, id);
CREATE TRIGGER audit_log_append_only_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_append_only_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
