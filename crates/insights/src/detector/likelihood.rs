//! Anomaly likelihood (Ahmad et al. 2017, as used by Numenta's NAB detectors): how improbable
//! the recent average of raw anomaly scores is, given the metric's own long-run distribution of
//! that average.
//!
//! The short-term average is the mean of the last [`SHORT`] raw scores (a ring buffer); the
//! long-run distribution is a Gaussian fitted by an exponentially weighted mean and variance of
//! the short-term averages. The likelihood is `1 - Q((short - mean) / std)`; it is reported on
//! NAB's log scale, `-ln(1 - L) / ln(1e10)`, which spreads the top end: 0.5 means a tail
//! probability of 1e-5, 1 a tail probability of 1e-10.

use serde::{Deserialize, Serialize};

/// Length of the short-term average, in points (Numenta's default: 10).
pub(crate) const SHORT: usize = 10;

/// Variance floor of the long-run distribution (Numenta's: 1.5e-5), so that a metric whose raw
/// scores are always zero does not turn the first tiny raw score into a certain anomaly.
const MIN_VARIANCE: f64 = 1.5e-5;

/// Running state of the likelihood of one raw score stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Likelihood {
    ring: [f32; SHORT],
    next: u8,
    filled: u8,
    n: f64,
    mean: f64,
    var: f64,
}

impl Likelihood {
    pub fn new() -> Self {
        Likelihood {
            ring: [0.0; SHORT],
            next: 0,
            filled: 0,
            n: 0.0,
            mean: 0.0,
            var: 0.0,
        }
    }

    /// Feeds one raw score in [0, 1] and returns the log-likelihood score in [0, 1].
    /// `horizon` is the number of points the long-run distribution reflects.
    pub fn observe(&mut self, raw: f64, horizon: f64) -> f64 {
        self.ring[usize::from(self.next)] = raw as f32;
        self.next = ((usize::from(self.next) + 1) % SHORT) as u8;
        self.filled = (usize::from(self.filled) + 1).min(SHORT) as u8;
        let k = usize::from(self.filled);
        let short = self.ring[..k].iter().map(|&x| f64::from(x)).sum::<f64>() / k as f64;
        let std = self.var.max(MIN_VARIANCE).sqrt();
        let z = (short - self.mean) / std;
        let score = if self.n < 1.0 {
            0.0
        } else {
            (-ln_tail(z) / LN_1E10).clamp(0.0, 1.0)
        };
        // Learn after scoring: strictly online.
        self.n += 1.0;
        let a = (1.0 / horizon.max(1.0)).max(1.0 / self.n);
        let d = short - self.mean;
        self.mean += a * d;
        self.var = (1.0 - a) * (self.var + a * d * d);
        score
    }
}

const LN_1E10: f64 = 23.025_850_929_940_457;

/// `ln Q(z)`, the log of the standard normal upper tail probability, accurate to about 1e-7
/// relative (Numerical Recipes' Chebyshev fit of erfc), without underflow for large `z`.
pub(crate) fn ln_tail(z: f64) -> f64 {
    let x = z / std::f64::consts::SQRT_2;
    let ax = x.abs();
    let t = 1.0 / (1.0 + 0.5 * ax);
    let poly = -ax * ax - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    // erfc(ax) = t * exp(poly); Q(z) = erfc(x) / 2.
    let ln_erfc_abs = t.ln() + poly;
    if x >= 0.0 {
        ln_erfc_abs - std::f64::consts::LN_2
    } else {
        // erfc(-a) = 2 - erfc(a)
        (1.0 - 0.5 * ln_erfc_abs.exp()).ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_matches_known_values() {
        assert!((ln_tail(0.0).exp() - 0.5).abs() < 1e-7);
        assert!((ln_tail(1.959_964).exp() - 0.025).abs() < 1e-7);
        assert!((ln_tail(-1.959_964).exp() - 0.975).abs() < 1e-7);
        // Q(6) = 9.8659e-10
        assert!((ln_tail(6.0) - 9.865_876e-10_f64.ln()).abs() < 1e-5);
        assert!(ln_tail(40.0).is_finite());
    }
}
