//! The pools: on SQLite one writer connection (driven by [`crate::group_commit`] unless
//! disabled) and a few readers in WAL mode; on PostgreSQL one pool acting as the application role.

use crate::error::{StoreError, StoreResult};
use crate::events::Subscribers;
use crate::group_commit::{GroupCommit, WriterStats};
use crate::tx::{SystemTx, TenantTx, Tx};
use frontdesk_kernel::TenantId;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use std::str::FromStr;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

/// Which engine a [`Db`] speaks to. The few places where SQL differs branch on this.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Clone, Debug)]
pub struct DbConfig {
    /// `sqlite://PATH` or `postgres://USER@HOST/DB`.
    pub url: String,
    /// PostgreSQL pool size; SQLite uses one writer plus this many readers (capped at 8).
    pub max_connections: u32,
    /// PostgreSQL role every pooled connection switches to (`SET ROLE`); it must not be a
    /// superuser nor own the tables, so row-level security applies. Created by `migrate`.
    pub app_role: String,
    /// SQLite `synchronous` pragma: `FULL` makes every commit durable before we answer.
    pub sqlite_synchronous: String,
    /// SQLite: concurrent write transactions share one physical commit (one fsync), see
    /// [`crate::group_commit`]. Every commit is still durable before it returns, and a lone
    /// transaction commits at once; the cost is that a transaction's acknowledgement waits for
    /// the batch it joined (its window plus the transactions handed the writer after it), and a
    /// batch whose physical COMMIT fails fails for all its members. Off: one physical
    /// transaction per write transaction (for comparison).
    pub sqlite_group_commit: bool,
    /// SQLite group commit: how long a batch keeps taking newcomers after its first member
    /// committed; with short transactions, about the most latency group commit adds to a commit.
    pub sqlite_group_commit_window: Duration,
    pub acquire_timeout: Duration,
}

impl DbConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 16,
            app_role: "frontdesk_app".into(),
            sqlite_synchronous: "FULL".into(),
            sqlite_group_commit: true,
            sqlite_group_commit_window: crate::group_commit::DEFAULT_BATCH_WINDOW,
            acquire_timeout: Duration::from_secs(10),
        }
    }

    pub fn backend(&self) -> StoreResult<Backend> {
        if self.url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if self.url.starts_with("postgres://") || self.url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::Config("DATABASE_URL must start with sqlite: or postgres://".into()))
        }
    }

    /// The URL with any password replaced, for logs and health output.
    pub fn redacted_url(&self) -> String {
        match url::Url::parse(&self.url) {
            Ok(mut u) if u.password().is_some() => {
                let _ = u.set_password(Some("***"));
                u.to_string()
            }
            _ => self.url.clone(),
        }
    }
}

/// The database handle every capability shares. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    /// SQLite: the single writer connection. PostgreSQL: the pool.
    write: AnyPool,
    /// SQLite: reader connections. PostgreSQL: the same pool as `write`.
    read: AnyPool,
    config: DbConfig,
    /// SQLite with group commit: the coordinator of the writer connection.
    group: Option<Arc<GroupCommit>>,
    /// Wakes in-process job workers as soon as a job is committed.
    jobs_wakeup: Arc<tokio::sync::Notify>,
    /// Who hears of domain events ([`crate::events::register`]); none until registered.
    subscribers: RwLock<Subscribers>,
}

