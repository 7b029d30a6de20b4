//! NAB scoring: per-point sweep values, the corpus-wide threshold search and normalisation.

use serde::Serialize;

/// A cost profile: weights of true positives, false positives and false negatives.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Profile {
    /// Profile name as NAB spells it.
    pub name: &'static str,
    /// Weight of a detected window (credit at the window's left edge).
    pub tp: f64,
    /// Weight of a false positive.
    pub fp: f64,
    /// Weight of a missed window.
    pub fn_: f64,
}

/// NAB's three profiles: standard, reward_low_FP, reward_low_FN.
pub const PROFILES: [Profile; 3] = [
    Profile { name: "standard", tp: 1.0, fp: 0.11, fn_: 1.0 },
    Profile { name: "reward_low_FP_rate", tp: 1.0, fp: 0.22, fn_: 1.0 },
    Profile { name: "reward_low_FN_rate", tp: 1.0, fp: 0.11, fn_: 2.0 },
];

/// Detector output for one file, ready to score.
#[derive(Debug, Clone, Default)]
pub struct ScoredFile {
    /// File key, e.g. `realKnownCause/nyc_taxi.csv`.
    pub name: String,
    /// One anomaly score per row.
    pub scores: Vec<f64>,
    /// Label windows as inclusive row indices `[L, R]`, in time order.
    pub windows: Vec<(usize, usize)>,
}

/// Counts and raw score of one file at one threshold.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FileCounts {
    /// File key.
    pub name: String,
    /// Number of rows.
    pub rows: usize,
    /// Number of label windows.
    pub windows: usize,
    /// Windows with at least one detection.
    pub tp: usize,
    /// Windows without detection.
    pub fn_: usize,
    /// Detections outside every window (after probation).
    pub fp: usize,
    /// Raw (unnormalised) score of the file.
    pub raw: f64,
}

/// Result of one profile over a corpus.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProfileScore {
    /// Profile name.
    pub profile: String,
    /// The corpus-wide threshold maximising the summed raw score (`score >= threshold` detects).
    pub threshold: f64,
    /// Summed raw score at that threshold.
    pub raw: f64,
    /// `100 * (raw - null) / (perfect - null)`.
    pub normalized: f64,
    /// Per-file counts at that threshold.
    pub files: Vec<FileCounts>,
}

/// NAB's scaled sigmoid: `2 / (1 + e^(5x)) - 1`, and `-1` beyond `x > 3`.
pub fn scaled_sigmoid(x: f64) -> f64 {
    if x > 3.0 {
        -1.0
    } else {
        2.0 / (1.0 + (5.0 * x).exp()) - 1.0
    }
}

/// Number of leading rows NAB does not score: `min(floor(0.15 n), 750)`.
pub fn probation_rows(n: usize) -> usize {
    (n * 15 / 100).min(750)
}

/// What a detection at a row would be worth, before profile weights.
#[derive(Debug, Clone, Copy)]
enum Slot {
    /// Inside window `w`: credit `sigma(pos) / sigma(-1)` (times tpW).
    Window(usize, f64),
    /// Outside every window: cost factor in [-1, 0] (times fpW).
    Outside(f64),
}

/// Sweep values of every scored (post-probation) row of a file: `(row, slot)`.
fn slots(n: usize, windows: &[(usize, usize)]) -> Vec<(usize, Slot)> {
    let max_tp = scaled_sigmoid(-1.0);
    let start = probation_rows(n);
    let mut out = Vec::with_capacity(n.saturating_sub(start));
    let mut next = 0; // next window not yet ended
    let mut prev: Option<(usize, usize)> = None; // most recent ended window
    for i in 0..n {
        while next < windows.len() && windows[next].1 < i {
            prev = Some(windows[next]);
            next += 1;
        }
        let slot = match windows.get(next) {
            Some(&(l, r)) if l <= i => {
                let width = (r - l + 1) as f64;
                let pos = -((r - i + 1) as f64) / width;
                Slot::Window(next, scaled_sigmoid(pos) / max_tp)
            }
            _ => match prev {
                None => Slot::Outside(-1.0),
                Some((l, r)) => {
                    let denom = (r - l) as f64; // W_prev - 1
                    if denom <= 0.0 {
                        Slot::Outside(-1.0)
                    } else {
                        Slot::Outside(scaled_sigmoid((i - r) as f64 / denom))
                    }
                }
            },
        };
        if i >= start {
            out.push((i, slot));
        }
    }
    out
}

/// Scores one file at a fixed threshold.
pub fn score_file(file: &ScoredFile, profile: &Profile, threshold: f64) -> FileCounts {
    let mut best: Vec<Option<f64>> = vec![None; file.windows.len()];
    let mut counts = FileCounts {
        name: file.name.clone(),
        rows: file.scores.len(),
        windows: file.windows.len(),
        ..FileCounts::default()
    };
    let mut fp_sum = 0.0;
    for (i, slot) in slots(file.scores.len(), &file.windows) {
        let s = file.scores[i];
        // NaN scores never detect.
        if s.partial_cmp(&threshold).is_none_or(|o| o.is_lt()) {
            continue;
        }
        match slot {
            Slot::Window(w, credit) => {
                let v = profile.tp * credit;
                best[w] = Some(best[w].map_or(v, |b: f64| b.max(v)));
            }
            Slot::Outside(cost) => {
                counts.fp += 1;
                fp_sum += profile.fp * cost;
            }
        }
    }
    counts.tp = best.iter().filter(|b| b.is_some()).count();
    counts.fn_ = best.len() - counts.tp;
    counts.raw = fp_sum + best.iter().map(|b| b.unwrap_or(-profile.fn_)).sum::<f64>();
    counts
}

