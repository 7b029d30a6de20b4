-- The tenant's Stripe account. Both keys are sealed with the keyring ("stripe-secret").
CREATE TABLE stripe_accounts (
    tenant_id            TEXT NOT NULL REFERENCES tenants (id),
    account_id           TEXT NOT NULL,
    display_name         TEXT,
    default_currency     TEXT NOT NULL,
    livemode             BIGINT NOT NULL,
    secret_key           TEXT NOT NULL,
    secret_key_hint      TEXT NOT NULL,
    webhook_secret       TEXT NOT NULL,
    webhook_secret_hint  TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    PRIMARY KEY (tenant_id)
);

-- Every Stripe event received, stored before it is acknowledged (deduplicated by Stripe's id),
-- then processed by a job.
CREATE TABLE stripe_events (
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    id            TEXT NOT NULL,
    type          TEXT NOT NULL,
    payload       TEXT NOT NULL,
    received_at   BIGINT NOT NULL,
    processed_at  BIGINT,
    outcome       TEXT,
    PRIMARY KEY (tenant_id, id)
);

-- Payment outcomes: one row per Stripe event that reported one.
CREATE TABLE payments (
    tenant_id           TEXT NOT NULL REFERENCES tenants (id),
    id                  TEXT NOT NULL,
    source              TEXT NOT NULL CHECK (source IN ('invoice', 'checkout')),
    state               TEXT NOT NULL CHECK (state IN ('succeeded', 'failed')),
    stripe_object_id    TEXT NOT NULL,
    stripe_event_id     TEXT NOT NULL,
    customer_id         TEXT,
    customer_email      TEXT,
    customer_name       TEXT,
    amount              BIGINT NOT NULL,
    currency            TEXT NOT NULL,
    attempt_count       BIGINT,
    failure             TEXT,
    hosted_invoice_url  TEXT,
    occurred_at         BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, stripe_event_id)
);
-- Business metrics: tenants with payments lately (across tenants), and a tenant's by time.
CREATE INDEX payments_recent ON payments (created_at);
CREATE INDEX payments_created ON payments (tenant_id, created_at);

-- Dunning: an unpaid invoice retried on a schedule. One active case per invoice.
CREATE TABLE dunning_cases (
    tenant_id          TEXT NOT NULL REFERENCES tenants (id),
    id                 TEXT NOT NULL,
    invoice_id         TEXT NOT NULL,
    customer_id        TEXT,
    customer_email     TEXT,
    amount             BIGINT,
    currency           TEXT,
    state              TEXT NOT NULL CHECK (state IN ('active', 'recovered', 'exhausted', 'cancelled')),
    retry_after_hours  TEXT NOT NULL,
    retries            BIGINT NOT NULL,
    next_retry_at      BIGINT,
    last_error         TEXT,
    origin             TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    closed_at          BIGINT,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX dunning_cases_active_invoice ON dunning_cases (tenant_id, invoice_id) WHERE state = 'active';
