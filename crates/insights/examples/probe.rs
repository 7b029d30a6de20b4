//! Prints value, expectation, score and per-channel evidence for rows `FROM..TO` of one NAB
//! file: `cargo run --release --example probe -- FILE.csv FROM TO` (experiments only).
use frontdesk_insights::nab::read_series;
use frontdesk_insights::{Detector, DetectorParams};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(path), Some(from), Some(to)) = (args.get(1), args.get(2), args.get(3)) else {
        eprintln!("usage: probe FILE.csv FROM TO");
        std::process::exit(2);
    };
    let (Ok(from), Ok(to)) = (from.parse::<usize>(), to.parse::<usize>()) else {
        eprintln!("probe: FROM and TO are row numbers");
        std::process::exit(2);
    };
    let series = match read_series(std::path::Path::new(path)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("probe: {e}");
            std::process::exit(1);
        }
    };
    let mut d = Detector::new(DetectorParams::default());
    for (i, (&t, &v)) in series.timestamps.iter().zip(&series.values).enumerate().take(to) {
        let o = d.observe(t, v);
        if i >= from {
            let e = d.evidence();
            println!(
                "{i} value {v:.4} expected {:.4} score {:.3} | point {:.2} sustained {:.2} context {:.2} record {} raw {:.3}",
                o.expected, o.score, e.point, e.sustained, e.context, e.record, e.raw
            );
        }
    }
}
