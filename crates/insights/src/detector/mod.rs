//! A strictly online streaming anomaly detector, one per metric.
//!
//! See [`Detector`] for the method and [`DetectorParams`] for the one fixed parameter set.

mod baseline;
mod context;
mod gate;
mod recency;

use serde::{Deserialize, Serialize};

use baseline::Baseline;
use context::Context;
use gate::{Gate, Record};
use recency::Recency;

/// The detector's tuning. [`DetectorParams::default`] is the one parameter set used for every
/// metric in production and for every NAB file; horizons are in sampling steps unless noted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectorParams {
    /// Points observed before any score is emitted (the model only learns). 100 is below NAB's
    /// smallest probation (15 % of 1,127 rows) and enough for levels and scales to settle.
    pub warmup: u32,
    /// Horizon of the local level (EWMA weight `1/h` per step). 3 steps: follows random walks
    /// and daily swings closely, so an isolated spike or dip stands out against it.
    pub fast_horizon: f64,
    /// Damping of the local trend per step (0 = no trend). 0.9 keeps trends short-lived, so a
    /// trend cannot extrapolate far past a gap or a turn.
    pub trend_damping: f64,
    /// Rate at which the local trend learns. 0.05: a trend must persist for tens of steps.
    pub trend_rate: f64,
    /// Horizon of the slow level the seasonal profiles and the sustained stream are measured
    /// against. 1,000 steps (about 3.5 days at 5-minute sampling): longer than a day, short
    /// enough that a level shift becomes the new normal within days instead of alarming forever.
    pub slow_horizon: f64,
    /// Weight of one full visit of a seasonal bin (30 minutes daily, one hour weekly). 0.2:
    /// a profile reflects roughly the last five days (or weeks).
    pub season_rate: f64,
    /// Horizon of each seasonal model's running error used to choose among them. 500 steps.
    pub error_horizon: f64,
    /// Horizon of the residual scales (mean absolute residual). 300 steps: about a day at
    /// 5-minute sampling, so the notion of normal noise follows slow changes of volatility.
    pub scale_horizon: f64,
    /// A residual larger than this many scales is clipped before it updates a scale, so one
    /// anomaly does not inflate the notion of normal noise. 4.
    pub scale_clip: f64,
    /// Quantile of normalised residuals taken as "the usual worst" (surprise 0 below it).
    /// 0.99: one point in a hundred may reach it without surprise.
    pub quantile: f64,
    /// Step of the multiplicative quantile tracker. 0.02: adapts over a few hundred points.
    pub quantile_rate: f64,
    /// Smoothing (EWMA weight) of the sustained-deviation stream. 0.3: three or four points in
    /// a row away from the slow seasonal expectation are needed to build up a sustained score.
    pub sustained_smoothing: f64,
    /// After an alarm, later scores must beat it for this many steps to be reported in full.
    /// 300: about one NAB window width; one incident raises one alarm.
    pub suppression_steps: f64,
    /// Per-step decay of the reference (the usual worst raw score of the metric). 0.9995:
    /// a half-life of about 1,400 steps (5 days at 5-minute sampling).
    pub reference_decay: f64,
    /// Largest rise of the reference per point, so one anomaly barely raises it while a
    /// noisier regime raises it within tens of points. 0.05.
    pub reference_growth: f64,
    /// Factor applied to scores that do not beat the bar (reference or recent alarm). 0:
    /// such repeats are silent.
    pub suppressed_factor: f64,
    /// Horizon of the long-run distribution of the anomaly likelihood.
    #[serde(default)]
    pub likelihood_horizon: f64,
    /// Bins of the context quantiser.
    #[serde(default)]
    pub context_bins: f64,
    /// ew rate.
    #[serde(default)]
    pub trend_rate_b: f64,
    /// range horizon.
    #[serde(default)]
    pub range_horizon: f64,
    /// tail rate.
    #[serde(default)]
    pub tail_rate: f64,
    /// tail prior.
    #[serde(default)]
    pub tail_prior: f64,
    /// tail cap.
    #[serde(default)]
    pub tail_cap: f64,
    /// hold margin.
    #[serde(default)]
    pub hold_margin: f64,
    /// Context combination mode.
    #[serde(default)]
    pub ctx: u32,
    /// Experiment mode.
    #[serde(default)]
    pub mode: u32,
}

