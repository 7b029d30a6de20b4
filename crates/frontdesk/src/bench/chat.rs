//! `frontdesk bench chat`: the platform's own cost of a chat turn (issue 4).
//!
//! The server runs as its own `frontdesk serve` process (so its memory and CPU are its own) on a
//! fresh SQLite file or a fresh PostgreSQL database, with the production defaults (durable
//! commits, info-level access logs) and only the rate limits raised. The tenant's model is the
//! stand-in OpenAI-compatible server, running in this process on loopback and answering at once,
//! so what is measured is everything except the model's thinking: HTTP, storage of the message
//! and the turn job, the context read, the streamed model call, storage of the reply, usage
//! metering and live fan-out.
//!
//! Load: `concurrency` clients, each playing visitors one after another; a visitor opens its own
//! conversation and sends a few turns in it, carrying its visitor token. `/chat` latency is the
//! whole answer; for `/chat/stream` both the first `delta` (time to first token) and `done`.

use super::{cores, percentile_ms, pg_exec, rss_kb, temp_dir};
use crate::app::AppError;
use frontdesk_agent::testing::{Reply, Shape, StandIn};
use frontdesk_kernel::Error;
use futures_util::StreamExt;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Issue 4's reference: a typical Python chatbot backend of this market, model mocked, on these
/// machines, at concurrency 16.
const BASELINE_TURNS_PER_SEC: f64 = 150.0;
const BASELINE_P99_MS: f64 = 600.0;
const BASELINE_IDLE_MB: f64 = 110.0;

/// What the visitors write, in turn (none asks for a person: that would skip the model).
const MESSAGES: &[&str] = &[
    "Hi! What are your opening hours on Saturday?",
    "Do you offer a free trial class for beginners?",
    "How much is a monthly membership, and can I pause it?",
    "Is there parking near the studio?",
    "Can I bring a friend to my first session?",
    "Wann habt ihr morgen geöffnet?",
];

/// The stand-in's answer: a short, realistic reply streamed in several fragments.
const ANSWER: &str = "We're open on Saturdays from 9:00 to 18:00. Beginners are welcome to a free trial class \
                      any weekday evening; just book it here in the chat and bring comfortable clothes and water.";

/// Options of `frontdesk bench chat`.
#[derive(Debug, Clone)]
pub struct ChatBench {
    /// Measure SQLite.
    pub sqlite: bool,
    /// PostgreSQL admin URL; `None` skips PostgreSQL.
    pub postgres: Option<String>,
    /// Measured turns per endpoint and concurrency (after a warm-up of a tenth).
    pub turns: usize,
    pub turns_per_visitor: usize,
    pub concurrency: Vec<usize>,
    /// Runs per row; the row shows the median run by throughput.
    pub runs: usize,
    /// Log filter of the server (`FRONTDESK_LOG`); the production default when `None`.
    pub server_log: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Chat,
    Stream,
}

impl Endpoint {
    fn label(self) -> &'static str {
        match self {
            Endpoint::Chat => "POST /chat",
            Endpoint::Stream => "POST /chat/stream",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Endpoint::Chat => "/api/v1/public/chat",
            Endpoint::Stream => "/api/v1/public/chat/stream",
        }
    }
}

/// One measured turn.
struct Turn {
    /// Time to the first `delta` event (streaming only).
    first: Option<Duration>,
    full: Duration,
}

/// One row of the table.
struct Row {
    turns_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    first_p50_ms: Option<f64>,
    first_p99_ms: Option<f64>,
    /// What the server process spent per turn (CPU time, context switches).
    cost: Option<Cost>,
}

#[derive(Clone, Copy)]
struct Cost {
    cpu_us: f64,
    switches: f64,
    /// CPU time of this process (load generator and stand-in model) per turn.
    harness_cpu_us: f64,
    /// SQLite: write transactions per physical commit (fsync) during the run.
    tx_per_commit: Option<f64>,
}

