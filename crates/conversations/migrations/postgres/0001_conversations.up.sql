-- The people who write to a tenant, across channels.
CREATE TABLE contacts (
    tenant_id          TEXT NOT NULL,
    id                 TEXT NOT NULL,
    name               TEXT,
    email              TEXT,
    phone              TEXT,               -- E.164
    language           TEXT,               -- en, de, …
    consent_marketing  SMALLINT NOT NULL DEFAULT 0,
    consent_updated_at BIGINT,
    tags               TEXT NOT NULL DEFAULT '[]',
    notes              TEXT NOT NULL DEFAULT '',
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX contacts_email ON contacts (tenant_id, email);
CREATE INDEX contacts_phone ON contacts (tenant_id, phone);

-- How a contact is reached on a channel: a web visitor id, a WhatsApp number, a Telegram chat.
CREATE TABLE contact_identities (
    tenant_id   TEXT NOT NULL,
    channel     TEXT NOT NULL,
    address     TEXT NOT NULL,
    contact_id  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, channel, address)
);
CREATE INDEX contact_identities_contact ON contact_identities (tenant_id, contact_id);

CREATE TABLE conversations (
    tenant_id        TEXT NOT NULL,
    id               TEXT NOT NULL,
    contact_id       TEXT NOT NULL,
    channel          TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('open', 'waiting', 'handed_off', 'resolved')),
    assignee_id      TEXT,                -- a user id
    labels           TEXT NOT NULL DEFAULT '[]',
    handoff_reason   TEXT,
    handed_off_at    BIGINT,
    waiting_since    BIGINT,              -- a customer waits for a human since then
    human_wait_ms    BIGINT NOT NULL DEFAULT 0,  -- total time customers waited for a human
    human_waits      BIGINT NOT NULL DEFAULT 0,  -- how many waits ended with a staff reply
    summary          TEXT,                -- older turns, summarised for the answering brain
    summary_upto     TEXT,                -- the last message id the summary covers
    last_message_at  BIGINT NOT NULL,
    last_preview     TEXT NOT NULL DEFAULT '',
    last_author      TEXT,
    message_count    BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    resolved_at      BIGINT,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX conversations_inbox ON conversations (tenant_id, last_message_at);
CREATE INDEX conversations_contact ON conversations (tenant_id, contact_id, channel);

CREATE TABLE messages (
    tenant_id          TEXT NOT NULL,
    id                 TEXT NOT NULL,
    conversation_id    TEXT NOT NULL,
    author             TEXT NOT NULL CHECK (author IN ('customer', 'agent', 'staff', 'system')),
    author_id          TEXT,             -- the staff user
    author_name        TEXT,
    body               TEXT NOT NULL,
    content            TEXT,             -- JSON: buttons, cards
    attachments        TEXT,             -- JSON
    client_message_id  TEXT,             -- the sender's id: a re-sent message is stored once
    reply_to           TEXT,             -- the customer message an agent reply answers
    specialist         TEXT,
    tools              TEXT,             -- JSON: the tools the agent used
    model              TEXT,
    tokens_in          BIGINT,
    tokens_out         BIGINT,
    latency_ms         BIGINT,
    provider_message_id TEXT,
    delivery           TEXT NOT NULL DEFAULT 'stored',
    created_at         BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX messages_conversation ON messages (tenant_id, conversation_id, id);
CREATE UNIQUE INDEX messages_client_id ON messages (tenant_id, conversation_id, client_message_id)
    WHERE client_message_id IS NOT NULL;
-- A customer message is answered by the agent at most once, whatever crashes and retries happen.
CREATE UNIQUE INDEX messages_one_reply ON messages (tenant_id, reply_to) WHERE reply_to IS NOT NULL;

-- The tenant's assistant and web chat: persona, instructions, FAQ, look, opening hours, origins.
CREATE TABLE assistant_settings (
    tenant_id   TEXT NOT NULL,
    settings    TEXT NOT NULL,   -- JSON, see model::AssistantSettings
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id)
);

-- Custom domains that serve a tenant's public chat (platform-wide look-up, like slugs).
CREATE TABLE chat_domains (
    domain      TEXT NOT NULL PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX chat_domains_tenant ON chat_domains (tenant_id);

SELECT frontdesk_protect('contacts');
SELECT frontdesk_protect('contact_identities');
SELECT frontdesk_protect('conversations');
SELECT frontdesk_protect('messages');
SELECT frontdesk_protect('assistant_settings');
SELECT frontdesk_protect('chat_domains');
