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
}
