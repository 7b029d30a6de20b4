//! Charts drawn on the server as SVG: the values, the detector's expected band, and the anomaly
//! windows. Only numbers go into the markup; the template escapes everything else.

use serde::Serialize;

pub const WIDTH: f64 = 720.0;
pub const HEIGHT: f64 = 200.0;
const PAD: f64 = 6.0;

/// A value with the band the detector expected for it.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub t: i64,
    pub value: f64,
    pub low: f64,
    pub high: f64,
}

/// Ready-to-embed SVG geometry.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Chart {
    pub width: f64,
    pub height: f64,
    /// `points` attribute of the value polyline.
    pub line: String,
    /// `points` attribute of the expected-band polygon.
    pub band: String,
    /// (x, width) of each anomaly window.
    pub windows: Vec<(f64, f64)>,
    pub min: f64,
    pub max: f64,
    pub empty: bool,
}

/// Scales samples into the chart; `windows` are (start, end) in ms.
pub fn draw(samples: &[Sample], windows: &[(i64, i64)]) -> Chart {
    if samples.len() < 2 {
        return Chart { width: WIDTH, height: HEIGHT, empty: true, ..Chart::default() };
    }
    let (t0, t1) = (samples[0].t, samples[samples.len() - 1].t.max(samples[0].t + 1));
    let finite = |v: f64| if v.is_finite() { Some(v) } else { None };
    let lo = samples.iter().filter_map(|s| finite(s.value.min(s.low))).fold(f64::INFINITY, f64::min);
    let hi = samples.iter().filter_map(|s| finite(s.value.max(s.high))).fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if (hi - lo).abs() < f64::EPSILON { (lo - 1.0, hi + 1.0) } else { (lo, hi) };
    let x = |t: i64| PAD + (t - t0) as f64 / (t1 - t0) as f64 * (WIDTH - 2.0 * PAD);
    let y = |v: f64| {
        let v = if v.is_finite() { v.clamp(lo, hi) } else { lo };
        HEIGHT - PAD - (v - lo) / (hi - lo) * (HEIGHT - 2.0 * PAD)
    };
    let line = samples.iter().map(|s| format!("{:.1},{:.1}", x(s.t), y(s.value))).collect::<Vec<_>>().join(" ");
    let upper = samples.iter().map(|s| format!("{:.1},{:.1}", x(s.t), y(s.high)));
    let lower = samples.iter().rev().map(|s| format!("{:.1},{:.1}", x(s.t), y(s.low)));
    let band = upper.chain(lower).collect::<Vec<_>>().join(" ");
    let windows = windows
        .iter()
        .filter(|(s, e)| *e >= t0 && *s <= t1)
        .map(|(s, e)| {
            let (a, b) = (x((*s).max(t0)), x((*e).min(t1)));
            (a, (b - a).max(2.0))
        })
        .collect();
    Chart { width: WIDTH, height: HEIGHT, line, band, windows, min: lo, max: hi, empty: false }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_within_the_box_and_survives_odd_data() {
        let samples: Vec<Sample> = (0..10)
            .map(|i| Sample { t: i * 1000, value: i as f64, low: i as f64 - 1.0, high: i as f64 + 1.0 })
            .collect();
        let c = draw(&samples, &[(3000, 4000)]);
        assert!(!c.empty && c.windows.len() == 1);
        for pair in c.line.split(' ') {
            let (x, y) = pair.split_once(',').unwrap();
            let (x, y): (f64, f64) = (x.parse().unwrap(), y.parse().unwrap());
            assert!((0.0..=WIDTH).contains(&x) && (0.0..=HEIGHT).contains(&y));
        }
        let flat: Vec<Sample> = (0..3).map(|i| Sample { t: i, value: 5.0, low: 5.0, high: 5.0 }).collect();
        assert!(!draw(&flat, &[]).line.contains("NaN"));
        let odd =
            [Sample { t: 0, value: f64::NAN, low: 0.0, high: 1.0 }, Sample { t: 1, value: 1.0, low: 0.0, high: 1.0 }];
        assert!(!draw(&odd, &[]).line.contains("NaN"));
        assert!(draw(&samples[..1], &[]).empty);
    }
}
