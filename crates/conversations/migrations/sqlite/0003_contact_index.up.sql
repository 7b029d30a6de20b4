-- A contact's conversations, newest first, from the index alone. The index it replaces,
-- (tenant_id, contact_id, channel), could not give the order, so SQLite's planner walked the
-- primary key (tenant_id, id) backwards through every conversation of the tenant instead: an
-- inbound message from a new contact cost a scan of all of them (2.8 ms at 7,600 conversations).
-- A contact has few conversations, so the channel is filtered from this index's rows.
DROP INDEX conversations_contact;
CREATE INDEX conversations_contact ON conversations (tenant_id, contact_id, id);
