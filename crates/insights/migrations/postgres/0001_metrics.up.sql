-- Raw points, one row per (metric, series, timestamp): a re-sent point is a no-op.
-- `series` is the canonical JSON of the point's dimensions ('' without dimensions).
CREATE TABLE metric_points (
    tenant_id    TEXT NOT NULL,
    metric       TEXT NOT NULL,
    series       TEXT NOT NULL,
    ts           BIGINT NOT NULL,
    value        DOUBLE PRECISION NOT NULL,
    received_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, metric, series, ts)
);

-- Minute, hour and day aggregates, kept longer than raw points.
CREATE TABLE metric_rollups (
    tenant_id    TEXT NOT NULL,
    metric       TEXT NOT NULL,
    series       TEXT NOT NULL,
    resolution   TEXT NOT NULL CHECK (resolution IN ('minute', 'hour', 'day')),
    bucket       BIGINT NOT NULL,
    count        BIGINT NOT NULL,
    sum          DOUBLE PRECISION NOT NULL,
    min          DOUBLE PRECISION NOT NULL,
    max          DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (tenant_id, metric, series, resolution, bucket)
);

-- One streaming detector per series: its state, and how far it has scored.
CREATE TABLE metric_series (
    tenant_id       TEXT NOT NULL,
    metric          TEXT NOT NULL,
    series          TEXT NOT NULL,
    detector_state  TEXT,
    scored_until    BIGINT,
    open_anomaly    TEXT,
    points          BIGINT NOT NULL DEFAULT 0,
    late_points     BIGINT NOT NULL DEFAULT 0,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, metric, series)
);

CREATE TABLE anomalies (
    tenant_id        TEXT NOT NULL,
    id               TEXT NOT NULL,
    metric           TEXT NOT NULL,
    series           TEXT NOT NULL,
    started_at       BIGINT NOT NULL,
    ended_at         BIGINT NOT NULL,
    peak_at          BIGINT NOT NULL,
    direction        TEXT NOT NULL CHECK (direction IN ('up', 'down')),
    severity         TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
    score            DOUBLE PRECISION NOT NULL,
    observed         DOUBLE PRECISION NOT NULL,
    expected         DOUBLE PRECISION NOT NULL,
    expected_low     DOUBLE PRECISION NOT NULL,
    expected_high    DOUBLE PRECISION NOT NULL,
    explanation      TEXT NOT NULL,
    acknowledged_at  BIGINT,
    acknowledged_by  TEXT,
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX anomalies_series ON anomalies (tenant_id, metric, series, started_at);

-- The tenant's sensitivity: an anomaly is recorded when a point's score reaches it.
CREATE TABLE insights_settings (
    tenant_id    TEXT PRIMARY KEY,
    sensitivity  DOUBLE PRECISION NOT NULL,
    updated_at   BIGINT NOT NULL
);

SELECT frontdesk_protect('metric_points');
SELECT frontdesk_protect('metric_rollups');
SELECT frontdesk_protect('metric_series');
SELECT frontdesk_protect('anomalies');
SELECT frontdesk_protect('insights_settings');
