-- Row-level security for a tenant table: rows are visible and writable only when the
-- transaction-local setting app.tenant_id names their tenant, or app.system is on (the explicit
-- cross-tenant context of SystemTx). With neither set, a table looks empty.
CREATE OR REPLACE FUNCTION frontdesk_protect(tbl regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
    EXECUTE format(
        'CREATE POLICY tenant_isolation ON %s
            USING (tenant_id = current_setting(''app.tenant_id'', true)
                   OR current_setting(''app.system'', true) = ''on'')
            WITH CHECK (tenant_id = current_setting(''app.tenant_id'', true)
                   OR current_setting(''app.system'', true) = ''on'')', tbl);
END $$;

CREATE OR REPLACE FUNCTION frontdesk_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END $$;

CREATE TABLE jobs (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT,
    kind          TEXT NOT NULL,
    payload       TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('queued', 'running', 'dead')),
    ordering_key  TEXT,
    dedupe_key    TEXT,
    priority      BIGINT NOT NULL DEFAULT 0,
    attempts      BIGINT NOT NULL DEFAULT 0,
    max_attempts  BIGINT NOT NULL,
    run_at        BIGINT NOT NULL,
    lease_until   BIGINT,
    locked_by     TEXT,
    last_error    TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX jobs_ready ON jobs (priority, run_at) WHERE state = 'queued';
CREATE INDEX jobs_leased ON jobs (lease_until) WHERE state = 'running';
CREATE INDEX jobs_ordering ON jobs (ordering_key, id) WHERE ordering_key IS NOT NULL;
CREATE INDEX jobs_tenant ON jobs (tenant_id, state, id);
CREATE UNIQUE INDEX jobs_dedupe ON jobs (dedupe_key) WHERE dedupe_key IS NOT NULL;
SELECT frontdesk_protect('jobs');

CREATE TABLE audit_log (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    at           BIGINT NOT NULL,
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
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION frontdesk_append_only();
SELECT frontdesk_protect('audit_log');
