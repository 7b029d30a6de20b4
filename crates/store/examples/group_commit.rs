//! Write transactions per second on SQLite with `synchronous = FULL`, one physical commit per
//! transaction versus group commit, at concurrency 1, 16 and 64, with commit latency.
//!
//! ```text
//! cargo run --release -p frontdesk-store --example group_commit -- [seconds] [data dir] [1,16,64] [FULL]
//! ```
//!
//! (`NORMAL` as the last argument takes the fsync out, leaving the CPU cost of each path.)
//!
//! Each transaction is a chat turn's write: insert a message, bump its conversation. Latency is
//! measured from asking for the transaction to `commit()` returning (queueing included). The
//! data directory must be on the disk under test (not tmpfs); it defaults to the system temp dir.

use frontdesk_kernel::TenantId;
use frontdesk_store::{query, Db, DbConfig, Migration, StoreError, StoreResult, Tx};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const SCHEMA: Migration = Migration {
    component: "group_commit_bench",
    version: 1,
    name: "0001_messages",
    sqlite_up: "CREATE TABLE conversations (tenant_id TEXT NOT NULL, id TEXT NOT NULL, messages INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL, PRIMARY KEY (tenant_id, id));
                CREATE TABLE messages (tenant_id TEXT NOT NULL, id TEXT NOT NULL, conversation_id TEXT NOT NULL,
                    body TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (tenant_id, id));",
    sqlite_down: "DROP TABLE messages; DROP TABLE conversations;",
    postgres_up: "SELECT 1",
    postgres_down: "SELECT 1",
};

const BODY: &str = "Hi! Could I move my Thursday 6pm spin class to Friday morning? Anything after 7 works for me, \
                    and if Friday is full, Saturday is fine too. Thanks a lot!";

#[derive(Default)]
struct Run {
    elapsed: Duration,
    latencies_us: Vec<u64>,
    /// Group commit only: physical commits and the transactions they carried.
    batches: u64,
    committed: u64,
}

impl Run {
    fn add(&mut self, other: Run) {
        self.elapsed += other.elapsed;
        self.latencies_us.extend(other.latencies_us);
        self.batches += other.batches;
        self.committed += other.committed;
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let seconds: f64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(3.0);
    let dir: PathBuf = args.next().map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let concurrencies: Vec<usize> = match args.next() {
        Some(list) => list.split(',').map(str::parse).collect::<Result<_, _>>()?,
        None => vec![1, 16, 64],
    };
    let synchronous = args.next().unwrap_or_else(|| "FULL".to_owned());
    println!("SQLite, synchronous = {synchronous}, {seconds} s per mode and concurrency, files in {}", dir.display());
    println!(
        "{:<14} {:>11} {:>10} {:>11} {:>11} {:>11}",
        "group commit", "concurrency", "tx/s", "p50 ms", "p99 ms", "tx/commit"
    );
    for &concurrency in &concurrencies {
        // Off, on, on, off: on this shared machine a run is slower right after another one, so
        // each mode goes first once and the two runs are pooled.
        let mut runs = [Run::default(), Run::default()];
        for group_commit in [false, true, true, false] {
            let length = Duration::from_secs_f64(seconds / 2.0);
            let run = run(&dir, &synchronous, group_commit, concurrency, length).await?;
            runs[usize::from(group_commit)].add(run);
        }
        for (group_commit, run) in [false, true].into_iter().zip(runs) {
            let mut latencies = run.latencies_us;
            latencies.sort_unstable();
            let per_commit = match run.batches {
                0 => 1.0,
                batches => run.committed as f64 / batches as f64,
            };
            println!(
                "{:<14} {:>11} {:>10.0} {:>11.2} {:>11.2} {:>11.1}",
                if group_commit { "on" } else { "off" },
                concurrency,
                latencies.len() as f64 / run.elapsed.as_secs_f64(),
                percentile(&latencies, 0.50) as f64 / 1000.0,
                percentile(&latencies, 0.99) as f64 / 1000.0,
                per_commit,
            );
        }
    }
    Ok(())
}

async fn run(
    dir: &Path,
    synchronous: &str,
    group_commit: bool,
    concurrency: usize,
    length: Duration,
) -> StoreResult<Run> {
    let path = dir.join(format!("fd-group-commit-bench-{}.db", frontdesk_kernel::id::new_body()));
    let mut config = DbConfig::new(format!("sqlite://{}?mode=rwc", path.display()));
    config.sqlite_synchronous = synchronous.to_owned();
    config.sqlite_group_commit = group_commit;
    frontdesk_store::migrate::run(&config, &[frontdesk_store::MIGRATIONS, &[SCHEMA]].concat()).await?;
    let db = Db::connect(&config).await?;
    let tenant = TenantId::new();
    let mut tx = db.tenant(&tenant).await?;
    for worker in 0..concurrency {
        query("INSERT INTO conversations (tenant_id, id, messages, updated_at) VALUES ($1, $2, 0, 0)")
            .bind(tx.tid().to_owned())
            .bind(format!("conv-{worker}"))
            .execute(tx.conn())
            .await?;
    }
    tx.commit().await?;
    let before = db.sqlite_writer_stats();

    let started = Instant::now();
    let deadline = started + length;
    let mut workers = Vec::new();
    for worker in 0..concurrency {
        let (db, tenant) = (db.clone(), tenant.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let conversation = format!("conv-{worker}");
            let mut n = 0u64;
            while Instant::now() < deadline {
                let t0 = Instant::now();
                chat_turn(&db, &tenant, &conversation, &format!("msg-{worker}-{n}")).await?;
                latencies.push(t0.elapsed().as_micros() as u64);
                n += 1;
            }
            StoreResult::Ok(latencies)
        }));
    }
    let mut latencies_us = Vec::new();
    for w in workers {
        let done = w.await.map_err(|e| StoreError::Config(format!("bench worker panicked: {e}")))?;
        latencies_us.extend(done?);
    }
    let elapsed = started.elapsed();
    let after = db.sqlite_writer_stats();
    db.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let counted = after.zip(before).map(|(a, b)| (a.batches - b.batches, a.transactions - b.transactions));
    let (batches, committed) = counted.unwrap_or_default();
    Ok(Run { elapsed, latencies_us, batches, committed })
}

async fn chat_turn(db: &Db, tenant: &TenantId, conversation: &str, message: &str) -> StoreResult<()> {
    let now = frontdesk_kernel::time::now_ms();
    let mut tx = db.tenant(tenant).await?;
    let tid = tx.tid().to_owned();
    query("INSERT INTO messages (tenant_id, id, conversation_id, body, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&tid)
        .bind(message)
        .bind(conversation)
        .bind(BODY)
        .bind(now)
        .execute(tx.conn())
        .await?;
    query("UPDATE conversations SET messages = messages + 1, updated_at = $1 WHERE tenant_id = $2 AND id = $3")
        .bind(now)
        .bind(&tid)
        .bind(conversation)
        .execute(tx.conn())
        .await?;
    tx.commit().await
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}
