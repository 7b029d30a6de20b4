DROP TABLE insights_settings;
DROP TABLE anomalies;
DROP TABLE metric_series;
DROP TABLE metric_rollups;
DROP TABLE metric_points;
