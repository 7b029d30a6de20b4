//! Runs the NAB corpus and prints the scores: `cargo run --release --example nab [DATA_ROOT]`.
use std::path::PathBuf;

use frontdesk_insights::nab::run_corpus;
use frontdesk_insights::DetectorParams;

fn main() {
    let root = std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/work/shared/data/nab"));
    let results = std::env::temp_dir().join("frontdesk-nab-results");
    // NAB_PARAMS='{"warmup": 50}' overrides fields of the default parameters (experiments only).
    let mut params = DetectorParams::default();
    if let Ok(overrides) = std::env::var("NAB_PARAMS") {
        let mut value = serde_json::to_value(&params).expect("params serialise");
        if let (Some(obj), Ok(serde_json::Value::Object(o))) = (value.as_object_mut(), serde_json::from_str(&overrides))
        {
            obj.extend(o);
        }
        params = serde_json::from_value(value).expect("valid NAB_PARAMS");
    }
    match run_corpus(&root.join("data"), &root.join("labels/combined_windows.json"), &results, &params) {
        Ok(report) if std::env::var("NAB_BRIEF").is_ok() => {
            let line: Vec<String> =
                report.profiles.iter().map(|p| format!("{:.2}@{:.4}", p.normalized, p.threshold)).collect();
            println!("{}", line.join("  "));
        }
        Ok(report) => print!("{report}"),
        Err(e) => {
            eprintln!("NAB run failed: {e}");
            std::process::exit(1);
        }
    }
}