impl Db {
    /// Opens the pools. Run [`crate::migrate::run`] first on a new database.
    pub async fn connect(config: &DbConfig) -> StoreResult<Db> {
        sqlx::any::install_default_drivers();
        let backend = config.backend()?;
        let options = connect_options(config)?;
        let (write, read) = match backend {
            Backend::Sqlite => {
                let sync = sqlite_synchronous(&config.sqlite_synchronous)?;
                let init = format!(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync}; PRAGMA foreign_keys = ON; \
                     PRAGMA busy_timeout = 10000; PRAGMA temp_store = MEMORY;"
                );
                let writer = sqlite_pool(&options, 1, config, init.clone()).await?;
                let readers = config.max_connections.clamp(2, 8);
                // Readers run without BEGIN (see `tx`): `query_only` makes sure nothing written
                // through one could ever be committed behind a "read transaction"'s back.
                let reader = sqlite_pool(&options, readers, config, format!("{init} PRAGMA query_only = ON;")).await?;
                (writer, reader)
            }
            Backend::Postgres => {
                let role = config.app_role.clone();
                validate_identifier(&role)?;
                let pool = AnyPoolOptions::new()
                    .max_connections(config.max_connections)
                    .min_connections(1)
                    .acquire_timeout(config.acquire_timeout)
                    .after_connect(move |conn, _| {
                        let role = role.clone();
                        Box::pin(async move {
                            if !role.is_empty() {
                                conn.execute(format!("SET ROLE {role}").as_str()).await?;
                            }
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await?;
                (pool.clone(), pool)
            }
        };
        let jobs_wakeup = Arc::new(tokio::sync::Notify::new());
        let group = match backend {
            Backend::Sqlite if config.sqlite_group_commit => Some(Arc::new(GroupCommit::new(
                write.clone(),
                config.acquire_timeout,
                config.sqlite_group_commit_window,
                jobs_wakeup.clone(),
            )?)),
            _ => None,
        };
        Ok(Db {
            inner: Arc::new(Inner {
                backend,
                write,
                read,
                config: config.clone(),
                group,
                jobs_wakeup,
                subscribers: RwLock::default(),
            }),
        })
    }

    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    pub fn config(&self) -> &DbConfig {
        &self.inner.config
    }

    /// A write transaction for one tenant.
    pub async fn tenant(&self, tenant: &TenantId) -> StoreResult<TenantTx> {
        TenantTx::begin(self, &self.inner.write, true, tenant.clone()).await
    }

    /// A read-only transaction for one tenant (SQLite: served by the reader pool in parallel).
    pub async fn tenant_read(&self, tenant: &TenantId) -> StoreResult<TenantTx> {
        TenantTx::begin(self, &self.inner.read, false, tenant.clone()).await
    }

    /// A write transaction that may cross tenants. Use only where no single tenant is known yet.
    pub async fn system(&self) -> StoreResult<SystemTx> {
        SystemTx::begin(self, &self.inner.write, true).await
    }

    pub async fn system_read(&self) -> StoreResult<SystemTx> {
        SystemTx::begin(self, &self.inner.read, false).await
    }

    /// The tenants with a row in `table` whose `column` (a time in UTC ms) is at or after
    /// `since_ms`: how the business-metrics feed finds active tenants without visiting idle ones.
    /// `table` and `column` are SQL identifiers written in the code, never input; `column`
    /// should lead an index of its own.
    pub async fn tenants_active_since(
        &self,
        table: &'static str,
        column: &'static str,
        since_ms: i64,
    ) -> StoreResult<Vec<TenantId>> {
        let mut tx = self.system_read().await?;
        let sql = format!("SELECT DISTINCT tenant_id FROM {table} WHERE {column} >= $1");
        let ids: Vec<String> = sqlx::query_scalar(&sql).bind(since_ms).fetch_all(tx.conn()).await?;
        Ok(ids.into_iter().map(TenantId::from_db).collect())
    }

    /// Checks that the database answers (for readiness probes).
    pub async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.inner.read).await?;
        Ok(())
    }

    /// (in use, idle, max) connections of the write and read pools, for metrics.
    pub fn pool_stats(&self) -> [(&'static str, u32, usize, u32); 2] {
        let stat = |p: &AnyPool| (p.size(), p.num_idle(), p.options().get_max_connections());
        let (ws, wi, wm) = stat(&self.inner.write);
        let (rs, ri, rm) = stat(&self.inner.read);
        [("write", ws, wi, wm), ("read", rs, ri, rm)]
    }

    /// SQLite with group commit: the writer's queue and commit counters.
    pub fn sqlite_writer_stats(&self) -> Option<WriterStats> {
        self.inner.group.as_ref().map(|g| g.stats())
    }

    pub(crate) fn set_subscribers(&self, subscribers: Subscribers) {
        *self.inner.subscribers.write().unwrap_or_else(PoisonError::into_inner) = subscribers;
    }

    pub(crate) fn subscribers(&self) -> Subscribers {
        self.inner.subscribers.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub(crate) fn jobs_wakeup(&self) -> &tokio::sync::Notify {
        &self.inner.jobs_wakeup
    }

    pub(crate) fn group_commit(&self) -> Option<&Arc<GroupCommit>> {
        self.inner.group.as_ref()
    }

    pub async fn close(&self) {
        self.inner.write.close().await;
        self.inner.read.close().await;
    }
}

fn connect_options(config: &DbConfig) -> StoreResult<AnyConnectOptions> {
    // sqlx's per-statement logs are filtered by the tracing subscriber (`sqlx=warn` by default).
    AnyConnectOptions::from_str(&config.url)
        .map_err(|e| StoreError::Config(format!("invalid database URL {}: {e}", config.redacted_url())))
}

async fn sqlite_pool(options: &AnyConnectOptions, size: u32, config: &DbConfig, init: String) -> StoreResult<AnyPool> {
    Ok(AnyPoolOptions::new()
        .max_connections(size)
        .min_connections(1)
        .acquire_timeout(config.acquire_timeout)
        // A local file has nothing to check before use, and the check is not free: every
        // statement is a round trip to the connection's own thread (two thread wake-ups), so a
        // ping per checkout was one more round trip per transaction on the chat turn's path.
        .test_before_acquire(false)
        .after_connect(move |conn, _| {
            let init = init.clone();
            Box::pin(async move {
                conn.execute(init.as_str()).await?;
                Ok(())
            })
        })
        .connect_with(options.clone())
        .await?)
}

fn sqlite_synchronous(value: &str) -> StoreResult<&'static str> {
    match value.to_ascii_uppercase().as_str() {
        "FULL" => Ok("FULL"),
        "NORMAL" => Ok("NORMAL"),
        "EXTRA" => Ok("EXTRA"),
        other => Err(StoreError::Config(format!("sqlite synchronous must be FULL, NORMAL or EXTRA, not {other}"))),
    }
}

/// Role names are spliced into `SET ROLE`, so only plain identifiers are accepted.
pub(crate) fn validate_identifier(name: &str) -> StoreResult<()> {
    let ok = name.is_empty()
        || (name.len() <= 63
            && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Config(format!("invalid PostgreSQL role name {name:?}")))
    }
}
