//! Ingestion, scoring and queries of tenant metrics.
//!
//! Points are stored and rolled up in the request's transaction, which also queues a scoring
//! job per touched series. Jobs of one series run one at a time in order (ordering key), so the
//! detector sees every series strictly in time order, without look-ahead; a point older than
//! what was scored is stored and rolled up but not scored ("late").

use crate::detector::{Detector, DetectorParams, Observation};
use crate::explain;
use crate::model::*;
use crate::store::{self, SeriesRow};
use frontdesk_kernel::time::now_ms;
use frontdesk_kernel::{Error, Result, TenantId};
use frontdesk_store::jobs::{self, NewJob};
use frontdesk_store::Db;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// The domain event emitted when an anomaly opens (its data is the [`Anomaly`]).
pub const ANOMALY_EVENT: &str = "anomaly.detected";

/// The job that scores the new points of one series.
pub const SCORE_JOB: &str = "insights.score";
/// Points scored per job run (a backlog continues in a follow-up job).
const SCORE_BATCH: u32 = 5000;
/// Points per ingest request.
pub const MAX_BATCH: usize = 5000;

#[derive(Clone)]
pub struct Insights {
    db: Db,
    params: DetectorParams,
    writer: Option<crate::writer::ExplanationWriter>,
    retention: Retention,
}

/// How long points and rollups are kept (days). Plans will set these per tenant when billing
/// lands; until then one setting applies to all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retention {
    pub raw_days: u32,
    pub minute_days: u32,
    pub hour_days: u32,
    pub day_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Self { raw_days: 35, minute_days: 35, hour_days: 400, day_days: 3650 }
    }
}

/// The recurring job that enforces [`Retention`].
pub const PURGE_JOB: &str = "insights.purge_expired";

/// The job that has the language model reword a new anomaly's explanation.
pub const EXPLAIN_JOB: &str = "insights.explain";

#[derive(Serialize, Deserialize)]
pub(crate) struct ScorePayload {
    pub metric: String,
    pub series: String,
}

impl Insights {
    pub fn new(db: Db) -> Self {
        Self { db, params: DetectorParams::default(), writer: None, retention: Retention::default() }
    }

    pub fn with_retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// Deletes points and rollups past their retention (the hourly job), in transactions of at
    /// most [`store::PURGE_BATCH`] rows so that other writers get the database in between.
    pub async fn purge_expired(&self) -> Result<u64> {
        let now = now_ms();
        let mut deleted = 0;
        loop {
            let mut tx = self.db.system().await?;
            let n = store::purge_expired_batch(&mut tx, &self.retention, now).await?;
            tx.commit().await?;
            if n == 0 {
                return Ok(deleted);
            }
            deleted += n;
        }
    }

    /// Explanations are reworded by this model (checked against the data) when one is configured.
    pub fn with_writer(mut self, writer: crate::writer::ExplanationWriter) -> Self {
        self.writer = Some(writer);
        self
    }