pub async fn chat(options: ChatBench) -> Result<(), AppError> {
    println!(
        "Frontdesk chat-turn benchmark ({} cores; {} turns per run after warm-up, {} turns per visitor, median of {} run(s))",
        cores(),
        options.turns,
        options.turns_per_visitor,
        options.runs
    );
    println!("Server: `frontdesk serve` in its own process, production defaults (durable commits, access log),");
    println!("rate limits raised. Model: stand-in OpenAI-compatible server answering at once, streamed.");
    println!("Load generator and stand-in share the machine's cores with the server: figures are conservative.");
    println!("CPU/turn and switches/turn: the server process (CPU time, context switches of all its threads);");
    println!("harness: this process's CPU per turn (load generator and stand-in model);");
    println!("tx/fsync: SQLite write transactions per physical commit (group commit's batch size).\n");
    let standin = StandIn::start().await;
    standin.always(Reply::Text(ANSWER.into()));
    standin.set_shape(Shape { chunks: 6, ..Shape::default() });

    let mut backends: Vec<(&str, Option<String>)> = Vec::new();
    if options.sqlite {
        backends.push(("SQLite", None));
    }
    if let Some(url) = &options.postgres {
        match pg_exec(url, "SELECT 1").await {
            Ok(()) => backends.push(("PostgreSQL", Some(url.clone()))),
            Err(e) => println!("(PostgreSQL skipped: {url} is not reachable: {e})\n"),
        }
    }
    let mut at_16 = Vec::new();
    for (label, pg) in backends {
        let server = Server::start(pg.as_deref(), options.server_log.as_deref()).await?;
        let outcome = measure_backend(&server, &standin, label, &options).await;
        server.stop().await?;
        if let Some(row) = outcome? {
            at_16.push((label, row));
        }
    }
    println!();
    for (label, (rate, p99)) in at_16 {
        println!(
            "{label}, POST /chat at concurrency 16: {:.1}x the baseline's throughput ({rate:.0} vs {BASELINE_TURNS_PER_SEC:.0} \
             turns/s), p99 {p99:.1} ms (baseline ~{BASELINE_P99_MS:.0} ms; target: >= 20x at p99 < 20 ms)",
            rate / BASELINE_TURNS_PER_SEC
        );
    }
    Ok(())
}

