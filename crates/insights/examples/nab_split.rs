//! Held-out check of the NAB scores: `cargo run --release --example nab_split [NAB_ROOT]`.
//!
//! Runs the detector strictly online over every file (a fresh model per file), then:
//! - scores all files with each profile's corpus-wide threshold (as `nab` does);
//! - splits the files into two fixed halves (every other file in sorted order, so each half
//!   holds files of every category), chooses each profile's threshold on one half and scores
//!   the other half with it, both ways, normalised on the scored half;
//! - repeats the standard-profile held-out check on 200 fixed random splits (mean and spread).
//!
//! Experiments only: `NAB_PARAMS='{"hold_margin": 0.3}'` overrides parameters, `NAB_FILES=1`
//! prints per-file counts, `NAB_DUMP=1` writes each file's scores and evidence (one line per
//! row: score, point, sustained and context surprise, record 0/1, raw score) under the temp dir
//! (`nab-dump/`), `NAB_HELD=path` writes the 200 held-out scores (for a paired comparison of
//! two variants on the same splits).
use std::path::PathBuf;
use std::time::Instant;

use frontdesk_insights::nab::{
    read_series, read_windows, score_corpus, score_file, window_rows, Profile, ScoredFile, PROFILES,
};
use frontdesk_insights::{Detector, DetectorParams};

fn main() {
    let root = std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/work/shared/data/nab"));
    let params = match params() {
        Ok(p) => p,
        Err(e) => fail(&format!("bad NAB_PARAMS: {e}")),
    };
    let (scored, points, secs) = match run(&root, &params) {
        Ok(r) => r,
        Err(e) => fail(&e),
    };

    let full = score_corpus(&scored);
    let standard = &full[0];
    let (tp, fn_, fp) = standard.files.iter().fold((0, 0, 0), |(a, b, c), x| (a + x.tp, b + x.fn_, c + x.fp));
    if std::env::var("NAB_FILES").is_ok() {
        for x in &standard.files {
            println!("  {:<58} tp {:>2} fn {:>2} fp {:>3} raw {:7.3}", x.name, x.tp, x.fn_, x.fp, x.raw);
        }
    }
    let others: Vec<String> =
        full[1..].iter().map(|p| format!("{} {:.2}@{:.4}", p.profile, p.normalized, p.threshold)).collect();

    // Fixed halves: every other file in sorted order.
    let (a, b): (Vec<usize>, Vec<usize>) = (0..scored.len()).partition(|i| i % 2 == 0);
    let halves: Vec<String> = PROFILES
        .iter()
        .enumerate()
        .map(|(k, profile)| {
            let ab = held_out(&scored, &a, &b, k, profile);
            let ba = held_out(&scored, &b, &a, k, profile);
            format!("{} A->B {ab:.2} B->A {ba:.2}", profile.name)
        })
        .collect();

    // 200 fixed random splits, standard profile.
    let mut state: u64 = 12345;
    let mut held = Vec::with_capacity(400);
    for _ in 0..200 {
        let mut idx: Vec<usize> = (0..scored.len()).collect();
        for i in (1..idx.len()).rev() {
            idx.swap(i, (splitmix(&mut state) % (i as u64 + 1)) as usize);
        }
        let (x, y) = idx.split_at(idx.len() / 2);
        held.push(held_out(&scored, x, y, 0, &PROFILES[0]));
        held.push(held_out(&scored, y, x, 0, &PROFILES[0]));
    }
    if let Ok(path) = std::env::var("NAB_HELD") {
        let text: String = held.iter().map(|h| format!("{h}\n")).collect();
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("cannot write {path}: {e}");
        }
    }
    let mean = held.iter().sum::<f64>() / held.len() as f64;
    let sd = (held.iter().map(|h| (h - mean).powi(2)).sum::<f64>() / held.len() as f64).sqrt();
    let min = held.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "standard {:.2}@{:.4} tp {tp} fn {fn_} fp {fp} | {} | fixed halves: {} | 200 random splits: held-out mean {mean:.2} sd {sd:.2} min {min:.2} | {:.0} pts/s",
        standard.normalized,
        standard.threshold,
        others.join(" "),
        halves.join(", "),
        points as f64 / secs.max(1e-9)
    );
}

