-- Retention deletes by age across tenants (the hourly purge). Without these it scanned every
-- point and rollup of every tenant in one statement, holding SQLite's single writer meanwhile;
-- now it finds the expired rows from an index and deletes them in bounded batches. Points
-- arrive roughly in time order, so the index on ts grows at its right edge.
CREATE INDEX metric_points_expiry ON metric_points (ts);
CREATE INDEX metric_rollups_expiry ON metric_rollups (resolution, bucket);
