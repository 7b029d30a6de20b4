DROP INDEX metric_rollups_expiry;
DROP INDEX metric_points_expiry;
