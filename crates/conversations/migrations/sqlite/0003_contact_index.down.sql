DROP INDEX conversations_contact;
CREATE INDEX conversations_contact ON conversations (tenant_id, contact_id, channel);
