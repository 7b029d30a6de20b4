//! A strictly online streaming anomaly detector, one per metric.
//!
//! See [`Detector`] for the method and [`DetectorParams`] for the one fixed parameter set.
//! Modules: `baseline` (forecast and seasonal profiles), `stream` (residual scale, quantile and
//! tail), `gate` (alarm gate and range records), `context` (value-pattern novelty and how rare it is on the metric).

mod baseline;
mod context;
mod gate;
mod stream;

use serde::{Deserialize, Serialize};

use baseline::Baseline;
use context::Context;
use gate::{Gate, Record};
use stream::Stream;

/// The detector's tuning. [`DetectorParams::default`] is the one parameter set used for every
/// metric in production and for every NAB file; horizons are in sampling steps unless noted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
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
    /// Errors larger than this many scales are clipped before they update a seasonal model's
    /// squared error, which picks the model in use. 16: a sharp daily step the model does not
    /// forecast counts with its full size, an outage of hundreds of scales does not decide.
    pub choice_clip: f64,
    /// Quantile of normalised residuals taken as "the usual worst" (surprise 0 below it).
    /// 0.99: one point in a hundred may reach it without surprise.
    pub quantile: f64,
    /// Rate at which the tail scale (mean log-exceedance beyond the quantile) learns, per
    /// exceedance. 0.01: about a hundred exceedances, i.e. the tail seen over roughly the last
    /// 10,000 points, so a metric's usual spikiness is learned but one incident barely moves it.
    pub tail_rate: f64,
    /// Step of the multiplicative quantile tracker. 0.02: adapts over a few hundred points.
    pub quantile_rate: f64,
    /// Smoothing (EWMA weight) of the sustained-deviation stream. 0.2: about five points in a
    /// row away from the slow seasonal expectation are needed to build up a sustained score, so
    /// a single outlier (the point stream's job) barely moves it. NAB: 0.2-0.25 is a plateau
    /// (standard 70.8-71.4 with `hold_margin` 0.4-0.5); 0.3 scores 70.2, 0.15 scores 70.4.
    pub sustained_smoothing: f64,
    /// After an alarm, later residual scores must beat it for this many steps to be reported.
    /// 300: about one NAB window width; one incident raises one alarm.
    pub suppression_steps: f64,
    /// How much a residual score must beat a recent alarm by, in surprise units (raw score
    /// `1 - e^-surprise`): 0.5, which under the tail model (`surprise = 0.5 ln 1/P`) means
    /// about a third as likely as the alarm. Without it, an incident that keeps growing for a
    /// few points raises an alarm at every point. NAB: 0.4-0.5 score within 0.2 of each other;
    /// 0.3 raises about 10 % more false positives.
    pub hold_margin: f64,
    /// Per-step decay of the reference (the usual worst raw score of the metric). 0.9995:
    /// a half-life of about 1,400 steps (5 days at 5-minute sampling).
    pub reference_decay: f64,
    /// Largest rise of the reference per point, so one anomaly barely raises it while a
    /// noisier regime raises it within tens of points. 0.05.
    pub reference_growth: f64,
    /// Factor applied to scores that do not beat the bar (reference or recent alarm). 0:
    /// such repeats are silent.
    pub suppressed_factor: f64,
    /// A value outside the whole range seen so far by more than this share of the range is a
    /// record and scores 1 (Numenta's "spatial anomaly" rule and tolerance): 0.05.
    pub record_tolerance: f64,
    /// Value levels of the context model (bins over the range seen so far, rounded to a power
    /// of two wide): 8, as in CAD OSE (3 bits), coarse enough that noise does not make every
    /// context new.
    pub context_bins: f64,
    /// Factor applied to a residual score when the point's recent value pattern (its context)
    /// is familiar at every order: 0.75. A large residual that repeats a known pattern is a
    /// recurrence, not news, but still reported when it is large. Milder than CAD OSE-style
    /// suppression because the rarity of new contexts is scored on its own (see
    /// [`DetectorParams::novelty_base`]); with both, NAB is best at 0.75-0.8 and falls off
    /// gently on either side (0.6 and 0.9: about 1 point less), and at 0.75 a burst that recurs
    /// every 500 points still fades below 0.5 within a few weeks.
    pub familiar_factor: f64,
    /// Horizon of the running share of points whose context is new (the metric's novelty
    /// rate): 10,000 steps (about five weeks at 5-minute sampling), so the rate measures how
    /// often this metric produces new patterns in the long run, and one incident barely moves it.
    pub novelty_horizon: f64,
    /// Novelty rate at which a new context stops being surprising: 0.02. A new context on a
    /// metric that produces them at rate `r < 0.02` is scored as a tail event of probability
    /// `r / 0.02` (surprise `0.5 ln(0.02 / r)`, raw score `1 - sqrt(r / 0.02)`, the residual
    /// channels' convention), so a break in a pattern that has repeated for weeks (one point in
    /// a few thousand new) scores about 0.7-0.9, while noisy metrics (a new context every few
    /// points) get nothing from this channel. NAB scores 0.02-0.08 within 1.2 points of each
    /// other; 0.02 has the steadiest split-half result (0.04 scores 1.2 more on all 46 files
    /// but loses up to 14 points on some held-out halves); at 0.01 the channel rarely fires.
    pub novelty_base: f64,
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
            choice_clip: 16.0,
            quantile: 0.99,
            tail_rate: 0.01,
            quantile_rate: 0.02,
            sustained_smoothing: 0.2,
            suppression_steps: 300.0,
            hold_margin: 0.5,
            reference_decay: 0.9995,
            reference_growth: 0.05,
            suppressed_factor: 0.0,
            record_tolerance: 0.05,
            context_bins: 8.0,
            familiar_factor: 0.75,
            novelty_horizon: 10_000.0,
            novelty_base: 0.02,
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