/// Runs every endpoint and concurrency on one backend and prints its rows; returns the
/// `/chat` figures at concurrency 16 for the comparison with the baseline.
async fn measure_backend(
    server: &Server,
    standin: &StandIn,
    label: &str,
    options: &ChatBench,
) -> Result<Option<(f64, f64)>, AppError> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.concurrency.iter().copied().max().unwrap_or(1))
        .build()
        .map_err(Error::internal)?;
    let key = server.api_key.clone();
    let res = client
        .put(format!("{}/api/v1/assistant/model", server.base))
        .bearer_auth(&key)
        .json(&json!({"base_url": standin.base_url(), "model": "stand-in"}))
        .send()
        .await
        .map_err(Error::internal)?;
    if !res.status().is_success() {
        return Err(Error::internal(format!("setting the model failed: {}", res.status())).into());
    }
    // Idle: ready, tenant configured, nothing served yet.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = rss_kb(server.pid, "VmRSS:");

    println!("{label}");
    println!(
        "  {:<18} {:>4} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "endpoint",
        "conc",
        "turns/s",
        "p50 ms",
        "p99 ms",
        "TTFT p50",
        "TTFT p99",
        "CPU/turn",
        "switches",
        "harness",
        "tx/fsync"
    );
    let mut at_16 = None;
    for endpoint in [Endpoint::Chat, Endpoint::Stream] {
        for &concurrency in &options.concurrency {
            let mut rows: Vec<Row> = Vec::with_capacity(options.runs);
            for _ in 0..options.runs {
                let warm = (options.turns / 10).max(concurrency * options.turns_per_visitor);
                run_load(&client, &server.base, endpoint, warm, options.turns_per_visitor, concurrency).await?;
                let before = Counters::of(server.pid).zip(Counters::of(std::process::id()));
                let writer_before = writer_counters(&client, &server.base).await;
                let started = Instant::now();
                let turns =
                    run_load(&client, &server.base, endpoint, options.turns, options.turns_per_visitor, concurrency)
                        .await?;
                let elapsed = started.elapsed();
                let n = turns.len() as f64;
                let after = Counters::of(server.pid).zip(Counters::of(std::process::id()));
                let writer_after = writer_counters(&client, &server.base).await;
                let tx_per_commit = writer_before
                    .zip(writer_after)
                    .filter(|((_, c0), (_, c1))| c1 > c0)
                    .map(|((t0, c0), (t1, c1))| (t1 - t0) as f64 / (c1 - c0) as f64);
                let cost = before.zip(after).map(|((a, ha), (b, hb))| Cost {
                    cpu_us: (b.cpu_secs - a.cpu_secs) * 1e6 / n,
                    switches: (b.switches - a.switches) as f64 / n,
                    harness_cpu_us: (hb.cpu_secs - ha.cpu_secs) * 1e6 / n,
                    tx_per_commit,
                });
                let row = figures(turns, elapsed, cost);
                rows.push(row);
            }
            // The median run by throughput: this machine's noise goes both ways.
            rows.sort_by(|a, b| a.turns_per_sec.total_cmp(&b.turns_per_sec));
            let middle = rows.len() / 2;
            let Some(row) = rows.into_iter().nth(middle) else { continue };
            let ms = |v: Option<f64>| v.map(|v| format!("{v:.2}")).unwrap_or_else(|| "-".into());
            println!(
                "  {:<18} {:>4} {:>8.0} {:>8.2} {:>8.2} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
                endpoint.label(),
                concurrency,
                row.turns_per_sec,
                row.p50_ms,
                row.p99_ms,
                ms(row.first_p50_ms),
                ms(row.first_p99_ms),
                row.cost.map(|c| format!("{:.0} µs", c.cpu_us)).unwrap_or_else(|| "-".into()),
                row.cost.map(|c| format!("{:.1}", c.switches)).unwrap_or_else(|| "-".into()),
                row.cost.map(|c| format!("{:.0} µs", c.harness_cpu_us)).unwrap_or_else(|| "-".into()),
                row.cost.and_then(|c| c.tx_per_commit).map(|t| format!("{t:.1}")).unwrap_or_else(|| "-".into()),
            );
            if endpoint == Endpoint::Chat && concurrency == 16 {
                at_16 = Some((row.turns_per_sec, row.p99_ms));
            }
        }
    }
    let after = rss_kb(server.pid, "VmRSS:");
    let peak = rss_kb(server.pid, "VmHWM:");
    let mb = |kb: Option<u64>| kb.map(|kb| format!("{:.1} MB", kb as f64 / 1024.0)).unwrap_or_else(|| "n/a".into());
    println!(
        "  server memory: idle {} (baseline idles at {BASELINE_IDLE_MB:.0} MB), after load {}, peak {}",
        mb(idle),
        mb(after),
        mb(peak)
    );
    Ok(at_16)
}

fn figures(mut turns: Vec<Turn>, elapsed: Duration, cost: Option<Cost>) -> Row {
    let n = turns.len();
    let mut first: Vec<Duration> = turns.iter().filter_map(|t| t.first).collect();
    first.sort_unstable();
    turns.sort_unstable_by_key(|t| t.full);
    let full: Vec<Duration> = turns.iter().map(|t| t.full).collect();
    let streamed = !first.is_empty();
    Row {
        turns_per_sec: n as f64 / elapsed.as_secs_f64(),
        p50_ms: percentile_ms(&full, 0.50),
        p99_ms: percentile_ms(&full, 0.99),
        first_p50_ms: streamed.then(|| percentile_ms(&first, 0.50)),
        first_p99_ms: streamed.then(|| percentile_ms(&first, 0.99)),
        cost,
    }
}

/// `total` turns by `concurrency` clients; each client plays visitors of `per_visitor` turns.
async fn run_load(
    client: &reqwest::Client,
    base: &str,
    endpoint: Endpoint,
    total: usize,
    per_visitor: usize,
    concurrency: usize,
) -> Result<Vec<Turn>, AppError> {
    let remaining = Arc::new(AtomicUsize::new(total));
    let url = Arc::new(format!("{base}{}?tenant={SLUG}", endpoint.path()));
    let mut tasks = Vec::with_capacity(concurrency);
    for worker in 0..concurrency {
        let (client, url, remaining) = (client.clone(), url.clone(), remaining.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::with_capacity(total / concurrency + 1);
            let mut visitor: Option<String> = None;
            let (mut sent, mut left) = (0usize, 0usize);
            loop {
                // Take one turn from the shared budget; stop when it is spent.
                if remaining.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_err() {
                    break;
                }
                if left == 0 {
                    visitor = None; // a new visitor, with a conversation of its own
                    left = per_visitor;
                }
                left -= 1;
                let message = MESSAGES[(worker + sent) % MESSAGES.len()];
                let body = json!({"message": message, "visitor_token": visitor});
                let started = Instant::now();
                let (token, first) = match endpoint {
                    Endpoint::Chat => (chat_turn(&client, &url, &body).await?, None),
                    Endpoint::Stream => {
                        let (token, first) = stream_turn(&client, &url, &body, started).await?;
                        (token, Some(first))
                    }
                };
                out.push(Turn { first, full: started.elapsed() });
                visitor = Some(token);
                sent += 1;
            }
            Ok::<_, Error>(out)
        }));
    }
    let mut all = Vec::with_capacity(total);
    for t in tasks {
        all.extend(t.await.map_err(Error::internal)??);
    }
    Ok(all)
}

