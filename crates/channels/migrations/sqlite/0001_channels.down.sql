DROP TABLE outbound_messages;
DROP TABLE channel_accounts;