    /// Rewords an anomaly's template explanation with the model (the job). The template stays
    /// when there is no model, it fails, or it names numbers that are not in the data.
    pub async fn reword(&self, tenant: &TenantId, id: &AnomalyId) -> Result<bool> {
        let Some(writer) = &self.writer else { return Ok(false) };
        let template = {
            let mut tx = self.db.tenant_read(tenant).await?;
            store::anomaly(&mut tx, id).await?.explanation
        };
        let Some(text) = writer.rewrite(&template).await else { return Ok(false) };
        let mut tx = self.db.tenant(tenant).await?;
        let updated = store::set_explanation_if(&mut tx, id, &template, &text).await?;
        tx.commit().await?;
        Ok(updated)
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Validates, stores and rolls up a batch; good points are kept even when others are not. A
    /// batch naming a reserved metric (`frontdesk.*`) is refused as a whole.
    pub async fn ingest(&self, tenant: &TenantId, points: Vec<serde_json::Value>) -> Result<IngestResult> {
        if points.len() > MAX_BATCH {
            return Err(Error::field("points", "too_many", format!("Send at most {MAX_BATCH} points per request.")));
        }
        if points.is_empty() {
            return Err(Error::field("points", "empty", "Send at least one point."));
        }
        // Frontdesk's own metrics are fed by the platform; a tenant's points must not mix in.
        let reserved: Vec<_> = points
            .iter()
            .enumerate()
            .filter(|(_, p)| p.get("metric").and_then(|m| m.as_str()).is_some_and(crate::business::is_reserved))
            .map(|(i, _)| {
                frontdesk_kernel::FieldError::new(
                    format!("[{i}].metric"),
                    "reserved",
                    format!("Metric names starting with {} are Frontdesk's own.", crate::business::RESERVED_PREFIX),
                )
            })
            .collect();
        if !reserved.is_empty() {
            return Err(Error::Validation(reserved));
        }
        let mut rejected = Vec::new();
        let mut valid = Vec::with_capacity(points.len());
        for (index, raw) in points.into_iter().enumerate() {
            match parse_point(raw) {
                Ok(p) => valid.push(p),
                Err((field, message)) => rejected.push(RejectedPoint { index, field, message }),
            }
        }
        if valid.is_empty() {
            // Nothing usable at all is a bad request; a partly good batch is answered 200.
            let errors = rejected
                .iter()
                .map(|r| {
                    frontdesk_kernel::FieldError::new(
                        format!("[{}].{}", r.index, r.field),
                        "invalid",
                        r.message.clone(),
                    )
                })
                .collect();
            return Err(Error::Validation(errors));
        }
        let result = self.store_points(tenant, &valid).await?;
        Ok(IngestResult { rejected, ..result })
    }

    /// Stores and rolls up valid points (any name: the business feed writes the reserved ones)
    /// and queues their scoring; a point already stored is counted as a duplicate.
    pub(crate) async fn store_points(&self, tenant: &TenantId, valid: &[Point]) -> Result<IngestResult> {
        let mut tx = self.db.tenant(tenant).await?;
        let (mut accepted, mut duplicates, mut late) = (0, 0, 0);
        let mut per_series: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
        let mut scored_until: HashMap<(String, String), Option<i64>> = HashMap::new();
        // Rollups are summed per bucket first: one write per bucket instead of one per point.
        let mut buckets: BTreeMap<(String, String, &'static str, i64), (Resolution, store::BucketDelta)> =
            BTreeMap::new();
        for p in valid {
            if !store::insert_point(&mut tx, p).await? {
                duplicates += 1;
                continue;
            }
            for r in Resolution::ROLLUPS {
                let bucket = p.ts.div_euclid(r.bucket_ms()) * r.bucket_ms();
                buckets
                    .entry((p.metric.clone(), p.series.clone(), r.as_str(), bucket))
                    .and_modify(|(_, d)| d.add(p.value))
                    .or_insert((r, store::BucketDelta::of(p.value)));
            }
            accepted += 1;
            let key = (p.metric.clone(), p.series.clone());
            if !scored_until.contains_key(&key) {
                let row = store::series(&mut tx, &p.metric, &p.series).await?;
                scored_until.insert(key.clone(), row.and_then(|r| r.scored_until));
            }
            let is_late = scored_until.get(&key).copied().flatten().is_some_and(|until| p.ts <= until);
            let entry = per_series.entry(key).or_default();
            entry.0 += 1;
            if is_late {
                late += 1;
                entry.1 += 1;
            }
        }
        for ((metric, series, _, bucket), (resolution, delta)) in &buckets {
            store::roll_up(&mut tx, metric, series, *resolution, *bucket, delta).await?;
        }
        for ((metric, series), (new, late_n)) in &per_series {
            store::count_points(&mut tx, metric, series, *new, *late_n).await?;
            if new > late_n {
                let payload = ScorePayload { metric: metric.clone(), series: series.clone() };
                let job = NewJob::new(SCORE_JOB, &payload)?.ordered_by(format!("insights:{tenant}:{metric}:{series}"));
                jobs::enqueue(&mut tx, job).await?;
            }
        }
        tx.commit().await?;
        Ok(IngestResult { accepted, duplicates, late, rejected: Vec::new() })
    }

    /// Scores the unscored points of one series (the job). Returns whether more remain.
    pub async fn score_series(&self, tenant: &TenantId, metric: &str, series: &str) -> Result<bool> {
        let mut tx = self.db.tenant(tenant).await?;
        let row = store::series(&mut tx, metric, series).await?.unwrap_or_default();
        let mut detector = match row.detector_state.as_deref().map(serde_json::from_str::<Detector>) {
            Some(Ok(d)) => d,
            _ => Detector::new(self.params.clone()),
        };
        let points = store::points_after(&mut tx, metric, series, row.scored_until, SCORE_BATCH + 1).await?;
        let more = points.len() > SCORE_BATCH as usize;
        let sensitivity = store::sensitivity(&mut tx).await?;
        let mut open_anomaly = match row.open_anomaly.as_deref().and_then(AnomalyId::parse) {
            Some(id) => match store::anomaly(&mut tx, &id).await {
                Ok(a) => Some(a),
                Err(frontdesk_store::StoreError::NotFound) => None,
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        let mut scored_until = row.scored_until;
        for (ts, value) in points.into_iter().take(SCORE_BATCH as usize) {
            let obs = detector.observe(ts.div_euclid(1000), value);
            scored_until = Some(ts);
            if obs.score >= sensitivity {
                open_anomaly = Some(self.record_anomaly(&mut tx, metric, series, ts, value, &obs, open_anomaly).await?);
            } else if let Some(a) = open_anomaly.take() {
                // The anomaly ends with the first normal point; its explanation gets the duration.
                let related = store::overlapping(&mut tx, metric, a.started_at, a.ended_at).await?;
                let closed = Anomaly { explanation: explain::template(&a, &related, true), ..a };
                store::update_anomaly(&mut tx, &closed, closed.ended_at).await?;
            }
        }
        let state = serde_json::to_string(&detector)?;
        let row = SeriesRow {
            detector_state: Some(state),
            scored_until,
            open_anomaly: open_anomaly.as_ref().map(|a| a.id.to_string()),
        };
        store::save_series(&mut tx, metric, series, &row).await?;
        if more {
            let payload = ScorePayload { metric: metric.to_owned(), series: series.to_owned() };
            let job = NewJob::new(SCORE_JOB, &payload)?.ordered_by(format!("insights:{tenant}:{metric}:{series}"));
            jobs::enqueue(&mut tx, job).await?;
        }
        tx.commit().await?;
        Ok(more)
    }

    /// Opens an anomaly for an anomalous point, or extends the open one.
    #[allow(clippy::too_many_arguments)]
    async fn record_anomaly(
        &self,
        tx: &mut frontdesk_store::TenantTx,
        metric: &str,
        series: &str,
        ts: i64,
        value: f64,
        obs: &Observation,
        open: Option<Anomaly>,
    ) -> Result<Anomaly> {
        let direction = if value >= obs.expected { "up" } else { "down" };
        let severity = severity(obs.score);
        match open {
            Some(mut a) => {
                a.ended_at = ts;
                let stronger = obs.score > a.score;
                if stronger {
                    a.score = obs.score;
                    a.severity = severity.into();
                    a.observed = value;
                    a.expected = obs.expected;
                    a.expected_low = obs.expected_low;
                    a.expected_high = obs.expected_high;
                }
                let related = store::overlapping(tx, metric, a.started_at, a.ended_at).await?;
                a.explanation = explain::template(&a, &related, false);
                store::update_anomaly(tx, &a, if stronger { ts } else { a.started_at }).await?;
                Ok(a)
            }
            None => {
                let mut a = Anomaly {
                    id: AnomalyId::new(),
                    metric: metric.to_owned(),
                    dimensions: store::dimensions_of(series),
                    started_at: ts,
                    ended_at: ts,
                    direction: direction.into(),
                    severity: severity.into(),
                    score: obs.score,
                    observed: value,
                    expected: obs.expected,
                    expected_low: obs.expected_low,
                    expected_high: obs.expected_high,
                    explanation: String::new(),
                    acknowledged_at: None,
                };
                let related = store::overlapping(tx, metric, ts, ts).await?;
                a.explanation = explain::template(&a, &related, false);
                store::insert_anomaly(tx, &a, series).await?;
                frontdesk_store::events::emit(tx, ANOMALY_EVENT, serde_json::to_value(&a)?).await?;
                if self.writer.is_some() {
                    jobs::enqueue(
                        tx,
                        NewJob::new(EXPLAIN_JOB, &serde_json::json!({"anomaly_id": a.id}))?.max_attempts(3),
                    )
                    .await?;
                }
                tracing::info!(metric, anomaly_id = %a.id, severity = %a.severity, "anomaly detected");
                Ok(a)
            }
        }
    }

    pub async fn series_list(&self, tenant: &TenantId) -> Result<Vec<Series>> {
        let mut tx = self.db.tenant_read(tenant).await?;
        Ok(store::list_series(&mut tx).await?)
    }

    pub async fn data(
        &self,
        tenant: &TenantId,
        metric: &str,
        dimensions: Option<&str>,
        resolution: Resolution,
        from: i64,
        to: i64,
    ) -> Result<Vec<DataPoint>> {
        let series = match dimensions.filter(|d| !d.is_empty()) {
            None => String::new(),
            Some(d) => {
                let map: BTreeMap<String, String> = serde_json::from_str(d).map_err(|_| {
                    Error::field("dimensions", "invalid", "Give dimensions as a JSON object of strings.")
                })?;
                series_key(&map)
            }
        };
        let mut tx = self.db.tenant_read(tenant).await?;
        Ok(store::data(&mut tx, metric, &series, resolution, from, to).await?)
    }

    pub async fn anomalies(
        &self,
        tenant: &TenantId,
        metric: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Anomaly>> {
        let mut tx = self.db.tenant_read(tenant).await?;
        Ok(store::list_anomalies(&mut tx, metric, after, limit).await?)
    }

    pub async fn anomaly(&self, tenant: &TenantId, id: &AnomalyId) -> Result<Anomaly> {
        let mut tx = self.db.tenant_read(tenant).await?;
        Ok(store::anomaly(&mut tx, id).await?)
    }

    pub async fn acknowledge(
        &self,
        tenant: &TenantId,
        id: &AnomalyId,
        actor: &frontdesk_store::audit::Actor,
    ) -> Result<Anomaly> {
        let mut tx = self.db.tenant(tenant).await?;
        store::anomaly(&mut tx, id).await?;
        store::acknowledge(&mut tx, id, &actor.label).await?;
        frontdesk_store::audit::record(
            &mut tx,
            actor,
            frontdesk_store::audit::Change::new("anomaly.acknowledged", "anomaly", Some(id.as_str())),
        )
        .await?;
        let a = store::anomaly(&mut tx, id).await?;
        tx.commit().await?;
        Ok(a)
    }

    pub async fn settings(&self, tenant: &TenantId) -> Result<Settings> {
        let mut tx = self.db.tenant_read(tenant).await?;
        Ok(Settings { sensitivity: store::sensitivity(&mut tx).await? })
    }

    pub async fn set_settings(
        &self,
        tenant: &TenantId,
        s: Settings,
        actor: &frontdesk_store::audit::Actor,
    ) -> Result<Settings> {
        if !(s.sensitivity > 0.0 && s.sensitivity <= 1.0) {
            return Err(Error::field("sensitivity", "out_of_range", "Sensitivity is a score above 0 and at most 1."));
        }
        let mut tx = self.db.tenant(tenant).await?;
        store::set_sensitivity(&mut tx, s.sensitivity).await?;
        frontdesk_store::audit::record(
            &mut tx,
            actor,
            frontdesk_store::audit::Change::new("insights.settings_changed", "insights_settings", None)
                .details(serde_json::json!({"sensitivity": s.sensitivity})),
        )
        .await?;
        tx.commit().await?;
        Ok(s)
    }
}

/// Raw points replayed per chart (the detector is re-run over them to draw the expected band).
const CHART_HISTORY: u32 = 200_000;
/// Samples drawn per chart.
const CHART_SAMPLES: usize = 720;

impl Insights {
    /// A chart of one series over `[from, to)`: values, the expected band (the same detector,
    /// replayed from the series' first point, so the band is what it expected at the time) and
    /// the anomaly windows.
    pub async fn chart(
        &self,
        tenant: &TenantId,
        metric: &str,
        series: &str,
        from: i64,
        to: i64,
    ) -> Result<crate::chart::Chart> {
        let mut tx = self.db.tenant_read(tenant).await?;
        let points = store::points_after(&mut tx, metric, series, None, CHART_HISTORY).await?;
        let windows = store::anomaly_windows(&mut tx, metric, series, from, to).await?;
        drop(tx);
        let params = self.params.clone();
        let samples = tokio::task::spawn_blocking(move || {
            let mut detector = Detector::new(params);
            let mut samples = Vec::new();
            for (ts, value) in points {
                if ts >= to {
                    break;
                }
                let obs = detector.observe(ts.div_euclid(1000), value);
                if ts >= from {
                    samples.push(crate::chart::Sample { t: ts, value, low: obs.expected_low, high: obs.expected_high });
                }
            }
            let stride = samples.len().div_ceil(CHART_SAMPLES).max(1);
            samples.into_iter().step_by(stride).collect::<Vec<_>>()
        })
        .await
        .map_err(Error::internal)?;
        Ok(crate::chart::draw(&samples, &windows))
    }
}

fn severity(score: f64) -> &'static str {
    if score >= 0.9 {
        "high"
    } else if score >= 0.7 {
        "medium"
    } else {
        "low"
    }
}

/// The canonical key of a set of dimensions: sorted JSON, `""` when empty.
pub fn series_key(dimensions: &BTreeMap<String, String>) -> String {
    if dimensions.is_empty() {
        String::new()
    } else {
        serde_json::to_string(dimensions).unwrap_or_default()
    }
}

/// Checks one incoming point; the error names the field at fault.
pub fn parse_point(raw: serde_json::Value) -> std::result::Result<Point, (String, String)> {
    let p: PointIn = serde_json::from_value(raw).map_err(|e| {
        let msg = e.to_string();
        let field = msg.split('`').nth(1).filter(|_| msg.starts_with("missing field")).unwrap_or("").to_owned();
        (field, msg.split(" at line ").next().unwrap_or(&msg).to_owned())
    })?;
    let metric_ok = !p.metric.is_empty()
        && p.metric.len() <= 100
        && p.metric.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    if !metric_ok {
        return Err((
            "metric".into(),
            "A metric name has 1 to 100 letters, digits, dots, dashes or underscores.".into(),
        ));
    }
    if !p.value.is_finite() {
        return Err(("value".into(), "The value must be a finite number.".into()));
    }
    let ts = match &p.timestamp {
        serde_json::Value::Number(n) => n.as_f64().filter(|s| s.is_finite()).map(|s| (s * 1000.0) as i64),
        serde_json::Value::String(s) => s.parse::<jiff::Timestamp>().ok().map(|t| t.as_millisecond()),
        _ => None,
    }
    .ok_or_else(|| ("timestamp".to_owned(), "Use RFC 3339 (2026-11-24T09:00:00Z) or Unix seconds.".to_owned()))?;
    let now = now_ms();
    if ts < 946_684_800_000 || ts > now + 24 * 3600 * 1000 {
        return Err(("timestamp".into(), "The timestamp is before 2000 or more than a day in the future.".into()));
    }
    let dims = p.dimensions.unwrap_or_default();
    if dims.len() > 8 || dims.iter().any(|(k, v)| k.is_empty() || k.len() > 64 || v.len() > 128) {
        return Err((
            "dimensions".into(),
            "Up to 8 dimensions; names up to 64 and values up to 128 characters.".into(),
        ));
    }
    Ok(Point { metric: p.metric, series: series_key(&dims), ts, value: p.value })
}
