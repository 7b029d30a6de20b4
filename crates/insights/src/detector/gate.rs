//! Turning raw scores into alarms: the residual gate (one incident, one alarm) and the range
//! record (a value never seen before).

use serde::{Deserialize, Serialize};

use super::DetectorParams;

/// A raw score is reported only if it beats the metric's usual worst score and, for a while
/// after an alarm, the alarm itself (by a margin).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Gate {
    /// The usual worst raw score: a slowly decaying maximum whose growth per point is capped.
    reference: f64,
    /// Level of the last alarm.
    hold_level: f64,
    /// Steps left during which later scores must beat `hold_level`.
    hold_left: f64,
}

impl Gate {
    /// Passes one raw score in [0, 1]; returns the reported score. `steps` is the number of
    /// sampling steps since the previous point.
    pub fn pass(&mut self, raw: f64, steps: f64, p: &DetectorParams) -> f64 {
        let bar = if self.hold_left > 0.0 {
            // raw = 1 - e^-surprise: beating the alarm by `hold_margin` surprise units.
            let hold = 1.0 - (1.0 - self.hold_level) * (-p.hold_margin).exp();
            self.reference.max(hold)
        } else {
            self.reference
        };
        let beats = raw > bar;
        let score = if beats { raw } else { raw * p.suppressed_factor };
        if beats {
            self.hold_level = raw;
            self.hold_left = p.suppression_steps;
        } else {
            self.hold_left -= steps;
        }
        self.reference = (self.reference * p.reference_decay).max(raw.min(self.reference + p.reference_growth));
        score
    }
}

/// The range of a signal seen so far; a value outside it is a record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Record {
    lo: f64,
    hi: f64,
}

impl Record {
    pub fn new() -> Self {
        Record { lo: f64::INFINITY, hi: f64::NEG_INFINITY }
    }

    /// How far `v` lies outside the range seen so far, as a share of that range (0 inside, or
    /// while the range is empty or flat), then learns `v`.
    pub fn observe(&mut self, v: f64, floor: f64) -> f64 {
        let range = self.hi - self.lo;
        let out =
            if range.is_finite() && range > floor { (v - self.hi).max(self.lo - v).max(0.0) / range } else { 0.0 };
        self.lo = self.lo.min(v);
        self.hi = self.hi.max(v);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_incident_raises_one_alarm() {
        let p = DetectorParams::default();
        let mut g = Gate::default();
        for _ in 0..1000 {
            g.pass(0.1, 1.0, &p);
        }
        assert_eq!(g.pass(0.8, 1.0, &p), 0.8);
        // Slightly higher a step later: part of the same incident, silent.
        assert_eq!(g.pass(0.82, 1.0, &p), 0.0);
        // Much higher: reported.
        assert!(g.pass(0.95, 1.0, &p) > 0.9);
    }

    #[test]
    fn records_are_measured_against_the_range_so_far() {
        let mut r = Record::new();
        assert_eq!(r.observe(5.0, 1e-9), 0.0);
        assert_eq!(r.observe(5.0, 1e-9), 0.0); // flat range
        assert_eq!(r.observe(15.0, 1e-9), 0.0); // range still flat before this point
        assert_eq!(r.observe(10.0, 1e-9), 0.0);
        assert!((r.observe(20.0, 1e-9) - 0.5).abs() < 1e-12);
        assert!((r.observe(-10.0, 1e-9) - 1.0).abs() < 1e-12);
    }
}
