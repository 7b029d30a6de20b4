-- Business metrics: the tenants with outbound messages that moved lately (across tenants), and a
-- tenant's messages by when they were sent or failed.
CREATE INDEX outbound_messages_recent ON outbound_messages (updated_at);
CREATE INDEX outbound_messages_updated ON outbound_messages (tenant_id, updated_at);