/// One `/chat` turn; checks that the answer came with it. Returns the visitor token.
async fn chat_turn(client: &reqwest::Client, url: &str, body: &serde_json::Value) -> Result<String, Error> {
    let res = client.post(url).json(body).send().await.map_err(Error::internal)?;
    let status = res.status();
    let bytes = res.bytes().await.map_err(Error::internal)?;
    if !status.is_success() {
        return Err(Error::internal(format!("chat failed: {status} {}", String::from_utf8_lossy(&bytes))));
    }
    let answer: serde_json::Value = serde_json::from_slice(&bytes).map_err(Error::internal)?;
    let answered = answer["replies"].as_array().is_some_and(|r| r.iter().any(|m| m["text"] == ANSWER));
    if !answered {
        return Err(Error::internal(format!("chat turn not answered: {answer}")));
    }
    answer["visitor_token"].as_str().map(str::to_owned).ok_or_else(|| Error::internal("no visitor token"))
}

/// One `/chat/stream` turn, read to `done`; checks the events. Returns the visitor token and the
/// time to the first `delta`.
async fn stream_turn(
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
    started: Instant,
) -> Result<(String, Duration), Error> {
    let res = client.post(url).json(body).send().await.map_err(Error::internal)?;
    let status = res.status();
    if !status.is_success() {
        let text = res.text().await.unwrap_or_default();
        return Err(Error::internal(format!("chat stream failed: {status} {text}")));
    }
    let mut stream = res.bytes_stream();
    let mut buffer: Vec<u8> = Vec::with_capacity(4096);
    let (mut token, mut first, mut answered, mut done) = (None, None, false, false);
    while let Some(chunk) = stream.next().await {
        buffer.extend_from_slice(&chunk.map_err(Error::internal)?);
        // Complete events end with a blank line.
        while let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") {
            let event: Vec<u8> = buffer.drain(..end + 2).collect();
            let event = String::from_utf8_lossy(&event);
            let (mut name, mut data) = ("", "");
            for line in event.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    name = v;
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = v;
                }
            }
            match name {
                "accepted" => {
                    let v: serde_json::Value = serde_json::from_str(data).map_err(Error::internal)?;
                    token = v["visitor_token"].as_str().map(str::to_owned);
                }
                "delta" if first.is_none() => first = Some(started.elapsed()),
                "message" => {
                    let v: serde_json::Value = serde_json::from_str(data).map_err(Error::internal)?;
                    answered |= v["text"] == ANSWER;
                }
                "error" | "status" => return Err(Error::internal(format!("chat stream: {name} {data}"))),
                "done" => done = true,
                _ => {}
            }
        }
    }
    match (token, first) {
        (Some(token), Some(first)) if answered && done => Ok((token, first)),
        _ => Err(Error::internal("chat stream ended without accepted, delta, the answer and done")),
    }
}

/// The bench tenant's slug.
const SLUG: &str = "chat-bench";

/// `frontdesk serve` as a child process on a fresh database, with a tenant and its API key.
struct Server {
    base: String,
    pid: u32,
    api_key: String,
    child: tokio::process::Child,
    dir: std::path::PathBuf,
    pg: Option<(String, String)>,
}

