DROP INDEX outbound_messages_updated;
DROP INDEX outbound_messages_recent;
