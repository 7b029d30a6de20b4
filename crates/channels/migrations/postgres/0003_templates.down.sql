ALTER TABLE outbound_messages DROP COLUMN template;
