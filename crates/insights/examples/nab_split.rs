//! Split-half robustness check of the NAB standard score: `cargo run --release --example nab_split`.
//!
//! Runs the detector over the corpus, then for many random halves of the files chooses the
//! threshold on one half and scores the other half with it (normalised on that half). Prints the
//! full-corpus score, the mean and spread of the held-out scores (200 fixed random splits, both
//! directions) and the throughput. Experiments only: `NAB_PARAMS='{"familiar_factor": 0.6}'`
//! overrides parameters, `NAB_FILES=1` prints per-file counts, `NAB_DUMP=1` writes each file's
//! scores under the temp dir (`nab-dump/`), `NAB_HELD=path` writes the held-out scores (for a
//! paired comparison of two variants on the same splits).
use std::path::PathBuf;
use std::time::Instant;

use frontdesk_insights::nab::{read_series, read_windows, score_corpus, score_file, window_rows, ScoredFile};
use frontdesk_insights::{Detector, DetectorParams};

fn main() {
    let root = std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/work/shared/data/nab"));
    let mut params = DetectorParams::default();
    if let Ok(overrides) = std::env::var("NAB_PARAMS") {
        let mut value = serde_json::to_value(&params).expect("params serialise");
        if let (Some(obj), Ok(serde_json::Value::Object(o))) = (value.as_object_mut(), serde_json::from_str(&overrides))
        {
            obj.extend(o);
        }
        params = serde_json::from_value(value).expect("valid NAB_PARAMS");
    }
    let windows = read_windows(&root.join("labels/combined_windows.json")).expect("windows");
    let mut files = Vec::new();
    for cat in std::fs::read_dir(root.join("data")).expect("data").flatten() {
        for f in std::fs::read_dir(cat.path()).expect("category").flatten() {
            let name = f.file_name().to_string_lossy().to_string();
            if name.ends_with(".csv") {
                files.push((cat.file_name().to_string_lossy().to_string(), name, f.path()));
            }
        }
    }
    files.sort();
    let (mut points, mut secs) = (0usize, 0.0);
    let mut scored = Vec::new();
    for (category, name, path) in &files {
        let key = format!("{category}/{name}");
        let series = read_series(path).expect("series");
        let started = Instant::now();
        let mut d = Detector::new(params.clone());
        let scores: Vec<f64> =
            series.timestamps.iter().zip(&series.values).map(|(&t, &v)| d.observe(t, v).score).collect();
        secs += started.elapsed().as_secs_f64();
        points += scores.len();
        let rows = window_rows(&series.timestamps, &windows[&key]);
        if std::env::var("NAB_DUMP").is_ok() {
            let dir = std::env::temp_dir().join("nab-dump");
            let _ = std::fs::create_dir_all(&dir);
            let text: String = scores.iter().map(|s| format!("{s}\n")).collect();
            let _ = std::fs::write(dir.join(name), text);
        }
        scored.push(ScoredFile { name: key, scores, windows: rows });
    }
    let full = score_corpus(&scored);
    let std_full = &full[0];
    let (tp, fn_, fp) = std_full.files.iter().fold((0, 0, 0), |(a, b, c), x| (a + x.tp, b + x.fn_, c + x.fp));
    if std::env::var("NAB_FILES").is_ok() {
        for x in &std_full.files {
            println!("  {:<58} tp {:>2} fn {:>2} fp {:>3} raw {:7.3}", x.name, x.tp, x.fn_, x.fp, x.raw);
        }
    }
    // Random halves (deterministic splitmix64).
    let mut state: u64 = 12345;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let profile = &frontdesk_insights::nab::PROFILES[0];
    let mut held = Vec::new();
    for _ in 0..200 {
        let mut idx: Vec<usize> = (0..scored.len()).collect();
        for i in (1..idx.len()).rev() {
            idx.swap(i, (next() % (i as u64 + 1)) as usize);
        }
        let (a, b) = idx.split_at(idx.len() / 2);
        for (train, test) in [(a, b), (b, a)] {
            let train_files: Vec<ScoredFile> = train.iter().map(|&i| scored[i].clone()).collect();
            let threshold = score_corpus(&train_files)[0].threshold;
            let (mut raw, mut w) = (0.0, 0usize);
            for &i in test {
                let c = score_file(&scored[i], profile, threshold);
                raw += c.raw;
                w += c.windows;
            }
            let null = -profile.fn_ * w as f64;
            held.push(100.0 * (raw - null) / (w as f64 * profile.tp - null));
        }
    }
    if let Ok(path) = std::env::var("NAB_HELD") {
        let text: String = held.iter().map(|h| format!("{h}\n")).collect();
        let _ = std::fs::write(path, text);
    }
    let mean = held.iter().sum::<f64>() / held.len() as f64;
    let sd = (held.iter().map(|h| (h - mean).powi(2)).sum::<f64>() / held.len() as f64).sqrt();
    let others: Vec<String> =
        full[1..].iter().map(|p| format!("{} {:.2}@{:.4}", p.profile, p.normalized, p.threshold)).collect();
    println!(
        "standard {:.2}@{:.4} tp {tp} fn {fn_} fp {fp} | split-half held-out mean {mean:.2} sd {sd:.2} | {} | {:.0} pts/s",
        std_full.normalized,
        std_full.threshold,
        others.join(" "),
        points as f64 / secs
    );
}
