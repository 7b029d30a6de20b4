//! Insights' SQL, for both engines; the one difference (MIN/MAX of two values) is named below.

use crate::model::*;
use frontdesk_kernel::time::now_ms;
use frontdesk_store::{AnyRow, Backend, Row, StoreError, StoreResult, TenantTx, Tx};

/// Stores a point unless it exists; true when it was new.
pub async fn insert_point(tx: &mut TenantTx, p: &Point) -> StoreResult<bool> {
    let tid = tx.tid().to_owned();
    let n = frontdesk_store::query(
        "INSERT INTO metric_points (tenant_id, metric, series, ts, value, received_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (tenant_id, metric, series, ts) DO NOTHING",
    )
    .bind(tid)
    .bind(&p.metric)
    .bind(&p.series)
    .bind(p.ts)
    .bind(p.value)
    .bind(now_ms())
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// The new points of one bucket, aggregated before they are written.
#[derive(Debug, Clone, Copy)]
pub struct BucketDelta {
    pub count: i64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
}

impl BucketDelta {
    pub fn of(value: f64) -> Self {
        Self { count: 1, sum: value, min: value, max: value }
    }

    pub fn add(&mut self, value: f64) {
        self.count += 1;
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }
}

/// Adds aggregated new points to one rollup bucket.
pub async fn roll_up(
    tx: &mut TenantTx,
    metric: &str,
    series: &str,
    resolution: Resolution,
    bucket: i64,
    d: &BucketDelta,
) -> StoreResult<()> {
    // SQLite spells the two-argument minimum `min(a, b)`; PostgreSQL `LEAST(a, b)`.
    let (least, greatest) = match tx.backend() {
        Backend::Sqlite => ("min", "max"),
        Backend::Postgres => ("LEAST", "GREATEST"),
    };
    let sql = format!(
        "INSERT INTO metric_rollups (tenant_id, metric, series, resolution, bucket, count, sum, min, max)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (tenant_id, metric, series, resolution, bucket) DO UPDATE SET
           count = metric_rollups.count + excluded.count, sum = metric_rollups.sum + excluded.sum,
           min = {least}(metric_rollups.min, excluded.min), max = {greatest}(metric_rollups.max, excluded.max)"
    );
    let tid = tx.tid().to_owned();
    frontdesk_store::query(&sql)
        .bind(tid)
        .bind(metric)
        .bind(series)
        .bind(resolution.as_str())
        .bind(bucket)
        .bind(d.count)
        .bind(d.sum)
        .bind(d.min)
        .bind(d.max)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The detector of one series.
#[derive(Debug, Clone, Default)]
pub struct SeriesRow {
    pub detector_state: Option<String>,
    pub scored_until: Option<i64>,
    pub open_anomaly: Option<String>,
}

pub async fn series(tx: &mut TenantTx, metric: &str, series: &str) -> StoreResult<Option<SeriesRow>> {
    let tid = tx.tid().to_owned();
    let row = frontdesk_store::query(
        "SELECT detector_state, scored_until, open_anomaly FROM metric_series WHERE tenant_id = $1 AND metric = $2 AND series = $3",
    )
    .bind(tid)
    .bind(metric)
    .bind(series)
    .fetch_optional(tx.conn())
    .await?;
    row.map(|r| {
        Ok(SeriesRow {
            detector_state: r.try_get("detector_state")?,
            scored_until: r.try_get("scored_until")?,
            open_anomaly: r.try_get("open_anomaly")?,
        })
    })
    .transpose()
}

/// Counts new points of a series (creating its row on first sight).
pub async fn count_points(tx: &mut TenantTx, metric: &str, series: &str, new: i64, late: i64) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    frontdesk_store::query(
        "INSERT INTO metric_series (tenant_id, metric, series, points, late_points, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (tenant_id, metric, series) DO UPDATE SET points = metric_series.points + excluded.points,
           late_points = metric_series.late_points + excluded.late_points, updated_at = excluded.updated_at",
    )
    .bind(tid)
    .bind(metric)
    .bind(series)
    .bind(new)
    .bind(late)
    .bind(now_ms())
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn save_series(tx: &mut TenantTx, metric: &str, series: &str, row: &SeriesRow) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    frontdesk_store::query(
        "UPDATE metric_series SET detector_state = $1, scored_until = $2, open_anomaly = $3, updated_at = $4
         WHERE tenant_id = $5 AND metric = $6 AND series = $7",
    )
    .bind(&row.detector_state)
    .bind(row.scored_until)
    .bind(&row.open_anomaly)
    .bind(now_ms())
    .bind(tid)
    .bind(metric)
    .bind(series)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Points after `after`, oldest first.
pub async fn points_after(
    tx: &mut TenantTx,
    metric: &str,
    series: &str,
    after: Option<i64>,
    limit: u32,
) -> StoreResult<Vec<(i64, f64)>> {
    let tid = tx.tid().to_owned();
    let rows = frontdesk_store::query(
        "SELECT ts, value FROM metric_points WHERE tenant_id = $1 AND metric = $2 AND series = $3 AND ($4 IS NULL OR ts > $4)
         ORDER BY ts LIMIT $5",
    )
    .bind(tid)
    .bind(metric)
    .bind(series)
    .bind(after)
    .bind(limit as i64)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(|r| Ok((r.try_get("ts")?, r.try_get("value")?))).collect()
}

pub async fn list_series(tx: &mut TenantTx) -> StoreResult<Vec<Series>> {
    let tid = tx.tid().to_owned();
    let rows = frontdesk_store::query(
        "SELECT metric, series, points, scored_until FROM metric_series WHERE tenant_id = $1 ORDER BY metric, series LIMIT 10000",
    )
    .bind(tid)
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|r| {
            let series: String = r.try_get("series")?;
            Ok(Series {
                metric: r.try_get("metric")?,
                dimensions: dimensions_of(&series),
                points: r.try_get("points")?,
                scored_until: r.try_get("scored_until")?,
            })
        })
        .collect()
}

/// The dimensions object of a series key.
pub fn dimensions_of(series: &str) -> serde_json::Value {
    if series.is_empty() {
        serde_json::json!({})
    } else {
        serde_json::from_str(series).unwrap_or_else(|_| serde_json::json!({}))
    }
}

/// Values of a series in `[from, to)` at a resolution.
pub async fn data(
    tx: &mut TenantTx,
    metric: &str,
    series: &str,
    resolution: Resolution,
    from: i64,
    to: i64,
) -> StoreResult<Vec<DataPoint>> {
    let tid = tx.tid().to_owned();
    if resolution == Resolution::Raw {
        let rows = frontdesk_store::query(
            "SELECT ts, value FROM metric_points WHERE tenant_id = $1 AND metric = $2 AND series = $3 AND ts >= $4 AND ts < $5
             ORDER BY ts LIMIT 20000",
        )
        .bind(tid)
        .bind(metric)
        .bind(series)
        .bind(from)
        .bind(to)
        .fetch_all(tx.conn())
        .await?;
        return rows
            .iter()
            .map(|r| {
                Ok(DataPoint { t: r.try_get("ts")?, value: r.try_get("value")?, count: None, min: None, max: None })
            })
            .collect();
    }
    let rows = frontdesk_store::query(
        "SELECT bucket, count, sum, min, max FROM metric_rollups
         WHERE tenant_id = $1 AND metric = $2 AND series = $3 AND resolution = $4 AND bucket >= $5 AND bucket < $6
         ORDER BY bucket LIMIT 20000",
    )
    .bind(tid)
    .bind(metric)
    .bind(series)
    .bind(resolution.as_str())
    .bind(from)
    .bind(to)
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|r| {
            let count: i64 = r.try_get("count")?;
            let sum: f64 = r.try_get("sum")?;
            Ok(DataPoint {
                t: r.try_get("bucket")?,
                value: sum / count.max(1) as f64,
                count: Some(count),
                min: Some(r.try_get("min")?),
                max: Some(r.try_get("max")?),
            })
        })
        .collect()
}

