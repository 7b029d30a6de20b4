-- WhatsApp template messages: the template (name, language, parameters) as JSON.
ALTER TABLE outbound_messages ADD COLUMN template TEXT;
