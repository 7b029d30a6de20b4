//! `frontdesk bench insights`: the detector's speed, ingestion through the HTTP API on both
//! engines, and the time to run the NAB corpus.

use super::{cores, percentile_ms, BenchApp};
use crate::app::AppError;
use frontdesk_insights::{Detector, DetectorParams};
use frontdesk_kernel::Error;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub async fn insights(postgres: Option<String>, nab: Option<PathBuf>, batches: usize) -> Result<(), AppError> {
    println!("Frontdesk insights benchmark ({} cores)\n", cores());
    let pps = tokio::task::spawn_blocking(detector_speed).await.map_err(Error::internal)?;
    println!("detector: {:.2} M points/s on one core (1,000,000 points, daily cycle + noise)", pps / 1e6);
    let bytes = serde_json::to_vec(&Detector::new(DetectorParams::default())).map_err(Error::internal)?.len();
    println!("detector state: {bytes} bytes as JSON per series (fresh)\n");

    println!("{:<40} {:>12} {:>14}", "ingestion, 1000-point batches", "points/s", "p99 per batch");
    let mut engines = vec![("SQLite", None)];
    match postgres {
        Some(url) => engines.push(("PostgreSQL (RLS on)", Some(url))),
        None => println!("(PostgreSQL skipped: pass --postgres URL or set FRONTDESK_BENCH_POSTGRES)"),
    }
    for (label, pg) in engines {
        let (rate, p99) = ingestion(pg.as_deref(), batches).await?;
        println!("{:<40} {:>12.0} {:>11.1} ms", format!("POST /api/v1/metrics/ingest, {label}"), rate, p99);
    }
    if let Some(data) = nab {
        let windows = data.join("../labels/combined_windows.json");
        let results = super::temp_dir("frontdesk-bench-nab-");
        let started = Instant::now();
        let data_dir = data.clone();
        let report = tokio::task::spawn_blocking(move || {
            frontdesk_insights::run_corpus(&data_dir, &windows, &results, &DetectorParams::default())
        })
        .await
        .map_err(Error::internal)?
        .map_err(|e| Error::bad_request("nab", e.to_string()))?;
        println!(
            "\nNAB corpus ({} points): {:.2} s end to end, standard score {:.2}",
            report.points,
            started.elapsed().as_secs_f64(),
            report.normalized("standard").unwrap_or(f64::NAN)
        );
    }
    Ok(())
}

fn detector_speed() -> f64 {
    let mut d = Detector::new(DetectorParams::default());
    let mut seed: u64 = 7;
    let n = 1_000_000i64;
    let started = Instant::now();
    let mut sink = 0.0;
    for i in 0..n {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        let noise = (seed >> 40) as f64 / (1u64 << 24) as f64;
        let v = 100.0 + 30.0 * ((i % 288) as f64 / 288.0 * std::f64::consts::TAU).sin() + noise * 5.0;
        sink += d.observe(1_700_000_000 + i * 300, v).score;
    }
    std::hint::black_box(sink);
    n as f64 / started.elapsed().as_secs_f64()
}

async fn ingestion(postgres: Option<&str>, batches: usize) -> Result<(f64, f64), AppError> {
    let bench = BenchApp::start(postgres).await?;
    let key = bench.tenant_key("ingest-bench").await?;
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/metrics/ingest", bench.base);
    let start = frontdesk_kernel::time::now_ms() / 1000 - (batches as i64) * 1000 * 60;
    let mut latencies: Vec<Duration> = Vec::with_capacity(batches);
    let started = Instant::now();
    let concurrency = 4;
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let (client, url, key) = (client.clone(), url.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            for b in (worker..batches).step_by(concurrency) {
                // Each worker feeds its own metrics so series are scored in parallel.
                let points: Vec<serde_json::Value> = (0..1000)
                    .map(|i| {
                        let t = start + ((b * 1000 + i) as i64) * 60;
                        serde_json::json!({"metric": format!("m{}", b % 8), "value": (i % 50) as f64, "timestamp": t})
                    })
                    .collect();
                let t = Instant::now();
                let res = client.post(&url).bearer_auth(&key).json(&points).send().await.map_err(Error::internal)?;
                if !res.status().is_success() {
                    return Err(Error::internal(format!("ingest failed: {}", res.status())));
                }
                lat.push(t.elapsed());
            }
            Ok::<_, Error>(lat)
        }));
    }
    for t in tasks {
        latencies.extend(t.await.map_err(Error::internal)??);
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    bench.stop().await?;
    Ok(((batches * 1000) as f64 / elapsed.as_secs_f64(), percentile_ms(&latencies, 0.99)))
}
