//! `frontdesk bench …`: the figures each capability promises, measured on this machine.
//! Medians and percentiles, not timed assertions: machines here are noisy, so compare ratios.

mod chat;
mod foundation;
mod insights;
mod knowledge;

pub use chat::{chat, ChatBench};
pub use foundation::foundation;
pub use insights::insights;
pub use knowledge::search;

use crate::app::AppError;
use frontdesk_kernel::Error;

pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

pub(crate) fn temp_dir(prefix: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("{prefix}{}", frontdesk_kernel::id::new_body().to_lowercase()))
}

pub(crate) async fn pg_exec(url: &str, sql: &str) -> Result<(), AppError> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.map_err(Error::internal)?;
    sqlx::query(sql).execute(&mut conn).await.map_err(Error::internal)?;
    let _ = conn.close().await;
    Ok(())
}

/// The whole application on a port-0 listener with a fresh database (SQLite in a temporary
/// directory, or a new PostgreSQL database dropped afterwards), rate limits out of the way.
pub(crate) struct BenchApp {
    pub base: String,
    pub identity: frontdesk_identity::Identity,
    stop: tokio::sync::watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
    dir: std::path::PathBuf,
    pg: Option<(String, String)>,
}

impl BenchApp {
    pub async fn start(postgres: Option<&str>) -> Result<BenchApp, AppError> {
        let dir = temp_dir("frontdesk-bench-");
        let mut config = crate::config::Config { data_dir: dir.clone(), workers: true, ..Default::default() };
        for limit in [
            &mut config.rate_limit_per_ip,
            &mut config.rate_limit_per_user,
            &mut config.rate_limit_per_api_key,
            &mut config.rate_limit_per_tenant,
            &mut config.chat_limit_per_visitor,
            &mut config.chat_limit_per_ip,
        ] {
            *limit = u32::MAX / 2;
        }
        let pg = match postgres {
            Some(admin) => {
                let name = format!("fd_bench_{}", frontdesk_kernel::id::new_body().to_lowercase());
                pg_exec(admin, &format!("CREATE DATABASE {name}")).await?;
                let (prefix, _) = admin
                    .rsplit_once('/')
                    .ok_or_else(|| Error::bad_request("postgres_url", "the URL must end with /<database>"))?;
                config.database_url = Some(format!("{prefix}/{name}"));
                Some((admin.to_owned(), name))
            }
            None => None,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(Error::internal)?;
        config.listen = listener.local_addr().map_err(Error::internal)?;
        let db = crate::app::open_db(&config).await?;
        let built = crate::app::build(&config, db).await?;
        let identity = built.identity.clone();
        let (stop, rx) = tokio::sync::watch::channel(false);
        let server = crate::serve::launch(built, &config, listener, rx).await?;
        Ok(BenchApp { base: format!("http://{}", config.listen), identity, stop, server, dir, pg })
    }

    pub async fn stop(self) -> Result<(), AppError> {
        let _ = self.stop.send(true);
        let _ = self.server.await;
        if let Some((admin, name)) = &self.pg {
            pg_exec(admin, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await?;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        Ok(())
    }

    /// A tenant and an API key with every permission.
    pub async fn tenant_key(&self, slug: &str) -> Result<String, AppError> {
        tenant_key(&self.identity, slug).await
    }
}

/// A tenant with this slug (and an owner), and an API key of it with every permission.
pub(crate) async fn tenant_key(identity: &frontdesk_identity::Identity, slug: &str) -> Result<String, AppError> {
    let req = frontdesk_identity::model::NewTenantRequest {
        tenant_name: format!("Bench {slug}"),
        slug: Some(slug.into()),
        time_zone: None,
        locale: None,
        industry: None,
    };
    let (tenant, _) = identity
        .create_tenant_with_owner(req, &format!("owner@{slug}.bench.test"), "Owner", Some("bench password 123"))
        .await?;
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
    Ok(created.secret)
}

/// A memory figure of a process from `/proc/<pid>/status` (`VmRSS:`, `VmHWM:`), in kB.
pub(crate) fn rss_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with(field))?.split_whitespace().nth(1)?.parse().ok()
}

/// The `p`-quantile of sorted durations, in milliseconds.
pub(crate) fn percentile_ms(sorted: &[std::time::Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)].as_secs_f64() * 1000.0
}
