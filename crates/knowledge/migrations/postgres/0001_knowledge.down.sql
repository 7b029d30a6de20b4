DROP TABLE knowledge_state;
DROP TABLE knowledge_gaps;
DROP TABLE knowledge_faq;
DROP TABLE knowledge_chunks;
DROP TABLE knowledge_documents;
DROP TABLE knowledge_blobs;
DROP TABLE knowledge_sources;
