//! Property-style tests of the streaming detector on synthetic series.

use frontdesk_insights::{Detector, DetectorParams, Observation};

/// splitmix64: a tiny deterministic PRNG for test data.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f64 {
        let u = self.uniform().max(1e-300);
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * self.uniform()).cos()
    }
}

const STEP: i64 = 300;
const T0: i64 = 1_396_310_400; // 2014-04-01

fn run(points: &[(i64, f64)]) -> Vec<Observation> {
    let mut d = Detector::new(DetectorParams::default());
    points.iter().map(|&(t, v)| d.observe(t, v)).collect()
}

fn assert_sane(obs: &[Observation]) {
    for (i, o) in obs.iter().enumerate() {
        assert!(o.score.is_finite() && (0.0..=1.0).contains(&o.score), "row {i}: score {}", o.score);
        assert!(o.expected.is_finite() && o.expected_low.is_finite() && o.expected_high.is_finite());
        assert!(o.expected_low <= o.expected_high);
    }
}

/// Daily seasonal series (5-minute steps, 20 days) with noise.
fn seasonal(seed: u64) -> Vec<(i64, f64)> {
    let mut rng = Rng(seed);
    (0..5760)
        .map(|i| {
            let t = T0 + i * STEP;
            let phase = (t % 86_400) as f64 / 86_400.0 * std::f64::consts::TAU;
            (t, 100.0 + 30.0 * phase.sin() + 2.0 * rng.normal())
        })
        .collect()
}

/// 99th percentile of scores outside `exclude` (after warm-up).
fn p99(obs: &[Observation], exclude: &[std::ops::Range<usize>]) -> f64 {
    let mut s: Vec<f64> = obs
        .iter()
        .enumerate()
        .filter(|(i, _)| *i > 600 && !exclude.iter().any(|r| r.contains(i)))
        .map(|(_, o)| o.score)
        .collect();
    s.sort_by(f64::total_cmp);
    s[s.len() * 99 / 100]
}

fn max_in(obs: &[Observation], r: std::ops::Range<usize>) -> f64 {
    obs[r].iter().map(|o| o.score).fold(0.0, f64::max)
}

#[test]
fn injected_spikes_dips_and_shifts_score_higher_than_normal_points() {
    for seed in 1..=5 {
        let mut series = seasonal(seed);
        series[2000].1 += 40.0; // spike
        series[3000].1 -= 40.0; // dip
        for p in series.iter_mut().skip(4500) {
            p.1 += 40.0; // level shift
        }
        let obs = run(&series);
        assert_sane(&obs);
        let normal = p99(&obs, &[1990..2300, 2990..3300, 4490..4900]);
        for (name, r) in [("spike", 2000..2003), ("dip", 3000..3003), ("shift", 4500..4520)] {
            let m = max_in(&obs, r);
            assert!(m > normal && m > 0.5, "seed {seed} {name}: {m} vs normal p99 {normal}");
        }
        // The shift becomes the new normal: no alarm a few days later.
        assert!(max_in(&obs, 5400..5760) < 0.5, "seed {seed}: still alarming after the shift");
    }
}

#[test]
fn gaps_and_irregular_timestamps_are_handled() {
    let mut rng = Rng(7);
    let mut t = T0;
    let mut points = Vec::new();
    for i in 0..5000 {
        t += if i % 700 == 0 { 86_400 } else { 60 + (rng.uniform() * 600.0) as i64 };
        points.push((t, 50.0 + 5.0 * rng.normal()));
    }
    let obs = run(&points);
    assert_sane(&obs);
}

#[test]
fn constant_series_never_alarms() {
    let points: Vec<(i64, f64)> = (0..3000).map(|i| (T0 + i * STEP, 42.0)).collect();
    let obs = run(&points);
    assert_sane(&obs);
    assert!(obs.iter().all(|o| o.score == 0.0));
    assert_eq!(obs[2999].expected, 42.0);
}

#[test]
fn counts_near_zero_are_handled() {
    let mut rng = Rng(11);
    let points: Vec<(i64, f64)> =
        (0..4000).map(|i| (T0 + i * STEP, if rng.uniform() < 0.05 { 1.0 } else { 0.0 })).collect();
    let obs = run(&points);
    assert_sane(&obs);
}

#[test]
fn huge_values_stay_finite() {
    let mut rng = Rng(3);
    let points: Vec<(i64, f64)> = (0..3000)
        .map(|i| {
            let v = match i % 500 {
                0 => f64::MAX,
                250 => -f64::MAX,
                _ => 1e200 * (1.0 + rng.normal()),
            };
            (T0 + i * STEP, v)
        })
        .collect();
    let obs = run(&points);
    assert_sane(&obs);
}

#[test]
fn non_finite_and_out_of_order_inputs_are_ignored() {
    let mut d = Detector::new(DetectorParams::default());
    let mut rng = Rng(5);
    for i in 0..1000 {
        let t = T0 + i * STEP;
        let o = d.observe(t, 10.0 + rng.normal());
        assert!(o.score.is_finite());
        if i % 100 == 50 {
            for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                let o = d.observe(t, bad);
                assert_eq!(o.score, 0.0);
                assert!(o.expected.is_finite());
            }
            assert_eq!(d.observe(t - 10 * STEP, 1e9).score, 0.0);
        }
    }
}

#[test]
fn state_round_trips_and_is_small() {
    let series = seasonal(9);
    let mut a = Detector::new(DetectorParams::default());
    for &(t, v) in &series[..3000] {
        a.observe(t, v);
    }
    let json = serde_json::to_string(&a).expect("serialise");
    assert!(json.len() < 8 * 1024, "state is {} bytes", json.len());
    let mut b: Detector = serde_json::from_str(&json).expect("deserialise");
    for &(t, v) in &series[3000..] {
        let (x, y) = (a.observe(t, v), b.observe(t, v));
        assert!((x.score - y.score).abs() < 1e-6, "{x:?} vs {y:?}");
    }
}

#[test]
fn random_walks_with_outliers_never_break() {
    for seed in 20..30 {
        let mut rng = Rng(seed);
        let mut v = 0.0;
        let points: Vec<(i64, f64)> = (0..3000)
            .map(|i| {
                v += rng.normal() * 10f64.powi((seed % 7) as i32 - 3);
                let x = if rng.uniform() < 0.01 { v * 1e6 } else { v };
                (T0 + i * STEP, x)
            })
            .collect();
        assert_sane(&run(&points));
    }
}

#[test]
fn a_value_beyond_everything_seen_scores_1() {
    let mut series = seasonal(13);
    series[3000].1 = 200.0; // the range so far is about 66..134
    let obs = run(&series);
    assert_sane(&obs);
    assert_eq!(obs[3000].score, 1.0);
}

#[test]
fn a_recurring_burst_stops_alarming() {
    // Flat noise with the same short burst every 500 points: news at first, routine later.
    let mut rng = Rng(17);
    let points: Vec<(i64, f64)> = (0..8000)
        .map(|i| {
            let burst = if i % 500 < 3 { 30.0 } else { 0.0 };
            (T0 + i * STEP, 50.0 + rng.normal() + burst)
        })
        .collect();
    let obs = run(&points);
    assert_sane(&obs);
    let late = max_in(&obs, 6000..8000);
    assert!(late < 0.5, "recurring burst still scores {late}");
}
