//! Runs the shared NAB corpus end to end (skipped when the data is absent). Use
//! `cargo test -p frontdesk-insights --release -- --nocapture` to see the per-file report.

use std::path::Path;

use frontdesk_insights::{run_corpus, DetectorParams};

#[test]
fn shared_nab_corpus() {
    let root = Path::new("/work/shared/data/nab");
    let (data, windows) = (root.join("data"), root.join("labels/combined_windows.json"));
    if !data.is_dir() || !windows.is_file() {
        println!("NAB corpus not found under {}: skipped", root.display());
        return;
    }
    let results = std::env::temp_dir().join(format!("frontdesk-nab-test-{}", std::process::id()));
    let report = match run_corpus(&data, &windows, &results, &DetectorParams::default()) {
        Ok(report) => report,
        Err(e) => panic!("NAB run failed: {e}"),
    };
    print!("{report}");
    let written = results.join("frontdesk/realKnownCause/frontdesk_nyc_taxi.csv");
    assert!(written.is_file(), "missing {}", written.display());
    let _ = std::fs::remove_dir_all(&results);
    assert_eq!(report.profiles.len(), 3);
    // Regression guard: the current result (71.15) minus 3.
    let standard = report.normalized("standard").unwrap_or_default();
    assert!(standard > 68.1, "standard score fell to {standard}");
}
