//! `frontdesk bench foundation`: authenticated reads on both engines, start-up time, idle memory.

use super::{cores, temp_dir, BenchApp};
use crate::app::AppError;
use frontdesk_kernel::Error;
use std::time::{Duration, Instant};

struct Figures {
    requests_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
}

pub async fn foundation(postgres: Option<String>, requests: usize, concurrency: usize) -> Result<(), AppError> {
    println!("Frontdesk foundation benchmark ({} cores, {requests} requests, concurrency {concurrency})", cores());
    println!("Load generator runs in the same process and shares the cores: figures are conservative.\n");
    println!("{:<44} {:>10} {:>9} {:>9}", "authenticated tenant-scoped read", "req/s", "p50 ms", "p99 ms");
    let mut engines = vec![("SQLite (WAL)", None)];
    match postgres {
        Some(url) => engines.push(("PostgreSQL (RLS on)", Some(url))),
        None => println!("(PostgreSQL skipped: pass --postgres URL or set FRONTDESK_BENCH_POSTGRES)"),
    }
    for (label, pg) in engines {
        for credential in ["API key", "access token"] {
            let f = reads(pg.as_deref(), credential, requests, concurrency).await?;
            println!(
                "{:<44} {:>10.0} {:>9.2} {:>9.2}",
                format!("GET /api/v1/tenant, {label}, {credential}"),
                f.requests_per_sec,
                f.p50_ms,
                f.p99_ms
            );
        }
    }
    println!();
    let (ready, rss) = startup_and_memory().await?;
    println!("start-up to /health/ready (empty data dir, median of 5): {ready:.0} ms");
    match rss {
        Some(kb) => println!("idle memory of frontdesk serve (RSS after 2 s idle): {:.1} MB", kb as f64 / 1024.0),
        None => println!("idle memory: /proc not available on this system"),
    }
    Ok(())
}

async fn reads(
    postgres: Option<&str>,
    credential: &str,
    requests: usize,
    concurrency: usize,
) -> Result<Figures, AppError> {
    let bench = BenchApp::start(postgres).await?;
    let identity = bench.identity.clone();

    // A tenant with a few neighbours, and its credential.
    for i in 0..5 {
        let req = frontdesk_identity::model::NewTenantRequest {
            tenant_name: format!("Neighbour {i}"),
            slug: None,
            time_zone: None,
            locale: None,
            industry: None,
        };
        identity.create_tenant_with_owner(req, &format!("n{i}@bench.test"), "N", Some("bench password 123")).await?;
    }
    let req = frontdesk_identity::model::NewTenantRequest {
        tenant_name: "Bench Studio".into(),
        slug: Some("bench".into()),
        time_zone: None,
        locale: None,
        industry: None,
    };
    let (tenant, _) =
        identity.create_tenant_with_owner(req, "owner@bench.test", "Owner", Some("bench password 123")).await?;
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build().map_err(Error::internal)?;
    let base = bench.base.clone();
    let bearer = if credential == "API key" {
        let created = identity
            .create_api_key_for(
                &tenant.id,
                frontdesk_web::PermissionSet::all(),
                None,
                frontdesk_identity::model::CreateApiKeyRequest {
                    name: "bench".into(),
                    permissions: None,
                    expires_in_days: None,
                },
                &frontdesk_store::audit::Actor::system("bench"),
            )
            .await?;
        created.secret
    } else {
        let res = client
            .post(format!("{base}/api/v1/auth/token"))
            .json(&serde_json::json!({"email": "owner@bench.test", "password": "bench password 123"}))
            .send()
            .await
            .map_err(Error::internal)?;
        let v: serde_json::Value = res.json().await.map_err(Error::internal)?;
        v["access_token"].as_str().unwrap_or_default().to_owned()
    };
    let url = format!("{base}/api/v1/tenant");
    // Warm-up: connections, caches, prepared statements.
    run_load(&client, &url, &bearer, (requests / 10).max(100), concurrency).await?;
    let (elapsed, mut latencies) = run_load(&client, &url, &bearer, requests, concurrency).await?;
    latencies.sort_unstable();
    let pct =
        |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)].as_secs_f64() * 1000.0;
    let figures =
        Figures { requests_per_sec: requests as f64 / elapsed.as_secs_f64(), p50_ms: pct(0.50), p99_ms: pct(0.99) };

    bench.stop().await?;
    Ok(figures)
}

async fn run_load(
    client: &reqwest::Client,
    url: &str,
    bearer: &str,
    requests: usize,
    concurrency: usize,
) -> Result<(Duration, Vec<Duration>), AppError> {
    let started = Instant::now();
    let per_task = requests.div_ceil(concurrency);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, bearer) = (client.clone(), url.to_owned(), bearer.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per_task);
            for _ in 0..per_task {
                let t = Instant::now();
                let res = client.get(&url).bearer_auth(&bearer).send().await.map_err(Error::internal)?;
                if !res.status().is_success() {
                    return Err(Error::internal(format!("benchmark request failed: {}", res.status())));
                }
                let _ = res.bytes().await.map_err(Error::internal)?;
                lat.push(t.elapsed());
            }
            Ok::<_, Error>(lat)
        }));
    }
    let mut all = Vec::with_capacity(requests);
    for t in tasks {
        all.extend(t.await.map_err(Error::internal)??);
    }
    Ok((started.elapsed(), all))
}

/// Starts `frontdesk serve` as a child process on an empty data directory: time to ready
/// (median of 5) and the resident memory after it idled for 2 s.
async fn startup_and_memory() -> Result<(f64, Option<u64>), AppError> {
    let exe = std::env::current_exe().map_err(Error::internal)?;
    let client = reqwest::Client::new();
    let mut times = Vec::new();
    let mut rss = None;
    for run in 0..5 {
        let dir = temp_dir("frontdesk-bench-serve-");
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(Error::internal)?;
            l.local_addr().map_err(Error::internal)?.port()
        };
        let started = Instant::now();
        let mut child = tokio::process::Command::new(&exe)
            .args(["--data-dir", &dir.display().to_string(), "serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("FRONTDESK_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(Error::internal)?;
        let url = format!("http://127.0.0.1:{port}/health/ready");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = client.get(&url).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            if Instant::now() > deadline {
                return Err(Error::internal("frontdesk serve did not become ready in 20 s").into());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        if run == 0 {
            tokio::time::sleep(Duration::from_secs(2)).await;
            rss = child.id().and_then(read_rss_kb);
        }
        let _ = child.kill().await;
        let _ = std::fs::remove_dir_all(dir);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok((times[times.len() / 2], rss))
}

fn read_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}
