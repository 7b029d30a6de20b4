-- Outbound webhooks. An endpoint's signing secrets are sealed with the keyring ("webhook-secret");
-- during a rotation the previous secret keeps signing until previous_secret_until.
CREATE TABLE webhook_endpoints (
    tenant_id              TEXT NOT NULL REFERENCES tenants (id),
    id                     TEXT NOT NULL,
    url                    TEXT NOT NULL,
    description            TEXT NOT NULL,
    event_types            TEXT NOT NULL,
    secret                 TEXT NOT NULL,
    previous_secret        TEXT,
    previous_secret_until  BIGINT,
    disabled_at            BIGINT,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- One row per (event, endpoint): the delivery log, and the source of truth for retries.
CREATE TABLE webhook_deliveries (
    tenant_id        TEXT NOT NULL,
    id               TEXT NOT NULL,
    endpoint_id      TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    payload          TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('queued', 'succeeded', 'failed')),
    attempts         BIGINT NOT NULL,
    next_attempt_at  BIGINT,
    last_status      BIGINT,
    last_error       TEXT,
    response_ms      BIGINT,
    replay_of        TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, endpoint_id) REFERENCES webhook_endpoints (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (tenant_id, endpoint_id, id);

SELECT frontdesk_protect('webhook_endpoints');
SELECT frontdesk_protect('webhook_deliveries');
