//! Metrics, series and anomalies as the API shows them.

use frontdesk_kernel::define_id;
use frontdesk_kernel::time::rfc3339;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

define_id!(
    /// A detected anomaly of one metric series.
    AnomalyId,
    "anm"
);

/// The score at or above which a point is anomalous, unless the tenant chose another.
/// 0.45 is the detector's best threshold on the NAB corpus (standard profile).
pub const DEFAULT_SENSITIVITY: f64 = 0.45;

/// One point as sent to `POST /api/v1/metrics/ingest`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct PointIn {
    /// `bookings`, `revenue_eur`, `payments.failed` (letters, digits, `._-`, up to 100).
    pub metric: String,
    pub value: f64,
    /// RFC 3339 (`2026-11-24T09:00:00Z`) or Unix seconds.
    #[schema(value_type = String)]
    pub timestamp: serde_json::Value,
    /// Up to 8 string dimensions (`{"location": "north"}`); each combination is its own series.
    #[serde(default)]
    pub dimensions: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RejectedPoint {
    /// Position of the point in the batch (0-based).
    pub index: usize,
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IngestResult {
    /// New points stored.
    pub accepted: usize,
    /// Points already stored (same metric, dimensions and timestamp): ignored.
    pub duplicates: usize,
    /// Points older than what the detector has scored: stored and rolled up, not scored.
    pub late: usize,
    pub rejected: Vec<RejectedPoint>,
}

/// A valid point, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub metric: String,
    /// Canonical JSON of the dimensions, `""` without dimensions.
    pub series: String,
    pub ts: i64,
    pub value: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Series {
    pub metric: String,
    #[schema(value_type = Object)]
    pub dimensions: serde_json::Value,
    pub points: i64,
    #[serde(with = "rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub scored_until: Option<i64>,
}

/// A value of a metric at a resolution: raw points, or aggregates per bucket.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DataPoint {
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub t: i64,
    pub value: f64,
    /// Bucketed resolutions: points in the bucket, and their extremes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Resolution {
    Raw,
    Minute,
    Hour,
    Day,
}

impl Resolution {
    pub fn bucket_ms(self) -> i64 {
        match self {
            Resolution::Raw => 1,
            Resolution::Minute => 60_000,
            Resolution::Hour => 3_600_000,
            Resolution::Day => 86_400_000,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Raw => "raw",
            Resolution::Minute => "minute",
            Resolution::Hour => "hour",
            Resolution::Day => "day",
        }
    }

    pub const ROLLUPS: [Resolution; 3] = [Resolution::Minute, Resolution::Hour, Resolution::Day];
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Anomaly {
    pub id: AnomalyId,
    pub metric: String,
    #[schema(value_type = Object)]
    pub dimensions: serde_json::Value,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub started_at: i64,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub ended_at: i64,
    /// `up` or `down`.
    pub direction: String,
    /// `low`, `medium` or `high`.
    pub severity: String,
    /// Highest score in [0, 1].
    pub score: f64,
    pub observed: f64,
    pub expected: f64,
    pub expected_low: f64,
    pub expected_high: f64,
    /// Plain-language account of what happened; numbers come from the data only.
    pub explanation: String,
    #[serde(with = "rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub acknowledged_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Settings {
    /// Score in (0, 1] at which a point counts as anomalous; lower finds more.
    pub sensitivity: f64,
}
