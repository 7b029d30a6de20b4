-- Knowledge sources: an uploaded file, a web page or site section, a product catalog, or the
-- tenant's FAQ. `version` counts content changes; `index_version` counts changes of the
-- source's chunks or vectors (search indexes reload a source when it moves).
CREATE TABLE knowledge_sources (
    tenant_id          TEXT NOT NULL,
    id                 TEXT NOT NULL,
    kind               TEXT NOT NULL CHECK (kind IN ('file', 'url', 'catalog', 'faq')),
    title              TEXT NOT NULL,
    origin             TEXT NOT NULL,
    content_type       TEXT,
    options            TEXT NOT NULL DEFAULT '{}',
    tags               TEXT NOT NULL DEFAULT '[]',
    status             TEXT NOT NULL CHECK (status IN ('queued', 'processing', 'ready', 'failed')),
    error              TEXT,
    warnings           TEXT NOT NULL DEFAULT '[]',
    version            BIGINT NOT NULL DEFAULT 0,
    index_version      BIGINT NOT NULL DEFAULT 0,
    content_hash       TEXT,
    documents          BIGINT NOT NULL DEFAULT 0,
    chunks             BIGINT NOT NULL DEFAULT 0,
    embedded           BIGINT NOT NULL DEFAULT 0,
    progress_done      BIGINT NOT NULL DEFAULT 0,
    progress_total     BIGINT NOT NULL DEFAULT 0,
    refresh_every_secs BIGINT,
    next_refresh_at    BIGINT,
    last_refreshed_at  BIGINT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX knowledge_sources_origin ON knowledge_sources (tenant_id, kind, origin);

-- The bytes of uploaded files, kept so a source can be re-processed without a new upload.
CREATE TABLE knowledge_blobs (
    tenant_id     TEXT NOT NULL,
    source_id     TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    body          BYTEA NOT NULL,
    PRIMARY KEY (tenant_id, source_id)
);

-- A document of a source: the file, one crawled page, one catalog item, one FAQ entry.
CREATE TABLE knowledge_documents (
    tenant_id     TEXT NOT NULL,
    id            TEXT NOT NULL,
    source_id     TEXT NOT NULL,
    locator       TEXT NOT NULL,
    title         TEXT NOT NULL,
    language      TEXT NOT NULL,
    chunks        BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX knowledge_documents_source ON knowledge_documents (tenant_id, source_id);

-- Passages: what search ranks and cites. The vector is stored with the embedder's model name,
-- so a rebuilt index never re-embeds and a new model is noticed.
CREATE TABLE knowledge_chunks (
    tenant_id        TEXT NOT NULL,
    id               TEXT NOT NULL,
    source_id        TEXT NOT NULL,
    document_id      TEXT NOT NULL,
    ordinal          BIGINT NOT NULL,
    section          TEXT NOT NULL,
    body             TEXT NOT NULL,
    language         TEXT NOT NULL,
    text_hash        TEXT NOT NULL,
    embedding_model  TEXT,
    embedding        BYTEA,
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX knowledge_chunks_source ON knowledge_chunks (tenant_id, source_id, document_id, ordinal);
CREATE INDEX knowledge_chunks_model ON knowledge_chunks (tenant_id, embedding_model);

-- Question and answer pairs written by the tenant.
CREATE TABLE knowledge_faq (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    question    TEXT NOT NULL,
    answer      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- Questions the assistant could not answer from the knowledge base, one row per distinct
-- question (fingerprint), counted.
CREATE TABLE knowledge_gaps (
    tenant_id        TEXT NOT NULL,
    id               TEXT NOT NULL,
    question         TEXT NOT NULL,
    fingerprint      TEXT NOT NULL,
    asked            BIGINT NOT NULL,
    conversation_ref TEXT,
    status           TEXT NOT NULL CHECK (status IN ('open', 'accepted', 'dismissed')),
    faq_id           TEXT,
    first_asked_at   BIGINT NOT NULL,
    last_asked_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX knowledge_gaps_fingerprint ON knowledge_gaps (tenant_id, fingerprint);
CREATE INDEX knowledge_gaps_status ON knowledge_gaps (tenant_id, status, last_asked_at);

-- Per tenant: the generation every index change moves (searches compare it with their
-- in-memory index), and the model all vectors were made with (NULL while some are missing).
CREATE TABLE knowledge_state (
    tenant_id      TEXT NOT NULL PRIMARY KEY,
    generation     BIGINT NOT NULL,
    vectors_model  TEXT,
    updated_at     BIGINT NOT NULL
);

SELECT frontdesk_protect('knowledge_sources');
SELECT frontdesk_protect('knowledge_blobs');
SELECT frontdesk_protect('knowledge_documents');
SELECT frontdesk_protect('knowledge_chunks');
SELECT frontdesk_protect('knowledge_faq');
SELECT frontdesk_protect('knowledge_gaps');
SELECT frontdesk_protect('knowledge_state');
