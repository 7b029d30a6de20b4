-- Tenants are the registry every public endpoint resolves (by slug); users are global because
-- one person may belong to several tenants. Everything a tenant owns is keyed (tenant_id, id).
CREATE TABLE tenants (
    id            TEXT PRIMARY KEY,
    slug          TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    time_zone     TEXT NOT NULL,
    locale        TEXT NOT NULL,
    industry      TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE workspaces (
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    id            TEXT NOT NULL,
    name          TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE users (
    id                  TEXT PRIMARY KEY,
    email               TEXT NOT NULL UNIQUE,
    name                TEXT NOT NULL,
    password_hash       TEXT NOT NULL,
    locale              TEXT,
    platform_role       TEXT CHECK (platform_role IN ('operator')),
    totp_secret         TEXT,
    totp_pending        TEXT,
    totp_enabled_at     BIGINT,
    totp_last_step      BIGINT,
    tokens_valid_after  BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);

CREATE TABLE memberships (
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    id            TEXT NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users (id),
    role          TEXT NOT NULL CHECK (role IN ('OWNER', 'ADMIN', 'MEMBER', 'VIEWER')),
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE invitations (
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    id            TEXT NOT NULL,
    email         TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('OWNER', 'ADMIN', 'MEMBER', 'VIEWER')),
    token_hash    TEXT NOT NULL,
    invited_by    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    accepted_at   BIGINT,
    revoked_at    BIGINT,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX invitations_token ON invitations (token_hash);

CREATE TABLE api_keys (
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    id            TEXT NOT NULL,
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    secret_hash   TEXT NOT NULL,
    permissions   TEXT NOT NULL,
    created_by    TEXT,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    expires_at    BIGINT,
    revoked_at    BIGINT,
    PRIMARY KEY (tenant_id, id)
);

-- Dashboard sessions and API token families belong to a user, not to a tenant.
CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    token_hash    TEXT NOT NULL UNIQUE,
    user_id       TEXT NOT NULL REFERENCES users (id),
    tenant_id     TEXT,
    csrf_token    TEXT NOT NULL,
    ip            TEXT,
    user_agent    TEXT,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    revoked_at    BIGINT
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE token_families (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id),
    tenant_id     TEXT,
    created_at    BIGINT NOT NULL,
    revoked_at    BIGINT,
    revoked_reason TEXT
);
CREATE INDEX token_families_user ON token_families (user_id);

CREATE TABLE refresh_tokens (
    id            TEXT PRIMARY KEY,
    family_id     TEXT NOT NULL REFERENCES token_families (id),
    token_hash    TEXT NOT NULL UNIQUE,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    used_at       BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

CREATE TABLE recovery_codes (
    user_id       TEXT NOT NULL REFERENCES users (id),
    id            TEXT NOT NULL,
    code_hash     TEXT NOT NULL,
    used_at       BIGINT,
    PRIMARY KEY (user_id, id)
);

-- Outgoing e-mail: written in the transaction that asks for it, delivered by a job.
CREATE TABLE outbox_emails (
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    id            TEXT NOT NULL,
    to_addr       TEXT NOT NULL,
    subject       TEXT NOT NULL,
    body_text     TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'held', 'failed')),
    error         TEXT,
    created_at    BIGINT NOT NULL,
    sent_at       BIGINT,
    PRIMARY KEY (tenant_id, id)
);

SELECT frontdesk_protect('workspaces');
SELECT frontdesk_protect('memberships');
SELECT frontdesk_protect('invitations');
SELECT frontdesk_protect('api_keys');
SELECT frontdesk_protect('outbox_emails');
