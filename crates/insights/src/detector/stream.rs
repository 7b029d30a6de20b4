//! One normalised residual stream: its running scale, its 99th percentile and the shape of its
//! tail beyond that percentile.

use serde::{Deserialize, Serialize};

use super::DetectorParams;

/// Initial mean log-exceedance over the quantile, and the unit exceedances are rescaled to.
const TAIL_UNIT: f64 = 0.5;
/// Exceedances above this many tail scales are clipped before they update the tail scale, so
/// one anomaly does not make the tail look heavy.
const TAIL_CLIP: f64 = 5.0;

/// Running scale, high quantile and tail scale of one normalised residual stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Stream {
    /// EW mean absolute residual.
    scale: f64,
    /// Tracked `quantile` of `|residual| / scale`.
    pub q: f64,
    /// Points seen by the tracker.
    n: f64,
    /// EW mean of `ln(z / q)` over the points beyond the quantile (0 until the first one).
    tail: f64,
}

impl Stream {
    pub fn new() -> Self {
        Stream { scale: 0.0, q: 3.0, n: 0.0, tail: 0.0 }
    }

    /// Normalised size of a residual against the current scale, with a floor for flat series.
    pub fn z(&self, residual: f64, floor: f64) -> f64 {
        residual.abs() / self.scale.max(floor)
    }

    pub fn learn_scale(&mut self, residual: f64, floor: f64, p: &DetectorParams, warm: bool) {
        let r = residual.abs();
        let a = 1.0 / p.scale_horizon;
        if !warm {
            // Warm-up: plain mean, so the scale is right from the start.
            self.scale += (r - self.scale) * a.max(0.05);
        } else {
            let cap = p.scale_clip * self.scale.max(floor);
            self.scale += a * (r.min(cap) - self.scale);
        }
    }

    /// Surprise of `z`: 0 up to the usual worst (the tracked quantile); beyond it, the
    /// log-exceedance `y = ln(z / q)` in units of this stream's own mean log-exceedance
    /// (peaks over threshold: `y` is modelled as exponential, so `y / tail` is minus the log of
    /// its conditional tail probability `P`), times [`TAIL_UNIT`], so the raw score
    /// `1 - e^-surprise` is `1 - sqrt(P)`. A heavy-tailed metric, where ten times the 99th
    /// percentile is routine, is thus not more alarming than a calm one.
    pub fn surprise(&mut self, z: f64, p: &DetectorParams, active: bool) -> f64 {
        if !active {
            return 0.0;
        }
        let y = (z / self.q.max(1e-6)).ln().max(0.0);
        let tail = if self.tail > 0.0 { self.tail } else { TAIL_UNIT };
        let s = y / tail * TAIL_UNIT;
        let up = z > self.q;
        if up {
            self.tail = tail + p.tail_rate * (y.min(TAIL_CLIP * tail) - tail);
        }
        // Faster at first so the tracker converges during warm-up.
        self.n += 1.0;
        let rate = p.quantile_rate.max((2.0 / self.n).min(0.1));
        let step = rate * if up { p.quantile } else { 1.0 - p.quantile };
        self.q *= if up { step.exp() } else { (-step).exp() };
        self.q = self.q.clamp(0.5, 1e6);
        s
    }
}
