//! Reading NAB data files and label windows, writing NAB result files.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::NabError;

/// One NAB data file: timestamps (seconds since the Unix epoch, UTC) and values, in file order.
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// Timestamps as written in the file (kept verbatim for the result file).
    pub raw_timestamps: Vec<String>,
    /// Timestamps in seconds since 1970-01-01 UTC.
    pub timestamps: Vec<i64>,
    /// Values; unparsable values are an error, `nan`/`inf` are kept (the detector ignores them).
    pub values: Vec<f64>,
}

/// Parses `YYYY-MM-DD HH:MM:SS[.ffffff]` (also with a `T` separator) as UTC seconds.
/// Fractional seconds are ignored. Returns `None` on any malformed input.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s.trim().trim_matches('"');
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b' ' || b[10] == b'T') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> { s.get(from..to)?.parse::<i64>().ok() };
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, se) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Reads a NAB data file (`timestamp,value` with a header line).
pub fn read_series(path: &Path) -> Result<Series, NabError> {
    let text = fs::read_to_string(path).map_err(|source| NabError::Io { path: path.to_path_buf(), source })?;
    let mut series = Series::default();
    for (idx, line) in text.lines().enumerate() {
        let line_no = idx + 1;
        let line = line.trim();
        if line.is_empty() || (idx == 0 && line.starts_with("timestamp")) {
            continue;
        }
        let parse_err = |message: String| NabError::Parse { path: path.to_path_buf(), line: line_no, message };
        let mut parts = line.split(',');
        let ts_text = parts.next().unwrap_or_default();
        let value_text = parts.next().ok_or_else(|| parse_err("expected `timestamp,value`".into()))?;
        let ts = parse_timestamp(ts_text).ok_or_else(|| parse_err(format!("bad timestamp {ts_text:?}")))?;
        let value = value_text
            .trim()
            .trim_matches('"')
            .parse::<f64>()
            .map_err(|e| parse_err(format!("bad value {value_text:?}: {e}")))?;
        series.raw_timestamps.push(ts_text.trim().to_string());
        series.timestamps.push(ts);
        series.values.push(value);
    }
    Ok(series)
}

/// Label windows per file key (`"<category>/<name>.csv"`), as UTC seconds `[start, end]`.
pub type Windows = HashMap<String, Vec<(i64, i64)>>;

/// Reads NAB's `combined_windows.json`.
pub fn read_windows(path: &Path) -> Result<Windows, NabError> {
    let text = fs::read_to_string(path).map_err(|source| NabError::Io { path: path.to_path_buf(), source })?;
    let raw: HashMap<String, Vec<[String; 2]>> = serde_json::from_str(&text).map_err(|e| NabError::Parse {
        path: path.to_path_buf(),
        line: e.line(),
        message: e.to_string(),
    })?;
    let mut out = Windows::with_capacity(raw.len());
    for (key, list) in raw {
        let mut windows = Vec::with_capacity(list.len());
        for [start, end] in list {
            let bad = |s: &str| NabError::Parse {
                path: path.to_path_buf(),
                line: 0,
                message: format!("bad window timestamp {s:?} for {key}"),
            };
            let a = parse_timestamp(&start).ok_or_else(|| bad(&start))?;
            let b = parse_timestamp(&end).ok_or_else(|| bad(&end))?;
            windows.push((a, b));
        }
        windows.sort_unstable();
        out.insert(key, windows);
    }
    Ok(out)
}

/// Maps time windows to inclusive row-index windows `[L, R]` of a file (first row at or after the
/// start, last row at or before the end). Windows holding no row are dropped.
pub fn window_rows(timestamps: &[i64], windows: &[(i64, i64)]) -> Vec<(usize, usize)> {
    windows
        .iter()
        .filter_map(|&(start, end)| {
            let l = timestamps.partition_point(|&t| t < start);
            let r = timestamps.partition_point(|&t| t <= end);
            (r > l).then(|| (l, r - 1))
        })
        .collect()
}

/// Lists every `*.csv` below `dir` as `(category, name, path)`, sorted; the category is the
/// parent folder relative to `dir` (empty for files directly in `dir`).
pub fn list_csv(dir: &Path) -> Result<Vec<(String, String, PathBuf)>, NabError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let io_err = |source| NabError::Io { path: current.clone(), source };
        for entry in fs::read_dir(&current).map_err(io_err)? {
            let entry = entry.map_err(io_err)?;
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "csv") {
                let category = path
                    .parent()
                    .and_then(|p| p.strip_prefix(dir).ok())
                    .map(|p| p.to_string_lossy().replace('\\', "/"))
                    .unwrap_or_default();
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                out.push((category, name, path));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Writes a NAB result file (`timestamp,value,anomaly_score,label`), creating parent folders.
pub fn write_results(path: &Path, series: &Series, scores: &[f64], windows: &[(usize, usize)]) -> Result<(), NabError> {
    let io_err = |source| NabError::Io { path: path.to_path_buf(), source };
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io_err)?;
    }
    let mut text = String::with_capacity(series.values.len() * 48);
    text.push_str("timestamp,value,anomaly_score,label\n");
    let mut label = vec![0u8; scores.len()];
    for &(l, r) in windows {
        for x in label.iter_mut().take(r + 1).skip(l) {
            *x = 1;
        }
    }
    for (i, score) in scores.iter().enumerate() {
        use std::fmt::Write as _;
        let _ = writeln!(text, "{},{},{},{}", series.raw_timestamps[i], series.values[i], score, label[i]);
    }
    let mut file = fs::File::create(path).map_err(io_err)?;
    file.write_all(text.as_bytes()).map_err(io_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_as_utc() {
        assert_eq!(parse_timestamp("1970-01-01 00:00:00"), Some(0));
        assert_eq!(parse_timestamp("2014-04-01 00:00:00"), Some(1_396_310_400));
        assert_eq!(
            parse_timestamp("2014-04-10 07:15:00.000000"),
            Some(1_396_310_400 + 9 * 86_400 + 7 * 3600 + 15 * 60)
        );
        assert_eq!(parse_timestamp("2016-02-29T12:00:00"), Some(1_456_747_200));
        assert_eq!(parse_timestamp("garbage"), None);
        assert_eq!(parse_timestamp("2014-13-01 00:00:00"), None);
    }

    #[test]
    fn windows_map_to_rows() {
        let ts: Vec<i64> = (0..10).map(|i| i * 10).collect();
        assert_eq!(window_rows(&ts, &[(15, 42), (90, 200)]), vec![(2, 4), (9, 9)]);
        assert!(window_rows(&ts, &[(101, 200)]).is_empty());
    }
}
