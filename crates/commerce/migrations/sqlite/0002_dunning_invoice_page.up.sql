-- Dunning: the invoice's page where the customer can pay it, for reminders and the dashboard.
ALTER TABLE dunning_cases ADD COLUMN hosted_invoice_url TEXT;
