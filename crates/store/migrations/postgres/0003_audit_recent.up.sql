-- The operator's recent changes across tenants (audit::recent_all, newest first) read from this
-- index instead of sorting the whole audit log on every page view. The one audit index not led
-- by tenant_id: that view is the one reader that crosses tenants.
CREATE INDEX audit_log_recent ON audit_log (at);
