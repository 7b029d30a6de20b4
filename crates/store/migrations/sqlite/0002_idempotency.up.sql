-- Idempotency-Key: the first response to a POST with a key is kept for 24 hours and replayed to
-- retries of the same request, so a client that lost the answer never creates something twice.
CREATE TABLE idempotency_keys (
    tenant_id     TEXT NOT NULL,
    idem_key      TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('running', 'done')),
    status        INTEGER,
    content_type  TEXT,
    body          TEXT,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, idem_key)
);
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);