/// Scores detector outputs over a corpus for each of NAB's three profiles: one threshold per
/// profile for the whole corpus, chosen to maximise the summed raw score, then normalised so
/// that the null detector scores 0 and the perfect detector 100.
pub fn score_corpus(files: &[ScoredFile]) -> Vec<ProfileScore> {
    // Every scored row as (score, file, slot), highest score first.
    let mut total_windows = 0;
    let mut points: Vec<(f64, Slot)> = Vec::new();
    for file in files {
        for (i, slot) in slots(file.scores.len(), &file.windows) {
            let s = file.scores[i];
            if s.is_finite() {
                let slot = match slot {
                    Slot::Window(w, c) => Slot::Window(total_windows + w, c),
                    other => other,
                };
                points.push((s, slot));
            }
        }
        total_windows += file.windows.len();
    }
    points.sort_by(|a, b| b.0.total_cmp(&a.0));

    PROFILES
        .iter()
        .map(|profile| {
            let null = -profile.fn_ * total_windows as f64;
            let perfect = profile.tp * total_windows as f64;
            let mut best_window: Vec<Option<f64>> = vec![None; total_windows];
            let mut total = null;
            let (mut best_total, mut best_threshold) = (null, f64::INFINITY);
            let mut k = 0;
            while k < points.len() {
                let threshold = points[k].0;
                while k < points.len() && points[k].0 == threshold {
                    match points[k].1 {
                        Slot::Window(w, credit) => {
                            let v = profile.tp * credit;
                            match best_window[w] {
                                None => {
                                    total += profile.fn_ + v;
                                    best_window[w] = Some(v);
                                }
                                Some(b) if v > b => {
                                    total += v - b;
                                    best_window[w] = Some(v);
                                }
                                Some(_) => {}
                            }
                        }
                        Slot::Outside(cost) => total += profile.fp * cost,
                    }
                    k += 1;
                }
                if total > best_total + 1e-12 {
                    best_total = total;
                    best_threshold = threshold;
                }
            }
            let per_file: Vec<FileCounts> = files.iter().map(|f| score_file(f, profile, best_threshold)).collect();
            let raw: f64 = per_file.iter().map(|f| f.raw).sum();
            let normalized = if perfect > null { 100.0 * (raw - null) / (perfect - null) } else { 0.0 };
            ProfileScore {
                profile: profile.name.to_string(),
                threshold: best_threshold,
                raw,
                normalized,
                files: per_file,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// splitmix64: deterministic test data.
    fn next(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A random corpus: files of 300-2,000 rows with 0-3 windows after probation and sparse
    /// scores on a coarse grid, so ties between rows are common.
    fn random_corpus(seed: u64) -> Vec<ScoredFile> {
        let mut s = seed;
        (0..8)
            .map(|f| {
                let n = 300 + (next(&mut s) % 1700) as usize;
                let mut windows = Vec::new();
                let mut at = probation_rows(n) + (next(&mut s) % 50) as usize;
                for _ in 0..next(&mut s) % 4 {
                    let width = 5 + (next(&mut s) % (n as u64 / 10)) as usize;
                    if at + width >= n {
                        break;
                    }
                    windows.push((at, at + width - 1));
                    at += width + (next(&mut s) % (n as u64 / 4)) as usize;
                }
                // One row in 20 gets a score from {0, 0.05, ..., 1}; the others score 0.
                let scores = (0..n)
                    .map(|_| if next(&mut s) < u64::MAX / 20 { (next(&mut s) % 21) as f64 / 20.0 } else { 0.0 })
                    .collect();
                ScoredFile { name: format!("f{f}.csv"), scores, windows }
            })
            .collect()
    }

    /// The corpus-wide sweep finds the same optimum as scoring every candidate threshold
    /// file by file (NAB's `calcScoreByThreshold` against its `scoreDataSet`), and breaks ties
    /// towards the higher threshold as NAB's stable sort does.
    #[test]
    fn the_sweep_finds_the_best_threshold_of_a_brute_force_search() {
        for seed in 1..=25 {
            let files = random_corpus(seed);
            let mut candidates: Vec<f64> = files.iter().flat_map(|f| f.scores.iter().copied()).collect();
            candidates.push(f64::INFINITY);
            candidates.sort_by(|a, b| b.total_cmp(a));
            candidates.dedup();
            for (profile, result) in PROFILES.iter().zip(score_corpus(&files)) {
                let (mut best, mut best_t) = (f64::NEG_INFINITY, f64::INFINITY);
                for &t in &candidates {
                    let total: f64 = files.iter().map(|f| score_file(f, profile, t).raw).sum();
                    if total > best + 1e-9 {
                        (best, best_t) = (total, t);
                    }
                }
                assert!((result.raw - best).abs() < 1e-9, "seed {seed} {}: {} vs {best}", profile.name, result.raw);
                assert_eq!(result.threshold, best_t, "seed {seed} {}", profile.name);
            }
        }
    }
}
