//! Size of the detector's stored state (JSON, as `service.rs` stores it) after each NAB file:
//! `cargo run --release --example state_size [DATA_DIR]`.
use std::path::PathBuf;

use frontdesk_insights::nab::read_series;
use frontdesk_insights::{Detector, DetectorParams};

fn main() {
    let root = std::env::args().nth(1).map_or_else(|| PathBuf::from("/work/shared/data/nab/data"), PathBuf::from);
    let mut sizes = Vec::new();
    for category in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        for file in std::fs::read_dir(category.path()).into_iter().flatten().flatten() {
            let series = match read_series(&file.path()) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("skipped: {e}");
                    continue;
                }
            };
            let mut d = Detector::new(DetectorParams::default());
            for (&t, &v) in series.timestamps.iter().zip(&series.values) {
                d.observe(t, v);
            }
            match serde_json::to_string(&d) {
                Ok(json) => sizes.push((json.len(), file.file_name().to_string_lossy().to_string())),
                Err(e) => eprintln!("cannot serialise: {e}"),
            }
        }
    }
    sizes.sort();
    for (bytes, name) in &sizes {
        println!("{bytes:>6} {name}");
    }
}
