//! The baseline: what the metric should be now, learned online from its own history.
//!
//! Three candidate seasonal models share one slow level: no season, a daily profile (48 bins of
//! 30 minutes) and a weekly profile (168 bins of one hour). Each profile bin is an exponentially
//! weighted mean of the deviation from the slow level. Each model keeps a fast level of the
//! de-seasonalised series (local level plus a damped trend) and its running absolute error; the
//! model with the lowest recent error (among those warm enough) is the one used.

use serde::{Deserialize, Serialize};

use super::DetectorParams;

const DAY: i64 = 86_400;
pub(crate) const DAILY_BINS: usize = 48;
pub(crate) const WEEKLY_BINS: usize = 168;

/// A seasonal profile: one EW mean of the deviation from the slow level per bin.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Profile {
    bin_secs: i64,
    period_secs: i64,
    mean: Vec<f32>,
    updates: Vec<u16>,
}

impl Profile {
    fn new(bins: usize, period_secs: i64) -> Self {
        Profile { bin_secs: period_secs / bins as i64, period_secs, mean: vec![0.0; bins], updates: vec![0; bins] }
    }

    fn bin(&self, ts: i64) -> usize {
        // Weekly bins start on a Monday (1970-01-01 was a Thursday).
        let shifted = ts + 3 * DAY;
        (shifted.rem_euclid(self.period_secs) / self.bin_secs) as usize
    }

    fn get(&self, ts: i64) -> f64 {
        let b = self.bin(ts);
        if self.updates[b] == 0 {
            0.0
        } else {
            f64::from(self.mean[b])
        }
    }

    /// `per_visit` is the weight of one full visit of the bin; `step` the sampling interval.
    fn update(&mut self, ts: i64, deviation: f64, per_visit: f64, step: f64) {
        let b = self.bin(ts);
        let points_per_visit = (self.bin_secs as f64 / step.max(1.0)).max(1.0);
        let rate = (per_visit / points_per_visit).max(1.0 / (f64::from(self.updates[b]) + 1.0));
        let m = f64::from(self.mean[b]);
        self.mean[b] = (m + rate.min(1.0) * (deviation - m)) as f32;
        self.updates[b] = self.updates[b].saturating_add(1);
    }
}

/// One seasonal model: a local level with damped trend on top of a profile (or none).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Model {
    level: f64,
    trend: f64,
    /// EW mean absolute one-step error (clipped at `scale_clip` scales): the model's scale.
    mae: f64,
    /// EW mean squared one-step error (clipped at `choice_clip` scales), used to pick the model:
    /// squared, so a model that misses a sharp recurring step by a lot, a few times a day, loses
    /// to one that forecasts it, where mean absolute errors would call them even.
    #[serde(default)]
    mse: f64,
}

/// The baseline state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Baseline {
    started: bool,
    updates: u64,
    first_ts: i64,
    slow_level: f64,
    daily: Profile,
    weekly: Profile,
    models: [Model; 3],
}

/// A forecast for the next point.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Forecast {
    /// One-step forecast of the chosen model (local level + trend + season).
    pub fast: f64,
    /// Seasonal expectation around the slow level (no local adaptation).
    pub slow: f64,
}

impl Baseline {
    pub fn new() -> Self {
        Baseline {
            started: false,
            updates: 0,
            first_ts: 0,
            slow_level: 0.0,
            daily: Profile::new(DAILY_BINS, DAY),
            weekly: Profile::new(WEEKLY_BINS, 7 * DAY),
            models: Default::default(),
        }
    }

    fn season(&self, k: usize, ts: i64) -> f64 {
        match k {
            1 => self.daily.get(ts),
            2 => self.weekly.get(ts),
            _ => 0.0,
        }
    }

    fn warm(&self, ts: i64) -> [bool; 3] {
        let span = ts - self.first_ts;
        [true, span >= 2 * DAY, span >= 14 * DAY]
    }

    fn predict(&self, k: usize, ts: i64, dt_steps: f64) -> f64 {
        let m = &self.models[k];
        m.level + m.trend * dt_steps.clamp(1.0, 10.0) + self.season(k, ts)
    }

    /// Index of the model in use: the lowest recent error among warm models.
    fn chosen(&self, ts: i64) -> usize {
        let warm = self.warm(ts);
        let mut best = 0;
        for (k, &is_warm) in warm.iter().enumerate().skip(1) {
            // A seasonal model must beat the simpler one clearly to be used (by 10 % in error
            // size, so 19 % in squared error).
            if is_warm && self.models[k].mse < 0.81 * self.models[best].mse {
                best = k;
            }
        }
        best
    }

    pub fn forecast(&self, ts: i64, dt_steps: f64) -> Forecast {
        let k = self.chosen(ts);
        Forecast { fast: self.predict(k, ts, dt_steps), slow: self.slow_level + self.season(k, ts) }
    }

    /// Mean absolute error of the model in use.
    pub fn scale(&self, ts: i64) -> f64 {
        self.models[self.chosen(ts)].mae
    }

    pub fn update(&mut self, ts: i64, x: f64, step: f64, dt_steps: f64, floor: f64, p: &DetectorParams) {
        if !self.started {
            self.started = true;
            self.first_ts = ts;
            self.slow_level = x;
            for m in &mut self.models {
                m.level = x;
            }
            return;
        }
        // Levels react per elapsed step, so gaps count as more time.
        let steps = dt_steps.clamp(1.0, 50.0);
        let a_slow = 1.0 - (1.0 - 1.0 / p.slow_horizon).powf(steps);
        let a_fast = 1.0 - (1.0 - 1.0 / p.fast_horizon).powf(steps);
        let a_err = (1.0 / p.error_horizon).max(1.0 / (self.updates as f64 + 1.0));
        self.updates += 1;
        for k in 0..3 {
            let season = self.season(k, ts);
            let predicted = self.predict(k, ts, dt_steps);
            let m = &mut self.models[k];
            // Clipped, so one anomaly does not inflate the notion of normal error.
            let miss = (x - predicted).abs();
            let big = miss.min(p.choice_clip * m.mae.max(floor));
            m.mse += a_err * (big * big - m.mse);
            let err = miss.min(p.scale_clip * m.mae.max(floor));
            m.mae += a_err * (err - m.mae);
            let new_level = m.level + m.trend + a_fast * (x - season - m.level - m.trend);
            m.trend = p.trend_damping * (m.trend + p.trend_rate * ((new_level - m.level) / steps - m.trend));
            m.level = new_level;
        }
        let deviation = x - self.slow_level;
        self.daily.update(ts, deviation, p.season_rate, step);
        self.weekly.update(ts, deviation, p.season_rate, step);
        self.slow_level += a_slow * (x - self.slow_level);
    }
}
