-- A tenant's own model endpoint (ProviderConfig as JSON; API keys inside are sealed).
CREATE TABLE llm_settings (
    tenant_id   TEXT PRIMARY KEY REFERENCES tenants (id),
    config      TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- Tokens used per call, per tenant: the basis of usage reports and, later, billing.
CREATE TABLE llm_usage (
    tenant_id          TEXT NOT NULL,
    id                 TEXT NOT NULL,
    at                 BIGINT NOT NULL,
    model              TEXT NOT NULL,
    purpose            TEXT NOT NULL,
    prompt_tokens      BIGINT NOT NULL,
    completion_tokens  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX llm_usage_at ON llm_usage (tenant_id, at);
SELECT frontdesk_protect('llm_settings');
SELECT frontdesk_protect('llm_usage');
