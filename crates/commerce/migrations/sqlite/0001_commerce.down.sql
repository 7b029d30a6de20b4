DROP TABLE dunning_cases;
DROP TABLE payments;
DROP TABLE stripe_events;
DROP TABLE stripe_accounts;