fn fail(message: &str) -> ! {
    eprintln!("nab_split: {message}");
    std::process::exit(1);
}

/// Default parameters with the fields of `NAB_PARAMS` (a JSON object) overridden.
fn params() -> Result<DetectorParams, serde_json::Error> {
    let params = DetectorParams::default();
    let Ok(overrides) = std::env::var("NAB_PARAMS") else {
        return Ok(params);
    };
    let mut value = serde_json::to_value(&params)?;
    if let (Some(obj), serde_json::Value::Object(o)) = (value.as_object_mut(), serde_json::from_str(&overrides)?) {
        obj.extend(o);
    }
    serde_json::from_value(value)
}

/// Runs a fresh detector over every file; returns the scored files, the number of points and
/// the seconds spent in the detector.
fn run(root: &std::path::Path, params: &DetectorParams) -> Result<(Vec<ScoredFile>, usize, f64), String> {
    let windows = read_windows(&root.join("labels/combined_windows.json")).map_err(|e| e.to_string())?;
    let mut files = Vec::new();
    let data = root.join("data");
    let categories = std::fs::read_dir(&data).map_err(|e| format!("{}: {e}", data.display()))?;
    for cat in categories.flatten() {
        let entries = std::fs::read_dir(cat.path()).map_err(|e| format!("{}: {e}", cat.path().display()))?;
        for f in entries.flatten() {
            let name = f.file_name().to_string_lossy().to_string();
            if name.ends_with(".csv") {
                files.push((cat.file_name().to_string_lossy().to_string(), name, f.path()));
            }
        }
    }
    files.sort();
    let dump = std::env::var("NAB_DUMP").is_ok().then(|| std::env::temp_dir().join("nab-dump"));
    let (mut points, mut secs) = (0usize, 0.0);
    let mut scored = Vec::with_capacity(files.len());
    for (category, name, path) in &files {
        let key = format!("{category}/{name}");
        let label = windows.get(&key).ok_or_else(|| format!("no label windows for {key}"))?;
        let series = read_series(path).map_err(|e| e.to_string())?;
        let started = Instant::now();
        let mut d = Detector::new(params.clone());
        let mut evidence = Vec::new();
        let scores: Vec<f64> = series
            .timestamps
            .iter()
            .zip(&series.values)
            .map(|(&t, &v)| {
                let score = d.observe(t, v).score;
                if dump.is_some() {
                    evidence.push(d.evidence());
                }
                score
            })
            .collect();
        secs += started.elapsed().as_secs_f64();
        points += scores.len();
        if let Some(dir) = &dump {
            let text: String = scores
                .iter()
                .zip(&evidence)
                .map(|(s, e)| {
                    let record = u8::from(e.record);
                    format!("{s} {:.4} {:.4} {:.4} {record} {:.4}\n", e.point, e.sustained, e.context, e.raw)
                })
                .collect();
            std::fs::create_dir_all(dir)
                .and_then(|()| std::fs::write(dir.join(name), text))
                .map_err(|e| e.to_string())?;
        }
        let rows = window_rows(&series.timestamps, label);
        scored.push(ScoredFile { name: key, scores, windows: rows });
    }
    Ok((scored, points, secs))
}

/// Normalised score of the files `test` with the threshold that profile `k` chooses on `train`.
fn held_out(scored: &[ScoredFile], train: &[usize], test: &[usize], k: usize, profile: &Profile) -> f64 {
    let train_files: Vec<ScoredFile> = train.iter().map(|&i| scored[i].clone()).collect();
    let threshold = score_corpus(&train_files)[k].threshold;
    let (mut raw, mut windows) = (0.0, 0usize);
    for &i in test {
        let c = score_file(&scored[i], profile, threshold);
        raw += c.raw;
        windows += c.windows;
    }
    let null = -profile.fn_ * windows as f64;
    let perfect = profile.tp * windows as f64;
    if perfect > null {
        100.0 * (raw - null) / (perfect - null)
    } else {
        0.0
    }
}

/// splitmix64: a fixed pseudo-random sequence for the random splits.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