impl Server {
    async fn start(postgres: Option<&str>, log: Option<&str>) -> Result<Server, AppError> {
        let dir = temp_dir("frontdesk-bench-chat-");
        let mut config = crate::config::Config { data_dir: dir.clone(), ..Default::default() };
        let pg = match postgres {
            Some(admin) => {
                let name = format!("fd_bench_{}", frontdesk_kernel::id::new_body().to_lowercase());
                pg_exec(admin, &format!("CREATE DATABASE {name}")).await?;
                let (prefix, _) = admin
                    .rsplit_once('/')
                    .ok_or_else(|| Error::bad_request("postgres", "the URL must end with /<database>"))?;
                config.database_url = Some(format!("{prefix}/{name}"));
                Some((admin.to_owned(), name))
            }
            None => None,
        };
        // Schema, tenant and key first, in this process; then the server opens the same data.
        let db = crate::app::open_db(&config).await?;
        let identity = crate::app::identity(&config, db.clone()).await?;
        let api_key = super::tenant_key(&identity, SLUG).await?;
        db.close().await;

        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(Error::internal)?;
            l.local_addr().map_err(Error::internal)?.port()
        };
        let exe = std::env::current_exe().map_err(Error::internal)?;
        let mut command = tokio::process::Command::new(exe);
        command
            .args(["--data-dir", &dir.display().to_string(), "serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true);
        // With a log filter of its own, the server's log goes to this stderr (for analysis).
        command.stderr(if log.is_some() { std::process::Stdio::inherit() } else { std::process::Stdio::null() });
        if let Some(url) = &config.database_url {
            command.env("DATABASE_URL", url);
        }
        if let Some(log) = log {
            command.env("FRONTDESK_LOG", log);
        }
        // Every request comes from 127.0.0.1: raise the limits out of the way.
        for name in [
            "FRONTDESK_RATE_LIMIT_PER_IP",
            "FRONTDESK_RATE_LIMIT_PER_USER",
            "FRONTDESK_RATE_LIMIT_PER_API_KEY",
            "FRONTDESK_RATE_LIMIT_PER_TENANT",
            "FRONTDESK_CHAT_LIMIT_PER_VISITOR",
            "FRONTDESK_CHAT_LIMIT_PER_IP",
        ] {
            command.env(name, (u32::MAX / 2).to_string());
        }
        let child = command.spawn().map_err(Error::internal)?;
        let pid = child.id().ok_or_else(|| Error::internal("the server exited at once"))?;
        let server = Server { base: format!("http://127.0.0.1:{port}"), pid, api_key, child, dir, pg };
        server.wait_ready().await?;
        Ok(server)
    }

    async fn wait_ready(&self) -> Result<(), AppError> {
        let client = reqwest::Client::new();
        let url = format!("{}/health/ready", self.base);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client.get(&url).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(Error::internal("frontdesk serve did not become ready in 30 s").into());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn stop(mut self) -> Result<(), AppError> {
        let _ = self.child.kill().await;
        if let Some((admin, name)) = &self.pg {
            pg_exec(admin, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await?;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        Ok(())
    }
}

/// SQLite's write transactions and physical commits so far, from the server's `/metrics`
/// (`None` on PostgreSQL).
async fn writer_counters(client: &reqwest::Client, base: &str) -> Option<(u64, u64)> {
    let text = client.get(format!("{base}/metrics")).send().await.ok()?.text().await.ok()?;
    let value = |name: &str| {
        text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')).and_then(|v| v.parse().ok()))
    };
    value("frontdesk_sqlite_transactions_total").zip(value("frontdesk_sqlite_commits_total"))
}

/// What a process has spent so far, over all its threads.
#[derive(Clone, Copy)]
struct Counters {
    /// User plus system CPU time.
    cpu_secs: f64,
    /// Voluntary and involuntary context switches of its live threads.
    switches: u64,
}

impl Counters {
    fn of(pid: u32) -> Option<Counters> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name (which may contain spaces) start after the last ')'.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let utime: f64 = fields.get(11)?.parse().ok()?;
        let stime: f64 = fields.get(12)?.parse().ok()?;
        let mut switches = 0;
        for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
            let Ok(status) = std::fs::read_to_string(task.path().join("status")) else { continue };
            switches += status
                .lines()
                .filter(|l| l.starts_with("voluntary_ctxt_switches:") || l.starts_with("nonvoluntary_ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>();
        }
        // Clock ticks: 100 per second on Linux (USER_HZ).
        Some(Counters { cpu_secs: (utime + stime) / 100.0, switches })
    }
}