/// A strictly online anomaly detector for one metric.
///
/// Method, three evidence channels combined by taking the strongest:
///
/// 1. Residuals. A baseline forecasts each point from the metric's own past (local level,
///    damped trend, and a daily or weekly profile when that predicts clearly better); residuals
///    are normalised by their running mean absolute size. A point residual (against the fast
///    forecast) catches spikes and dips; a smoothed residual against the slow seasonal
///    expectation catches level shifts and missing patterns. Each is compared with its own
///    running 99th percentile, and the excess beyond it is measured in units of the stream's own
///    tail (peaks over threshold), so "ten times the usual worst" means less on a heavy-tailed
///    metric than on a calm one.
/// 2. Context. Values are quantised to a few levels and every recent sequence of levels (1 to
///    6 points) is remembered in a fixed-size bit set. A point whose contexts are all known has
///    its residual score damped ([`DetectorParams::familiar_factor`]): a big residual that
///    repeats a known pattern (a nightly batch, a routine burst) is a recurrence, not news. A
///    point with a new context is scored by how rare new contexts are on this metric (its
///    long-run novelty rate `r`): surprise `0.5 ln(0.02 / r)`, the same tail-probability scale
///    as the residuals. On a metric that has repeated one pattern for weeks a broken pattern
///    (a spike arriving early, a missing step) is news even when no value is unusual; on a noisy
///    metric, where every few points are new, this channel is silent.
/// 3. Records. A value beyond the whole range seen so far (by more than 5 % of it) scores 1.
///
/// Channels 1 and 2 are combined as surprises (the largest wins); the raw score
/// `1 - e^-surprise` is reported only if it beats the metric's usual worst score (a slowly
/// decaying maximum that one anomaly barely raises) and, for a while after an alarm, that
/// alarm by a margin: one incident, one alarm.
///
/// Memory: a fixed-size state, independent of series length: 48 + 168 seasonal bins of 6 bytes,
/// two context bit sets of 512 bytes and about 50 scalars, roughly 2.7 KB in memory (under
/// 8 KB as JSON).
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
    context: Context,
    range: Record,
    last: Observation,
    /// Per-channel evidence behind the last score (diagnostics only, not stored).
    #[serde(skip)]
    evidence: Evidence,
}

