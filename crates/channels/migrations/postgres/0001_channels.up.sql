-- The tenant's messaging accounts, one per channel. The secret (Twilio auth token, WhatsApp
-- access token, Telegram bot token) is sealed with the keyring ("channel-secret").
CREATE TABLE channel_accounts (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id),
    channel      TEXT NOT NULL CHECK (channel IN ('whatsapp', 'sms', 'telegram')),
    provider     TEXT NOT NULL CHECK (provider IN ('twilio', 'whatsapp_cloud', 'telegram')),
    account_id   TEXT,
    sender       TEXT,
    secret       TEXT NOT NULL,
    secret_hint  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, channel)
);

-- The outbox: every message sent through a channel, with its delivery state.
CREATE TABLE outbound_messages (
    tenant_id            TEXT NOT NULL REFERENCES tenants (id),
    id                   TEXT NOT NULL,
    channel              TEXT NOT NULL,
    to_addr              TEXT NOT NULL,
    body                 TEXT NOT NULL,
    state                TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'held', 'failed')),
    provider             TEXT,
    provider_message_id  TEXT,
    attempts             BIGINT NOT NULL,
    last_error           TEXT,
    origin               TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    sent_at              BIGINT,
    PRIMARY KEY (tenant_id, id)
);

SELECT frontdesk_protect('channel_accounts');
SELECT frontdesk_protect('outbound_messages');
