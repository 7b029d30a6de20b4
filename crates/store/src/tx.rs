//! Transactions: [`TenantTx`] and [`SystemTx`] over one engine-neutral handle. SQLite write
//! transactions go through [`crate::group_commit`] (unless disabled); SQLite reads run on a
//! read-only pooled connection; everything else is a plain sqlx transaction.
//!
//! Reads see committed data as of each statement, on both engines: PostgreSQL's read
//! transactions are `READ COMMITTED` (a fresh snapshot per statement), and SQLite reads need no
//! `BEGIN`/`ROLLBACK` for the same guarantee — two round trips to the connection's thread saved
//! on every read, which the chat turn's path does several times.

use crate::db::{Backend, Db};
use crate::error::StoreResult;
use crate::group_commit::{self, GroupTx};
use frontdesk_kernel::TenantId;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Transaction};

/// What every store function needs from a transaction. Tenant data is only reachable through
/// [`TenantTx`]; functions that must cross tenants take [`SystemTx`] explicitly.
pub trait Tx: Send {
    /// The connection to run queries on (`query(..).execute(tx.conn())`).
    fn conn(&mut self) -> &mut AnyConnection;
    fn backend(&self) -> Backend;
    /// The tenant the transaction is bound to; `None` for a system transaction.
    fn tenant_id(&self) -> Option<&TenantId>;
    /// Asks for the job workers to be woken when this transaction commits.
    fn wake_jobs_on_commit(&mut self);
}

struct Inner {
    handle: Handle,
    db: Db,
    wake_jobs: bool,
}

enum Handle {
    /// A transaction of its own (PostgreSQL, SQLite writes without group commit).
    Own(Transaction<'static, Any>),
    /// A SQLite reader connection (opened `query_only`) in autocommit mode.
    Read(PoolConnection<Any>),
    /// A logical SQLite write transaction inside a shared physical one.
    Grouped(GroupTx),
}

impl Inner {
    /// Begins a transaction; on PostgreSQL `setting` (`name`, `value`) is set transaction-locally
    /// in the same round trip as `BEGIN` (one simple-protocol message).
    async fn begin(db: &Db, pool: &AnyPool, write: bool, setting: Option<(&str, &str)>) -> StoreResult<Self> {
        let tx = match (db.backend(), write) {
            (Backend::Sqlite, true) => match db.group_commit() {
                Some(group) => {
                    let tx = group.begin().await?;
                    return Ok(Self { handle: Handle::Grouped(tx), db: db.clone(), wake_jobs: false });
                }
                // IMMEDIATE takes SQLite's write lock up front: a read-then-write transaction can
                // never fail to upgrade when another process (the CLI) wrote in between.
                None => group_commit::begin_physical(pool).await?,
            },
            (Backend::Sqlite, false) => {
                let conn = pool.acquire().await?;
                return Ok(Self { handle: Handle::Read(conn), db: db.clone(), wake_jobs: false });
            }
            (Backend::Postgres, write) => {
                let begin = if write { "BEGIN" } else { "BEGIN READ ONLY" };
                match setting {
                    // Only ids of our own alphabet are spliced into SQL; anything else is bound.
                    Some((name, value)) if is_plain(value) => {
                        pool.begin_with(format!("{begin}; SELECT set_config('{name}', '{value}', true)")).await?
                    }
                    Some((name, value)) => {
                        let mut tx = pool.begin_with(begin).await?;
                        sqlx::query("SELECT set_config($1, $2, true)").bind(name).bind(value).execute(&mut *tx).await?;
                        tx
                    }
                    None => pool.begin_with(begin).await?,
                }
            }
        };
        Ok(Self { handle: Handle::Own(tx), db: db.clone(), wake_jobs: false })
    }

    fn conn(&mut self) -> &mut AnyConnection {
        match &mut self.handle {
            Handle::Own(tx) => tx,
            Handle::Read(conn) => conn,
            Handle::Grouped(tx) => tx.conn(),
        }
    }

    async fn commit(self) -> StoreResult<()> {
        match self.handle {
            // The batch wakes the job workers after its physical commit.
            Handle::Grouped(tx) => tx.commit(self.wake_jobs).await,
            // Nothing to commit: the connection is read-only.
            Handle::Read(_) => Ok(()),
            Handle::Own(tx) => {
                tx.commit().await?;
                if self.wake_jobs {
                    self.db.jobs_wakeup().notify_one();
                }
                Ok(())
            }
        }
    }
}

/// Letters, digits and underscores only: safe to place inside a SQL string literal.
fn is_plain(value: &str) -> bool {
    !value.is_empty() && value.len() <= 64 && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A transaction bound to one tenant. On PostgreSQL it carries `app.tenant_id` (transaction-local,
/// so a pooled connection never takes it to the next request) and row-level security filters
/// every tenant table by it.
pub struct TenantTx {
    inner: Inner,
    tenant: TenantId,
}

impl TenantTx {
    pub(crate) async fn begin(db: &Db, pool: &AnyPool, write: bool, tenant: TenantId) -> StoreResult<Self> {
        let inner = Inner::begin(db, pool, write, Some(("app.tenant_id", tenant.as_str()))).await?;
        Ok(Self { inner, tenant })
    }

    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    pub(crate) fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The tenant id as a query parameter.
    pub fn tid(&self) -> &str {
        self.tenant.as_str()
    }

    pub async fn commit(self) -> StoreResult<()> {
        self.inner.commit().await
    }
}

impl Tx for TenantTx {
    fn conn(&mut self) -> &mut AnyConnection {
        self.inner.conn()
    }
    fn backend(&self) -> Backend {
        self.inner.db.backend()
    }
    fn tenant_id(&self) -> Option<&TenantId> {
        Some(&self.tenant)
    }
    fn wake_jobs_on_commit(&mut self) {
        self.inner.wake_jobs = true;
    }
}

/// A transaction that may read and write every tenant's rows (PostgreSQL: `app.system = on`,
/// which the row-level security policies honour). For job claims, log-in and token look-ups
/// before the tenant is known, sign-up, and the platform operator's views.
pub struct SystemTx {
    inner: Inner,
}

impl SystemTx {
    pub(crate) async fn begin(db: &Db, pool: &AnyPool, write: bool) -> StoreResult<Self> {
        let inner = Inner::begin(db, pool, write, Some(("app.system", "on"))).await?;
        Ok(Self { inner })
    }

    pub async fn commit(self) -> StoreResult<()> {
        self.inner.commit().await
    }
}

impl Tx for SystemTx {
    fn conn(&mut self) -> &mut AnyConnection {
        self.inner.conn()
    }
    fn backend(&self) -> Backend {
        self.inner.db.backend()
    }
    fn tenant_id(&self) -> Option<&TenantId> {
        None
    }
    fn wake_jobs_on_commit(&mut self) {
        self.inner.wake_jobs = true;
    }
}
