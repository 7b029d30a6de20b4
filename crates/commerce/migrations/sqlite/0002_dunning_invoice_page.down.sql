ALTER TABLE dunning_cases DROP COLUMN hosted_invoice_url;