// ---------- anomalies ----------

const ANOMALY_COLS: &str = "id, metric, series, started_at, ended_at, direction, severity, score, observed, expected, \
                            expected_low, expected_high, explanation, acknowledged_at";

fn anomaly_from(r: &AnyRow) -> StoreResult<Anomaly> {
    let series: String = r.try_get("series")?;
    Ok(Anomaly {
        id: AnomalyId::from_db(r.try_get("id")?),
        metric: r.try_get("metric")?,
        dimensions: dimensions_of(&series),
        started_at: r.try_get("started_at")?,
        ended_at: r.try_get("ended_at")?,
        direction: r.try_get("direction")?,
        severity: r.try_get("severity")?,
        score: r.try_get("score")?,
        observed: r.try_get("observed")?,
        expected: r.try_get("expected")?,
        expected_low: r.try_get("expected_low")?,
        expected_high: r.try_get("expected_high")?,
        explanation: r.try_get("explanation")?,
        acknowledged_at: r.try_get("acknowledged_at")?,
    })
}

pub async fn insert_anomaly(tx: &mut TenantTx, a: &Anomaly, series: &str) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    frontdesk_store::query(
        "INSERT INTO anomalies (tenant_id, id, metric, series, started_at, ended_at, peak_at, direction, severity, score,
                                observed, expected, expected_low, expected_high, explanation, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $5, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(tid)
    .bind(a.id.as_str())
    .bind(&a.metric)
    .bind(series)
    .bind(a.started_at)
    .bind(a.ended_at)
    .bind(&a.direction)
    .bind(&a.severity)
    .bind(a.score)
    .bind(a.observed)
    .bind(a.expected)
    .bind(a.expected_low)
    .bind(a.expected_high)
    .bind(&a.explanation)
    .bind(now_ms())
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    Ok(())
}

