//! Health probes and the Prometheus exposition.

use crate::Ops;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use frontdesk_kernel::Result;
use frontdesk_store::jobs::{self, JobCounts};
use serde::Serialize;
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::time::Instant;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: &'static str,
}

/// Liveness and readiness together
#[utoipa::path(get, path = "/health", tag = "ops", responses((status = 200, body = Health), (status = 503, body = Health)), security(()))]
pub async fn health(State(ops): State<Ops>) -> Response {
    readiness_response(&ops).await
}

/// Liveness: the process answers
#[utoipa::path(get, path = "/health/live", tag = "ops", responses((status = 200, body = Health)), security(()))]
pub async fn live() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: the database answers, so requests can be served
#[utoipa::path(get, path = "/health/ready", tag = "ops", responses((status = 200, body = Health), (status = 503, body = Health)), security(()))]
pub async fn ready(State(ops): State<Ops>) -> Response {
    readiness_response(&ops).await
}

/// True when the database answers.
pub async fn readiness(ops: &Ops) -> bool {
    ops.db.ping().await.is_ok()
}

async fn readiness_response(ops: &Ops) -> Response {
    if readiness(ops).await {
        Json(Health { status: "ok" }).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(Health { status: "unavailable" })).into_response()
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DatabaseHealth {
    pub backend: &'static str,
    pub ok: bool,
    pub latency_ms: f64,
    /// Pools: name, open connections, idle, maximum.
    pub pools: Vec<PoolHealth>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PoolHealth {
    pub name: &'static str,
    pub open: u32,
    pub idle: usize,
    pub max: u32,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct WorkerHealth {
    pub running: bool,
    pub concurrency: usize,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DetailedHealth {
    pub status: &'static str,
    pub version: &'static str,
    pub uptime_secs: u64,
    pub database: DatabaseHealth,
    pub queue: Option<JobCounts>,
    pub workers: WorkerHealth,
    pub rate_limiter: &'static str,
}

/// Detailed health (operator)
///
/// Database latency and pools, queue depth and the oldest waiting job, workers.
#[utoipa::path(get, path = "/health/detailed", tag = "ops", responses((status = 200, body = DetailedHealth)), security(("bearer" = ["platform:operate"])))]
pub async fn detailed(State(ops): State<Ops>) -> Result<Response> {
    let report = detailed_report(&ops).await;
    let status = if report.database.ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    Ok((status, Json(report)).into_response())
}

pub async fn detailed_report(ops: &Ops) -> DetailedHealth {
    let t = Instant::now();
    let ok = ops.db.ping().await.is_ok();
    let latency_ms = t.elapsed().as_secs_f64() * 1000.0;
    let queue = match ops.db.system_read().await {
        Ok(mut tx) => jobs::counts(&mut tx).await.ok(),
        Err(_) => None,
    };
    DetailedHealth {
        status: if ok { "ok" } else { "unavailable" },
        version: env!("CARGO_PKG_VERSION"),
        uptime_secs: ops.started.elapsed().as_secs(),
        database: DatabaseHealth {
            backend: ops.db.backend().name(),
            ok,
            latency_ms,
            pools: ops
                .db
                .pool_stats()
                .iter()
                .map(|(name, open, idle, max)| PoolHealth { name, open: *open, idle: *idle, max: *max })
                .collect(),
        },
        queue,
        workers: WorkerHealth {
            running: ops.workers.running.load(Ordering::Relaxed),
            concurrency: ops.workers.concurrency.load(Ordering::Relaxed),
        },
        rate_limiter: ops.rate_limiter,
    }
}

/// Prometheus metrics
///
/// Requests by route and status, latency histograms, job queue depth, database pools, uptime.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, content_type = "text/plain", body = String)), security(()))]
pub async fn metrics(State(ops): State<Ops>) -> Response {
    let mut out = String::with_capacity(8192);
    ops.http_metrics.render(&mut out);
    if let Ok(mut tx) = ops.db.system_read().await {
        if let Ok(c) = jobs::counts(&mut tx).await {
            out.push_str("# HELP frontdesk_jobs Jobs in the queue by state.\n# TYPE frontdesk_jobs gauge\n");
            for (state, n) in [("queued", c.queued), ("running", c.running), ("dead", c.dead)] {
                let _ = writeln!(out, "frontdesk_jobs{{state=\"{state}\"}} {n}");
            }
            out.push_str("# HELP frontdesk_jobs_oldest_due_seconds Age of the oldest due job not yet claimed.\n");
            out.push_str("# TYPE frontdesk_jobs_oldest_due_seconds gauge\n");
            let _ = writeln!(out, "frontdesk_jobs_oldest_due_seconds {}", c.oldest_due_secs);
        }
    }
    out.push_str(
        "# HELP frontdesk_db_pool_connections Database pool connections.\n# TYPE frontdesk_db_pool_connections gauge\n",
    );
    for (name, open, idle, max) in ops.db.pool_stats() {
        let _ = writeln!(out, "frontdesk_db_pool_connections{{pool=\"{name}\",state=\"open\"}} {open}");
        let _ = writeln!(out, "frontdesk_db_pool_connections{{pool=\"{name}\",state=\"idle\"}} {idle}");
        let _ = writeln!(out, "frontdesk_db_pool_connections{{pool=\"{name}\",state=\"max\"}} {max}");
    }
    if let Some(w) = ops.db.sqlite_writer_stats() {
        // Group commit: transactions / commits is the batch size, i.e. how many transactions
        // share one fsync; `waiting` shows contention for SQLite's single writer.
        out.push_str(
            "# HELP frontdesk_sqlite_transactions_total Write transactions committed durably.\n\
             # TYPE frontdesk_sqlite_transactions_total counter\n",
        );
        let _ = writeln!(out, "frontdesk_sqlite_transactions_total {}", w.transactions);
        out.push_str(
            "# HELP frontdesk_sqlite_commits_total Physical commits (fsyncs) that made them durable.\n\
             # TYPE frontdesk_sqlite_commits_total counter\n",
        );
        let _ = writeln!(out, "frontdesk_sqlite_commits_total {}", w.batches);
        out.push_str(
            "# HELP frontdesk_sqlite_writer_waiting Write transactions waiting for the writer.\n\
             # TYPE frontdesk_sqlite_writer_waiting gauge\n",
        );
        let _ = writeln!(out, "frontdesk_sqlite_writer_waiting {}", w.waiting);
    }
    out.push_str(
        "# HELP frontdesk_uptime_seconds Seconds since the process started.\n# TYPE frontdesk_uptime_seconds gauge\n",
    );
    let _ = writeln!(out, "frontdesk_uptime_seconds {}", ops.started.elapsed().as_secs());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out).into_response()
}
