DROP TABLE chat_domains;
DROP TABLE assistant_settings;
DROP TABLE messages;
DROP TABLE conversations;
DROP TABLE contact_identities;
DROP TABLE contacts;