impl Default for DetectorParams {
    fn default() -> Self {
        DetectorParams {
            warmup: 100,
            fast_horizon: 3.0,
            trend_damping: 0.9,
            trend_rate: 0.05,
            slow_horizon: 1000.0,
            season_rate: 0.2,
            error_horizon: 500.0,
            scale_horizon: 300.0,
            scale_clip: 4.0,
            quantile: 0.99,
            quantile_rate: 0.02,
            sustained_smoothing: 0.3,
            suppression_steps: 300.0,
            reference_decay: 0.9995,
            reference_growth: 0.05,
            suppressed_factor: 0.0,
            likelihood_horizon: 3000.0,
            mode: 0,
            context_bins: 32.0,
            ctx: 0,
            hold_margin: 0.0,
            tail_rate: 0.0,
            tail_prior: 0.5,
            tail_cap: 5.0,
            range_horizon: 0.0,
            trend_rate_b: 0.1,
        }
    }
}

/// What the detector says about one point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// Anomaly score in [0, 1]: flag the point when `score >= threshold` (the tenant's
    /// sensitivity; NAB's best standard-profile threshold is a good default).
    pub score: f64,
    /// Lower edge of the usual range (the expected value minus the usual worst residual).
    pub expected_low: f64,
    /// Upper edge of the usual range.
    pub expected_high: f64,
    /// The expected value (one-step forecast).
    pub expected: f64,
}

/// Running scale and high quantile of one normalised residual stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stream {
    /// EW mean absolute residual.
    scale: f64,
    /// Tracked `quantile` of `|residual| / scale`.
    q: f64,
    /// Points seen by the tracker.
    n: f64,
    /// Mean log-exceedance over the quantile (tail index).
    #[serde(default)]
    beta: f64,
}

impl Stream {
    fn new() -> Self {
        Stream {
            scale: 0.0,
            q: 3.0,
            n: 0.0,
            beta: 0.0,
        }
    }

    /// Normalised size of a residual against the current scale, with a floor for flat series.
    fn z(&self, residual: f64, floor: f64) -> f64 {
        residual.abs() / self.scale.max(floor)
    }

