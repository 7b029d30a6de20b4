-- Raw points, one row per (metric, series, timestamp): a re-sent point is a no-op.
-- `series` is the canonical JSON of the point's dimensions ('' without dimensions).
CREATE TABLE metric_points (
    tenant_id    TEXT NOT NULL,
    metric       TEXT NOT NULL,
    series       TEXT NOT NULL,
    ts           INTEGER NOT NULL,
    value        REAL NOT NULL,
    received_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, metric, series, ts)
);

-- Minute, hour and day aggregates, kept longer than raw points.
CREATE TABLE metric_rollups (
    tenant_id    TEXT NOT NULL,
    metric       TEXT NOT NULL,
    series       TEXT NOT NULL,
    resolution   TEXT NOT NULL CHECK (resolution IN ('minute', 'hour', 'day')),
    bucket       INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    sum          REAL NOT NULL,
    min          REAL NOT NULL,
    max          REAL NOT NULL,
    PRIMARY KEY (tenant_id, metric, series, resolution, bucket)
);

-- One streaming detector per series: its state, and how far it has scored.
CREATE TABLE metric_series (
    tenant_id       TEXT NOT NULL,
    metric          TEXT NOT NULL,
    series          TEXT NOT NULL,
    detector_state  TEXT,
    scored_until    INTEGER,
    open_anomaly    TEXT,
    points          INTEGER NOT NULL DEFAULT 0,
    late_points     INTEGER NOT NULL DEFAULT 0,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, metric, series)
);

CREATE TABLE anomalies (
    tenant_id        TEXT NOT NULL,
    id               TEXT NOT NULL,
    metric           TEXT NOT NULL,
    series           TEXT NOT NULL,
    started_at       INTEGER NOT NULL,
    ended_at         INTEGER NOT NULL,
    peak_at          INTEGER NOT NULL,
    direction        TEXT NOT NULL CHECK (direction IN ('up', 'down')),
    severity         TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
    score            REAL NOT NULL,
    observed         REAL NOT NULL,
    expected         REAL NOT NULL,
    expected_low     REAL NOT NULL,
    expected_high    REAL NOT NULL,
    explanation      TEXT NOT NULL,
    acknowledged_at  INTEGER,
    acknowledged_by  TEXT,
    created_at       INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX anomalies_series ON anomalies (tenant_id, metric, series, started_at);

-- The tenant's sensitivity: an anomaly is recorded when a point's score reaches it.
CREATE TABLE insights_settings (
    tenant_id    TEXT PRIMARY KEY,
    sensitivity  REAL NOT NULL,
    updated_at   INTEGER NOT NULL
);