/// Extends an open anomaly to `a.ended_at`, keeping the strongest point as its peak.
pub async fn update_anomaly(tx: &mut TenantTx, a: &Anomaly, peak_at: i64) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    frontdesk_store::query(
        "UPDATE anomalies SET ended_at = $1, peak_at = $2, severity = $3, score = $4, observed = $5, expected = $6,
                              expected_low = $7, expected_high = $8, explanation = $9
         WHERE tenant_id = $10 AND id = $11",
    )
    .bind(a.ended_at)
    .bind(peak_at)
    .bind(&a.severity)
    .bind(a.score)
    .bind(a.observed)
    .bind(a.expected)
    .bind(a.expected_low)
    .bind(a.expected_high)
    .bind(&a.explanation)
    .bind(tid)
    .bind(a.id.as_str())
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn anomaly(tx: &mut TenantTx, id: &AnomalyId) -> StoreResult<Anomaly> {
    let tid = tx.tid().to_owned();
    let row = frontdesk_store::query(&format!("SELECT {ANOMALY_COLS} FROM anomalies WHERE tenant_id = $1 AND id = $2"))
        .bind(tid)
        .bind(id.as_str())
        .fetch_optional(tx.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
    anomaly_from(&row)
}

pub async fn list_anomalies(
    tx: &mut TenantTx,
    metric: Option<&str>,
    after: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<Anomaly>> {
    let tid = tx.tid().to_owned();
    let rows = frontdesk_store::query(&format!(
        "SELECT {ANOMALY_COLS} FROM anomalies WHERE tenant_id = $1 AND ($2 IS NULL OR metric = $2) AND ($3 IS NULL OR id < $3)
         ORDER BY id DESC LIMIT $4"
    ))
    .bind(tid)
    .bind(metric)
    .bind(after)
    .bind(limit as i64)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(anomaly_from).collect()
}

/// Other metrics' anomalies that overlap `[from, to]` (the "moved at the same time" list).
pub async fn overlapping(tx: &mut TenantTx, metric: &str, from: i64, to: i64) -> StoreResult<Vec<(String, String)>> {
    let tid = tx.tid().to_owned();
    let rows = frontdesk_store::query(
        "SELECT DISTINCT metric, direction FROM anomalies
         WHERE tenant_id = $1 AND metric <> $2 AND started_at <= $4 AND ended_at >= $3 LIMIT 5",
    )
    .bind(tid)
    .bind(metric)
    .bind(from)
    .bind(to)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(|r| Ok((r.try_get("metric")?, r.try_get("direction")?))).collect()
}

pub async fn acknowledge(tx: &mut TenantTx, id: &AnomalyId, by: &str) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    frontdesk_store::query(
        "UPDATE anomalies SET acknowledged_at = $1, acknowledged_by = $2 WHERE tenant_id = $3 AND id = $4 AND acknowledged_at IS NULL",
    )
    .bind(now_ms())
    .bind(by)
    .bind(tid)
    .bind(id.as_str())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Replaces the explanation if it is still `expected` (the scoring job may have moved on).
pub async fn set_explanation_if(tx: &mut TenantTx, id: &AnomalyId, expected: &str, text: &str) -> StoreResult<bool> {
    let tid = tx.tid().to_owned();
    let n = frontdesk_store::query(
        "UPDATE anomalies SET explanation = $1 WHERE tenant_id = $2 AND id = $3 AND explanation = $4",
    )
    .bind(text)
    .bind(tid)
    .bind(id.as_str())
    .bind(expected)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(n == 1)
}

// ---------- settings ----------

pub async fn sensitivity(tx: &mut TenantTx) -> StoreResult<f64> {
    let tid = tx.tid().to_owned();
    let v: Option<f64> =
        frontdesk_store::query_scalar("SELECT sensitivity FROM insights_settings WHERE tenant_id = $1")
            .bind(tid)
            .fetch_optional(tx.conn())
            .await?;
    Ok(v.unwrap_or(DEFAULT_SENSITIVITY))
}

pub async fn set_sensitivity(tx: &mut TenantTx, value: f64) -> StoreResult<()> {
    let tid = tx.tid().to_owned();
    frontdesk_store::query(
        "INSERT INTO insights_settings (tenant_id, sensitivity, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id) DO UPDATE SET sensitivity = excluded.sensitivity, updated_at = excluded.updated_at",
    )
    .bind(tid)
    .bind(value)
    .bind(now_ms())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// (start, end) of the anomalies of one series that overlap `[from, to]`.
pub async fn anomaly_windows(
    tx: &mut TenantTx,
    metric: &str,
    series: &str,
    from: i64,
    to: i64,
) -> StoreResult<Vec<(i64, i64)>> {
    let tid = tx.tid().to_owned();
    let rows = frontdesk_store::query(
        "SELECT started_at, ended_at FROM anomalies
         WHERE tenant_id = $1 AND metric = $2 AND series = $3 AND started_at <= $5 AND ended_at >= $4 ORDER BY started_at LIMIT 500",
    )
    .bind(tid)
    .bind(metric)
    .bind(series)
    .bind(from)
    .bind(to)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(|r| Ok((r.try_get("started_at")?, r.try_get("ended_at")?))).collect()
}

/// Most rows one purge transaction deletes: the SQLite writer is free again between batches, so
/// a large backlog of expired points never stalls other writes for long.
pub const PURGE_BATCH: i64 = 5_000;

/// One batch of the retention purge, across tenants: deletes up to [`PURGE_BATCH`] raw points
/// older than the raw retention, or, when none is left, up to as many rollups past theirs.
/// Returns the rows deleted; 0 when nothing has expired.
pub async fn purge_expired_batch(
    tx: &mut frontdesk_store::SystemTx,
    retention: &crate::service::Retention,
    now: i64,
) -> StoreResult<u64> {
    let day = 86_400_000i64;
    let points = frontdesk_store::query(
        "DELETE FROM metric_points WHERE (tenant_id, metric, series, ts) IN
            (SELECT tenant_id, metric, series, ts FROM metric_points WHERE ts < $1 ORDER BY ts LIMIT $2)",
    )
    .bind(now - retention.raw_days as i64 * day)
    .bind(PURGE_BATCH)
    .execute(tx.conn())
    .await?
    .rows_affected();
    if points > 0 {
        return Ok(points);
    }
    for (resolution, days) in
        [("minute", retention.minute_days), ("hour", retention.hour_days), ("day", retention.day_days)]
    {
        let rollups = frontdesk_store::query(
            "DELETE FROM metric_rollups WHERE (tenant_id, metric, series, resolution, bucket) IN
                (SELECT tenant_id, metric, series, resolution, bucket FROM metric_rollups
                 WHERE resolution = $1 AND bucket < $2 ORDER BY bucket LIMIT $3)",
        )
        .bind(resolution)
        .bind(now - days as i64 * day)
        .bind(PURGE_BATCH)
        .execute(tx.conn())
        .await?
        .rows_affected();
        if rollups > 0 {
            return Ok(rollups);
        }
    }
    Ok(0)
}
