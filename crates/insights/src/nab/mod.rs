//! The Numenta Anomaly Benchmark (NAB), implemented by us: scoring rules and a corpus runner.
//!
//! Rules (Lavin & Ahmad 2015, NAB's current scorer): the first `min(floor(0.15 n), 750)` rows of
//! a file are probation and not scored; a detection inside a label window earns
//! `tpW * sigma(pos) / sigma(-1)` (only the earliest detection of a window counts), a missed
//! window costs `fnW`, a detection outside every window costs `fpW`, discounted by the scaled
//! sigmoid of its distance to the previous window; one threshold per profile for the whole
//! corpus, chosen to maximise the summed raw score; scores are normalised to null = 0 and
//! perfect = 100.

mod io;
mod score;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;

use crate::detector::{Detector, DetectorParams};

pub use io::{parse_timestamp, read_series, read_windows, window_rows, Series, Windows};
pub use score::{
    probation_rows, scaled_sigmoid, score_corpus, score_file, FileCounts, Profile, ProfileScore, ScoredFile, PROFILES,
};

/// Errors of the NAB runner.
#[derive(Debug, thiserror::Error)]
pub enum NabError {
    /// A file or folder could not be read or written.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A data or label file is malformed.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number (0 when unknown).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A data file has no entry in the label windows file.
    #[error("no label windows for {0} in the windows file")]
    MissingLabels(String),
    /// The data folder holds no CSV file.
    #[error("no CSV files under {0}")]
    NoData(PathBuf),
}

/// Outcome of a corpus run.
#[derive(Debug, Clone, Serialize)]
pub struct NabReport {
    /// One entry per profile: standard, reward_low_FP_rate, reward_low_FN_rate.
    pub profiles: Vec<ProfileScore>,
    /// Number of files run.
    pub files: usize,
    /// Number of rows fed to detectors.
    pub points: usize,
    /// Wall-clock seconds spent in the detectors (summed over threads).
    pub detector_secs: f64,
    /// Wall-clock seconds of the whole run (reading, detecting, writing, scoring).
    pub elapsed_secs: f64,
}

impl NabReport {
    /// Detector throughput, points per second per core.
    pub fn points_per_sec(&self) -> f64 {
        self.points as f64 / self.detector_secs.max(1e-9)
    }

    /// The normalised score of a profile by name (`standard`, ...).
    pub fn normalized(&self, profile: &str) -> Option<f64> {
        self.profiles.iter().find(|p| p.profile == profile).map(|p| p.normalized)
    }
}

impl fmt::Display for NabReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "NAB: {} files, {} points, {:.2}s total, {:.0} points/s per core",
            self.files,
            self.points,
            self.elapsed_secs,
            self.points_per_sec()
        )?;
        for p in &self.profiles {
            let (tp, fn_, fp) = p.files.iter().fold((0, 0, 0), |(a, b, c), x| (a + x.tp, b + x.fn_, c + x.fp));
            writeln!(
                f,
                "  {:<20} {:6.2}  (threshold {:.6}, raw {:8.3}, tp {tp}, fn {fn_}, fp {fp})",
                p.profile, p.normalized, p.threshold, p.raw
            )?;
        }
        if let Some(standard) = self.profiles.first() {
            writeln!(f, "  per file (standard profile):")?;
            for x in &standard.files {
                writeln!(
                    f,
                    "    {:<62} rows {:>6} win {:>2} tp {:>2} fn {:>2} fp {:>3} raw {:7.3}",
                    x.name, x.rows, x.windows, x.tp, x.fn_, x.fp, x.raw
                )?;
            }
        }
        Ok(())
    }
}

/// Runs a fresh [`Detector`] strictly online over every CSV under `data_dir` (categories are
/// subfolders), writes `results_dir/frontdesk/<category>/frontdesk_<name>.csv` and scores the
/// corpus against `windows_file` (NAB's `combined_windows.json`).
pub fn run_corpus(
    data_dir: &Path,
    windows_file: &Path,
    results_dir: &Path,
    params: &DetectorParams,
) -> Result<NabReport, NabError> {
    let started = Instant::now();
    let windows = read_windows(windows_file)?;
    let files = io::list_csv(data_dir)?;
    if files.is_empty() {
        return Err(NabError::NoData(data_dir.to_path_buf()));
    }
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<FileOutcome>>> = Mutex::new((0..files.len()).map(|_| None).collect());
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, files.len());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some((category, name, path)) = files.get(k) else {
                    break;
                };
                let outcome = run_file(category, name, path, &windows, results_dir, params);
                if let Ok(mut slots) = results.lock() {
                    slots[k] = Some(outcome);
                }
            });
        }
    });
    let mut scored = Vec::with_capacity(files.len());
    let (mut points, mut detector_secs) = (0, 0.0);
    let slots = results.into_inner().unwrap_or_else(|e| e.into_inner());
    for slot in slots.into_iter().flatten() {
        let (file, n, secs) = slot?;
        points += n;
        detector_secs += secs;
        scored.push(file);
    }
    let profiles = score_corpus(&scored);
    Ok(NabReport {
        profiles,
        files: scored.len(),
        points,
        detector_secs,
        elapsed_secs: started.elapsed().as_secs_f64(),
    })
}

/// A run file: the scored file, its number of rows and the seconds spent in the detector.
type FileOutcome = Result<(ScoredFile, usize, f64), NabError>;

/// Runs one file: detector, result file, windows as rows.
fn run_file(
    category: &str,
    name: &str,
    path: &Path,
    windows: &Windows,
    results_dir: &Path,
    params: &DetectorParams,
) -> FileOutcome {
    let key = if category.is_empty() { name.to_string() } else { format!("{category}/{name}") };
    let label_windows = windows.get(&key).ok_or_else(|| NabError::MissingLabels(key.clone()))?;
    let series = read_series(path)?;
    let started = Instant::now();
    let mut detector = Detector::new(params.clone());
    let scores: Vec<f64> =
        series.timestamps.iter().zip(&series.values).map(|(&t, &v)| detector.observe(t, v).score).collect();
    let secs = started.elapsed().as_secs_f64();
    let rows = window_rows(&series.timestamps, label_windows);
    let out = results_dir.join("frontdesk").join(category).join(format!("frontdesk_{name}"));
    io::write_results(&out, &series, &scores, &rows)?;
    let n = scores.len();
    Ok((ScoredFile { name: key, scores, windows: rows }, n, secs))
}
