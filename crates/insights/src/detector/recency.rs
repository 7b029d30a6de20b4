//! Record age: how many steps since a raw score at least this high was last seen.

use serde::{Deserialize, Serialize};

/// Number of levels raw scores in [0, 1] are quantised to.
pub(crate) const LEVELS: usize = 100;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Recency {
    /// Steps observed.
    now: f64,
    /// Step at which each level was last reached (`-1` never).
    last: Vec<f64>,
}

impl Recency {
    pub fn new() -> Self {
        Recency {
            now: 0.0,
            last: vec![-1.0; LEVELS],
        }
    }

    /// Feeds one raw score; returns the steps since a score at least as high (or since the
    /// start when never), 0 for a zero score.
    pub fn observe(&mut self, raw: f64, steps: f64) -> f64 {
        self.now += steps;
        if raw.is_nan() || raw <= 0.0 {
            return 0.0;
        }
        let level = ((raw * LEVELS as f64) as usize).min(LEVELS - 1);
        let prev = self.last[level..].iter().copied().fold(-1.0, f64::max);
        self.last[level] = self.now;
        if prev < 0.0 {
            self.now
        } else {
            self.now - prev
        }
    }
}
