//! What a capability reports to the business-metrics feed (insights collects it; capabilities
//! count from their own tables without depending on insights).

/// A count of one metric in one bucket (buckets without any may be left out).
#[derive(Debug, Clone, PartialEq)]
pub struct BucketCount {
    /// The metric's name, under `frontdesk.`.
    pub metric: &'static str,
    /// The bucket's start (UTC ms).
    pub bucket: i64,
    pub value: f64,
}