/// The evidence behind the last score, channel by channel: for diagnostics and experiments
/// (the NAB tools dump it), not used by the service.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Evidence {
    /// Surprise of the point residual (0.5 ln 1/P, P its conditional tail probability).
    pub point: f64,
    /// Surprise of the sustained residual.
    pub sustained: f64,
    /// Surprise of a new context (0 when the context is familiar).
    pub context: f64,
    /// Whether the value was a range record (score 1).
    pub record: bool,
    /// Raw score `1 - e^-surprise` of the strongest of the three surprises, before the gate.
    pub raw: f64,
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
            context: Context::new(),
            range: Record::new(),
            last: Observation { score: 0.0, expected_low: 0.0, expected_high: 0.0, expected: 0.0 },
            evidence: Evidence::default(),
        }
    }

    /// The evidence behind the last score, channel by channel.
    pub fn evidence(&self) -> Evidence {
        self.evidence
    }

    /// The parameters in use.
    pub fn params(&self) -> &DetectorParams {
        &self.params
    }

    /// Feeds one point (in time order) and returns its score. Non-finite values and points
    /// older than the last one are ignored (score 0, previous expectation).
    pub fn observe(&mut self, timestamp_secs: i64, value: f64) -> Observation {
        let ignored = Observation { score: 0.0, ..self.last };
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
        let (r_point, r_slow) = if first { (0.0, 0.0) } else { (x - fc.fast, x - fc.slow) };

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
        self.baseline.update(timestamp_secs, x, self.step.max(1.0), dt_steps, floor, p);

        let novelty = self.context.observe(x, p.context_bins, p.novelty_horizon);
        let s_context = if warm { self.context.rarity(novelty, p.novelty_base) } else { 0.0 };
        let surprise = s_point.max(s_sustained).max(s_context);
        let raw = 1.0 - (-surprise).exp();
        let gated = self.gate.pass(raw, dt_steps.clamp(1.0, 1e6), p);
        let residual_score = if novelty > 0.0 { gated } else { gated * p.familiar_factor };
        let record = self.range.observe(x, floor) > p.record_tolerance;
        let score = if !warm {
            0.0
        } else if record {
            1.0
        } else {
            residual_score
        };

        let band = self.point.q * scale.max(floor);
        let expected = if first { x } else { fc.fast };
        let obs = Observation {
            score: if score.is_finite() { score.clamp(0.0, 1.0) } else { 0.0 },
            expected_low: expected - band,
            expected_high: expected + band,
            expected,
        };
        self.evidence = Evidence { point: s_point, sustained: s_sustained, context: s_context, record, raw };
        self.last = obs;
        obs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_explains_the_last_score() {
        let mut d = Detector::new(DetectorParams::default());
        let t0 = 1_396_310_400;
        for i in 0..1000 {
            d.observe(t0 + i * 300, 10.0 + (i % 7) as f64 * 0.1);
            let e = d.evidence();
            assert!(e.point.is_finite() && e.sustained.is_finite() && e.context.is_finite());
            assert!((0.0..=1.0).contains(&e.raw), "{e:?}");
        }
        let o = d.observe(t0 + 1000 * 300, 50.0);
        let e = d.evidence();
        assert!(e.record, "{e:?}");
        assert_eq!(o.score, 1.0);
        assert!(e.point > 1.0, "a jump of hundreds of scales is a surprise: {e:?}");
        // Evidence is diagnostic only: it is not part of the stored state.
        let json = serde_json::to_string(&d).unwrap_or_default();
        assert!(!json.contains("evidence"));
    }
}
