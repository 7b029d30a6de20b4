//! Contextual novelty (in the spirit of CAD OSE): has this short sequence of value levels been
//! seen before?
//!
//! Values are quantised into bins of width `2^k` (the smallest power of two giving at most
//! `bins` bins over the range seen so far, so bins change only when the range doubles, and then
//! what was learned is dropped). For each order `1..=ORDERS`, the sequence of the last `order`
//! bins is hashed into a bit set (one bit per context, so memory is fixed; a hash collision can
//! only make a new context look familiar). Two generations of bit sets are kept: when the
//! current one holds `GENERATION` contexts it becomes the old one, so the model slowly forgets
//! and never saturates. The novelty of a point is the share of orders whose context was never
//! seen. Magnitude does not matter, only whether the pattern of levels is new, which makes this
//! robust on bursty series where big values are routine.
//!
//! The model also keeps the metric's novelty rate (the running share of points with a new
//! context): a new context is news in proportion to how rarely this metric produces one
//! (`Context::rarity`).

use serde::{Deserialize, Serialize};

/// Longest context, in points.
pub(crate) const ORDERS: usize = 6;
/// Bits per generation of the seen-context set.
const BITS: usize = 1 << 12;
const WORDS: usize = BITS / 64;
/// Novel contexts a generation holds before it becomes the old one and a fresh one starts.
const GENERATION: u32 = (BITS / 6) as u32;

/// State of the context model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Context {
    lo: f64,
    hi: f64,
    /// log2 of the bin width (`None` until the range is non-zero).
    exp: Option<i32>,
    hist: [i32; ORDERS],
    len: u8,
    current: Vec<u64>,
    old: Vec<u64>,
    added: u32,
    /// Running share of points with a novel context (the novelty rate), 1 after a reset.
    #[serde(default = "one")]
    rate: f64,
    /// The novelty rate before the latest point was learned.
    #[serde(default = "one")]
    prior_rate: f64,
    /// Points counted in `rate` since the bins last changed.
    #[serde(default)]
    counted: f64,
}

fn one() -> f64 {
    1.0
}

impl Context {
    pub fn new() -> Self {
        Context {
            lo: f64::INFINITY,
            hi: f64::NEG_INFINITY,
            exp: None,
            hist: [0; ORDERS],
            len: 0,
            current: vec![0; WORDS],
            old: vec![0; WORDS],
            added: 0,
            rate: 1.0,
            prior_rate: 1.0,
            counted: 0.0,
        }
    }

    /// Feeds one value, returns its novelty in [0, 1] (0 until `ORDERS` values have been seen
    /// at the current bin width), and updates the novelty rate (a mean over the points since the
    /// bins last changed, then an EW mean of horizon `rate_horizon`).
    pub fn observe(&mut self, x: f64, bins: f64, rate_horizon: f64) -> f64 {
        self.lo = self.lo.min(x);
        self.hi = self.hi.max(x);
        let range = self.hi - self.lo;
        if range <= 0.0 || !range.is_finite() {
            return 0.0;
        }
        let exp = (range / bins).log2().ceil() as i32;
        if self.exp != Some(exp) {
            // New bin width: what was learned is in other units; start over.
            self.exp = Some(exp);
            self.current.iter_mut().for_each(|w| *w = 0);
            self.old.iter_mut().for_each(|w| *w = 0);
            self.len = 0;
            self.added = 0;
            self.rate = 1.0;
            self.counted = 0.0;
        }
        let width = 2f64.powi(exp);
        let bin = (x / width).floor().clamp(-1e9, 1e9) as i32;
        self.hist.rotate_right(1);
        self.hist[0] = bin;
        self.len = (usize::from(self.len) + 1).min(ORDERS) as u8;
        let mut h: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut novel = 0;
        let n = usize::from(self.len);
        for &b in &self.hist[..n] {
            h = mix(h ^ u64::from(b as u32));
            let (w, bit) = ((h as usize >> 6) % WORDS, 1u64 << (h & 63));
            if self.current[w] & bit == 0 {
                if self.old[w] & bit == 0 {
                    novel += 1;
                }
                self.current[w] |= bit;
                self.added += 1;
            }
        }
        if self.added >= GENERATION {
            std::mem::swap(&mut self.current, &mut self.old);
            self.current.iter_mut().for_each(|w| *w = 0);
            self.added = 0;
        }
        self.prior_rate = self.rate;
        if n < ORDERS {
            0.0
        } else {
            let hit = if novel > 0 { 1.0 } else { 0.0 };
            self.counted += 1.0;
            self.rate += (hit - self.rate) / rate_horizon.min(self.counted).max(1.0);
            novel as f64 / ORDERS as f64
        }
    }

    /// Surprise of a point of novelty `novelty` (as returned by `observe`) given how often this
    /// metric produces new contexts: 0 for a familiar point or when new contexts come at rate
    /// `base` or more; otherwise `0.5 ln(base / rate)`, i.e. a tail event of probability
    /// `rate / base` in the residual channels' convention. Fresh bins have rate 1 (no surprise).
    pub fn rarity(&self, novelty: f64, base: f64) -> f64 {
        if novelty > 0.0 {
            0.5 * (base / self.prior_rate.max(1e-9)).ln().max(0.0)
        } else {
            0.0
        }
    }
}

/// splitmix64's finaliser: a cheap, well-mixed 64-bit hash step.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_patterns_become_familiar_and_new_ones_are_novel() {
        let mut c = Context::new();
        let pattern = [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0];
        let mut last = 1.0;
        for _ in 0..20 {
            for &v in &pattern {
                last = c.observe(v, 8.0, 1000.0);
            }
        }
        assert_eq!(last, 0.0, "a pattern seen twenty times is familiar");
        // Same levels, new order: the longer contexts are new.
        let novel = [70.0, 0.0, 60.0, 10.0, 50.0, 20.0].iter().map(|&v| c.observe(v, 8.0, 1000.0)).fold(0.0, f64::max);
        assert!(novel > 0.0);
    }

    #[test]
    fn a_new_pattern_on_a_regular_metric_is_rare_and_on_a_noisy_one_is_not() {
        let mut regular = Context::new();
        let mut last = 0.0;
        for i in 0..5000 {
            last = regular.observe(if i % 100 == 0 { 20.0 } else { 0.0 }, 8.0, 10_000.0);
        }
        assert_eq!(last, 0.0);
        regular.observe(20.0, 8.0, 10_000.0); // a spike on schedule, then one right after it
        let novelty = regular.observe(20.0, 8.0, 10_000.0);
        assert!(novelty > 0.0);
        assert!(regular.rarity(novelty, 0.04) > 1.0, "{}", regular.rarity(novelty, 0.04));
        let mut noisy = Context::new();
        let mut x: u64 = 7;
        for _ in 0..5000 {
            x = mix(x);
            noisy.observe((x % 1000) as f64, 8.0, 10_000.0);
        }
        assert_eq!(noisy.rarity(1.0, 0.04), 0.0);
    }

    #[test]
    fn memory_is_bounded() {
        let mut c = Context::new();
        let mut x: u64 = 1;
        for _ in 0..200_000 {
            x = mix(x);
            c.observe((x % 1000) as f64, 8.0, 1000.0);
        }
        assert_eq!(c.current.len(), WORDS);
        assert_eq!(c.old.len(), WORDS);
    }
}