    fn learn_scale(&mut self, residual: f64, floor: f64, p: &DetectorParams, warm: bool) {
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

    /// Surprise in natural-log units: how far `z` exceeds the usual worst (0 below it).
    fn surprise(&mut self, z: f64, p: &DetectorParams, active: bool) -> f64 {
        if !active {
            return 0.0;
        }
        let mut s = (z / self.q.max(1e-6)).ln().max(0.0);
        let up = z > self.q;
        if p.tail_rate > 0.0 {
            let b0 = p.tail_prior;
            let b = if self.beta > 0.0 { self.beta } else { b0 };
            let y = s;
            s = y / b * b0;
            if up {
                let capped = y.min(p.tail_cap * b);
                self.beta = b + p.tail_rate * (capped - b);
            }
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

/// A strictly online anomaly detector for one metric.
///
/// Method: a baseline forecasts each point from the metric's own past (local level, damped
/// trend, and a daily or weekly profile when that predicts clearly better); residuals are
/// normalised by their running mean absolute size. A point residual (against the fast forecast)
/// catches spikes and dips; a smoothed residual against the slow seasonal expectation catches
/// level shifts and missing patterns. Each is compared with its own running 99th percentile, so
/// the surprise means "how far beyond this metric's usual worst". The score `1 - e^-surprise`
/// is reported only if it beats the metric's usual worst score (a slowly decaying maximum that
/// one anomaly barely raises) and, for a while after an alarm, that alarm: one incident, one
/// alarm.
///
/// Memory: a fixed-size state, independent of series length: 48 + 168 seasonal bins of 6 bytes
/// plus about 40 scalars, roughly 1.6 KB in memory (under 8 KB as JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Detector {
    params: DetectorParams,
    seen: u64,
    last_ts: Option<i64>,
    /// Typical sampling interval in seconds.
    step: f64,
    baseline: Baseline,
    point: Stream,
    sustained: Stream,
    sustained_z: f64,
    gate: Gate,
    gate_context: Gate,
    rec_a: Recency,
    rec_b: Recency,
    lo: f64,
    hi: f64,
    rec_mean: Record,
    rec_diff: Record,
    ew: f64,
    prev_x: f64,
    context: Context,
    last: Observation,
}

impl Detector {
    /// A fresh detector.
    pub fn new(params: DetectorParams) -> Self {
        Detector {
            params,
            seen: 0,
            last_ts: None,
            step: 0.0,
            baseline: Baseline::new(),
            point: Stream::new(),
            sustained: Stream::new(),
            sustained_z: 0.0,
            gate: Gate::default(),
            gate_context: Gate::default(),
            rec_a: Recency::new(),
            rec_b: Recency::new(),
            lo: f64::INFINITY,
            hi: f64::NEG_INFINITY,
            rec_mean: Record::new(),
            rec_diff: Record::new(),
            ew: 0.0,
            prev_x: 0.0,
            context: Context::new(),
            last: Observation {
                score: 0.0,
                expected_low: 0.0,
                expected_high: 0.0,
                expected: 0.0,
            },
        }
    }

    /// The parameters in use.
    pub fn params(&self) -> &DetectorParams {
        &self.params
    }

    /// Feeds one point (in time order) and returns its score. Non-finite values and points
    /// older than the last one are ignored (score 0, previous expectation).
    pub fn observe(&mut self, timestamp_secs: i64, value: f64) -> Observation {
        let ignored = Observation {
            score: 0.0,
            ..self.last
        };
        if !value.is_finite() || self.last_ts.is_some_and(|t| timestamp_secs < t) {
            return ignored;
        }
        // Huge magnitudes would overflow squared terms; clamp to a range where f64 is safe.
        let x = value.clamp(-1e150, 1e150);
        let dt = self.last_ts.map_or(0.0, |t| (timestamp_secs - t) as f64);
        if dt > 0.0 {
            self.step = if self.step <= 0.0 {
                dt
            } else {
                // Robust to gaps: each interval moves the estimate by at most a factor of 2.
                let clipped = dt.clamp(self.step * 0.5, self.step * 2.0);
                self.step + 0.05 * (clipped - self.step)
            };
        }
        let dt_steps = if self.step > 0.0 { dt / self.step } else { 1.0 };
        self.last_ts = Some(timestamp_secs);
        self.seen += 1;

        let p = &self.params;
        let warm = self.seen > u64::from(p.warmup);
        let floor = 1e-9_f64.max(1e-6 * x.abs());
        let fc = self.baseline.forecast(timestamp_secs, dt_steps);
        let first = self.seen == 1;
        let (r_point, r_slow) = if first {
            (0.0, 0.0)
        } else {
            (x - fc.fast, x - fc.slow)
        };

        let z_point = self.point.z(r_point, floor);
        let z_slow = self.sustained.z(r_slow, floor);
        self.sustained_z += p.sustained_smoothing * (z_slow - self.sustained_z);
        // Scales need a few points before residuals can be judged against them.
        let active = self.seen > 20;
        let s_point = self.point.surprise(z_point, p, active);
        let s_sustained = self.sustained.surprise(self.sustained_z, p, active);
        if !first {
            self.point.learn_scale(r_point, floor, p, warm);
            self.sustained.learn_scale(r_slow, floor, p, warm);
        }
        let scale = self.baseline.scale(timestamp_secs);
        self.baseline
            .update(timestamp_secs, x, self.step.max(1.0), dt_steps, floor, p);

        let surprise = s_point.max(s_sustained);
        let raw = 1.0 - (-surprise).exp();
        let novelty = self.context.observe(x, p.context_bins);
        let steps = dt_steps.clamp(1.0, 1e6);
        let tol = p.likelihood_horizon * (self.hi - self.lo);
        let spatial = if self.seen > 1 && (x > self.hi + tol || x < self.lo - tol) { 1.0 } else { 0.0 };
        let range = (self.hi - self.lo).max(floor);
        let excess = if self.seen > 1 { ((x - self.hi).max(self.lo - x) / range - p.likelihood_horizon).max(0.0) } else { 0.0 };
        if p.range_horizon > 0.0 && self.seen > 1 {
            let c = fc.slow;
            self.hi -= (self.hi - c).max(0.0) / p.range_horizon;
            self.lo += (c - self.lo).max(0.0) / p.range_horizon;
        }
        self.lo = self.lo.min(x);
        self.hi = self.hi.max(x);
        if self.seen == 1 { self.ew = x; self.prev_x = x; }
        self.ew += p.trend_rate_b * (x - self.ew);
        let e_mean = self.rec_mean.observe(self.ew, floor);
        let e_diff = if self.seen > 1 { self.rec_diff.observe((x - self.prev_x).abs(), floor) } else { 0.0 };
        self.prev_x = x;
        let tol = p.likelihood_horizon;
        let on = |e: f64| if warm && e > tol { 1.0 } else { 0.0 };
        let score = match p.ctx {
            30 => self.gate.pass(raw, steps, warm, p).max(on(excess + tol)).max(on(e_mean)),
            31 => self.gate.pass(raw, steps, warm, p).max(on(excess + tol)).max(on(e_diff)),
            32 => self.gate.pass(raw, steps, warm, p).max(on(excess + tol)).max(on(e_diff)).max(on(e_mean)),
            33 => self.gate.pass(raw, steps, warm, p).max(on(excess + tol)).max(0.5 * on(e_mean)),
            34 => self.gate.pass(raw, steps, warm, p).max(on(excess + tol)).max(0.5 * on(e_diff)),
            35 => on(e_mean),
            36 => on(e_diff),
            24 | 25 | 26 | 27 => {
                let sp = if !warm || excess <= 0.0 { 0.0 } else {
                    match p.ctx {
                        24 | 25 => 1.0,
                        26 => 1.0 - (-excess / p.context_bins).exp(),
                        _ => 0.4 + 0.6 * (1.0 - (-excess / p.context_bins).exp()),
                    }
                };
                let a = self.gate.pass(raw, steps, warm, p);
                let b = if p.ctx == 24 { 0.5 * self.gate_context.pass(novelty, steps, warm, p) } else { 0.0 };
                a.max(sp).max(b)
            }
            20 => if warm { spatial } else { 0.0 },
            21 => self.gate.pass(raw, steps, warm, p).max(if warm { spatial } else { 0.0 }),
            22 => self.gate.pass(raw.max(spatial), steps, warm, p),
            23 => self.gate.pass(raw, steps, warm, p).max(if warm { 0.5 * spatial } else { 0.0 }),
            0 => self.gate.pass(raw, steps, warm, p),
            9 => raw,
            10 => novelty,
            11..=19 => {
                let cap: f64 = 10000.0;
                let ev = |age: f64| (1.0 + age).ln() / (1.0 + cap).ln();
                let a = ev(self.rec_a.observe(raw, steps));
                let b = ev(self.rec_b.observe(novelty, steps));
                let v = match p.ctx {
                    11 => a,
                    12 => b,
                    13 => a.max(b),
                    _ => 0.5 * (a + b),
                };
                if warm { v } else { 0.0 }
            }
            1 => self.gate.pass(novelty, steps, warm, p),
            2 => self.gate.pass(raw.max(novelty), steps, warm, p),
            k => {
                let a = self.gate.pass(raw, steps, warm, p);
                let b = self.gate_context.pass(novelty, steps, warm, p);
                match k {
                    3 => a.max(b),
                    4 => 0.5 * (a + b),
                    5 => 1.0 - (1.0 - a) * (1.0 - b),
                    6 => a.max(0.5 * b),
                    _ => (a * b).sqrt(),
                }
            }
        };

        let band = self.point.q * scale.max(floor);
        let expected = if first { x } else { fc.fast };
        let obs = Observation {
            score: if score.is_finite() {
                score.clamp(0.0, 1.0)
            } else {
                0.0
            },
            expected_low: expected - band,
            expected_high: expected + band,
            expected,
        };
        self.last = obs;
        obs
    }
}
