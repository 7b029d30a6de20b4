//! The command line.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Frontdesk: the AI front desk and back office for service businesses.
///
/// Runs with no set-up: `frontdesk serve --demo` starts the server on http://127.0.0.1:8080
/// with a demo studio, storing everything in ./frontdesk-data (SQLite). Set DATABASE_URL to a
/// postgres:// URL and REDIS_URL to run several replicas in production.
#[derive(Debug, Parser)]
#[command(name = "frontdesk", version, propagate_version = true)]
pub struct Cli {
    /// TOML configuration file (settings also come from FRONTDESK_* environment variables).
    #[arg(long, global = true, env = "FRONTDESK_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory for the SQLite database and local state [default: ./frontdesk-data].
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server and the background workers.
    Serve(ServeArgs),
    /// Bring the database schema up to date (serve does this too).
    Migrate,
    /// Create, list and suspend tenants (businesses).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Create user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Create, list and revoke a tenant's API keys.
    #[command(subcommand)]
    Apikey(ApiKeyCommand),
    /// Inspect and retry background jobs.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Anomaly detection tools.
    #[command(subcommand)]
    Insights(InsightsCommand),
    /// The knowledge base: import documents, search, rebuild indexes.
    #[command(subcommand)]
    Knowledge(KnowledgeCommand),
    /// Measure speed and memory; prints figures.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080; env FRONTDESK_LISTEN].
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Seed a demo studio (slug `demo`) with an owner account into an empty database, and
    /// print how to log in.
    #[arg(long)]
    pub demo: bool,
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant with an owner (the account is created if it does not exist).
    Create {
        /// The business's name.
        #[arg(long)]
        name: String,
        /// URL handle [default: derived from the name].
        #[arg(long)]
        slug: Option<String>,
        #[arg(long)]
        owner_email: String,
        #[arg(long, default_value = "Owner")]
        owner_name: String,
        /// IANA time zone.
        #[arg(long, default_value = "Europe/Berlin")]
        time_zone: String,
        /// en or de.
        #[arg(long, default_value = "en")]
        locale: String,
        /// fitness, salon, clinic, school or other.
        #[arg(long, default_value = "other")]
        industry: String,
    },
    /// List tenants.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Suspend a tenant (its members and keys are refused; nothing is deleted).
    Suspend {
        slug: String,
        /// Reactivate instead.
        #[arg(long)]
        undo: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account. The password is read from FRONTDESK_PASSWORD, or generated and printed.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// Make the account a platform operator (sees every tenant).
        #[arg(long)]
        platform_operator: bool,
        /// Add the account to this tenant (slug)…
        #[arg(long)]
        tenant: Option<String>,
        /// …with this role: OWNER, ADMIN, MEMBER or VIEWER.
        #[arg(long, default_value = "MEMBER")]
        role: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key; its secret is printed once.
    Create {
        /// Tenant slug.
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
        /// Permission to grant (repeatable), e.g. members:read [default: all].
        #[arg(long = "permission")]
        permissions: Vec<String>,
        /// Expire after this many days.
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// List a tenant's API keys.
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Revoke an API key.
    Revoke {
        #[arg(long)]
        tenant: String,
        key_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List jobs (dead letters by default).
    List {
        /// queued, running or dead.
        #[arg(long, default_value = "dead")]
        state: String,
    },
    /// Put a dead job back in the queue.
    Retry { job_id: String },
}

#[derive(Debug, Subcommand)]
pub enum InsightsCommand {
    /// Run the anomaly detector over the Numenta Anomaly Benchmark corpus and print its scores.
    Nab {
        /// Folder with the corpus CSV files (one subfolder per category).
        #[arg(long)]
        data: PathBuf,
        /// combined_windows.json with the labelled anomaly windows.
        #[arg(long)]
        windows: PathBuf,
        /// Where to write NAB-format result files.
        #[arg(long)]
        results: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum KnowledgeCommand {
    /// Import files or folders (Markdown, text, HTML, PDF); unchanged files are left as they are.
    Import {
        /// Tenant slug.
        #[arg(long)]
        tenant: String,
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Search a tenant's knowledge base: ranked passages with their document and section.
    Search {
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value_t = 5)]
        limit: u32,
        /// hybrid (default), bm25 or vector.
        #[arg(long)]
        mode: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[arg(required = true)]
        query: Vec<String>,
    },
    /// Embed passages that have no vector of the current model and rebuild the indexes from the
    /// database (progress on stderr).
    Reindex {
        /// Only this tenant [default: every tenant with a knowledge base].
        #[arg(long)]
        tenant: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Authenticated tenant-scoped reads on SQLite and PostgreSQL (RLS on), idle memory and
    /// start-up time of `frontdesk serve`.
    Foundation {
        /// PostgreSQL server to measure against (a fresh database is created and dropped).
        #[arg(long, env = "FRONTDESK_BENCH_POSTGRES")]
        postgres: Option<String>,
        /// Requests per measurement.
        #[arg(long, default_value_t = 20_000)]
        requests: usize,
        /// Concurrent clients.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
    },
    /// Knowledge search: retrieval quality (Recall@5, MRR@10, nDCG@10 for BM25, vectors and
    /// hybrid on the bundled question set), search latency at growing index sizes, ingestion
    /// throughput.
    Search {
        /// The question set [default: the one bundled with the knowledge crate].
        #[arg(long)]
        data: Option<PathBuf>,
        /// Passages per tenant for the latency runs (comma-separated).
        #[arg(long, default_value = "1000,10000,100000")]
        sizes: String,
        /// Skip the vector and hybrid runs (no embedding model needed).
        #[arg(long)]
        no_vectors: bool,
    },
    /// Detector speed, metric ingestion through the API on SQLite and PostgreSQL, NAB run time.
    Insights {
        /// PostgreSQL server to measure against (a fresh database is created and dropped).
        #[arg(long, env = "FRONTDESK_BENCH_POSTGRES")]
        postgres: Option<String>,
        /// The NAB data folder (e.g. ../shared/data/nab/data) to time a corpus run.
        #[arg(long)]
        nab: Option<std::path::PathBuf>,
        /// 1000-point batches to ingest per engine.
        #[arg(long, default_value_t = 40)]
        batches: usize,
    },
    /// The platform's own cost of a chat turn with a model that answers at once: turns/s and
    /// p50/p99 (time to first token when streaming) through /chat and /chat/stream at several
    /// concurrencies, on SQLite and PostgreSQL, and the server's memory.
    Chat {
        /// PostgreSQL server to measure against (a fresh database is created and dropped);
        /// skipped when it cannot be reached.
        #[arg(long, env = "FRONTDESK_BENCH_POSTGRES", default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
        postgres: String,
        /// Engines to measure, comma-separated: sqlite, postgres.
        #[arg(long, value_delimiter = ',', default_values_t = [String::from("sqlite"), String::from("postgres")])]
        engines: Vec<String>,
        /// Measured turns per endpoint and concurrency (after a warm-up).
        #[arg(long, default_value_t = 3_000)]
        turns: usize,
        /// Turns each visitor sends in its conversation before the next visitor starts.
        #[arg(long, default_value_t = 4)]
        turns_per_visitor: usize,
        /// Concurrent clients, comma-separated.
        #[arg(long, value_delimiter = ',', default_values_t = [1, 16, 64])]
        concurrency: Vec<usize>,
        /// Runs per row; the median run by throughput is shown (this machine's noise goes both ways).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Log filter of the measured server, whose log then goes to stderr [default: the
        /// production default, info, discarded].
        #[arg(long)]
        server_log: Option<String>,
    },
}
