//! Fresh databases for tests of every crate: a new SQLite file in the temporary directory, or a
//! new database on the PostgreSQL server named by `FRONTDESK_TEST_POSTGRES` (default: the local
//! server as `postgres`), migrated and dropped again at the end.

use crate::db::{Db, DbConfig};
use crate::error::{StoreError, StoreResult};
use crate::migrate::{self, Migration};
use crate::tx::Tx;
use sqlx::{Connection, Executor, PgConnection, Row};

/// The PostgreSQL server tests create their databases on (an admin URL ending in `/<database>`).
pub fn postgres_admin_url() -> String {
    std::env::var("FRONTDESK_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Runs `sql` on the admin connection of the test server (database creation and removal).
pub async fn postgres_admin(sql: &str) -> StoreResult<()> {
    let mut conn = PgConnection::connect(&postgres_admin_url()).await?;
    conn.execute(sql).await?;
    let _ = conn.close().await;
    Ok(())
}

/// A database of its own for one test.
pub struct TestDb {
    pub db: Db,
    pub config: DbConfig,
    /// The PostgreSQL database's name, to drop at the end.
    postgres: Option<String>,
}

impl TestDb {
    /// Creates a fresh database (`label` goes into its name), runs `migrations` and connects with
    /// a small pool. `tweak` adjusts the configuration first (pool size, `synchronous`, …).
    pub async fn create(
        postgres: bool,
        label: &str,
        migrations: &[Migration],
        tweak: impl FnOnce(&mut DbConfig),
    ) -> StoreResult<TestDb> {
        let body = frontdesk_kernel::id::new_body().to_lowercase();
        let (url, name) = if postgres {
            let name = format!("fd_{label}_{body}");
            postgres_admin(&format!("CREATE DATABASE {name}")).await?;
            let admin = postgres_admin_url();
            let (server, _) = admin
                .rsplit_once('/')
                .ok_or_else(|| StoreError::Config("FRONTDESK_TEST_POSTGRES must end with /<database>".into()))?;
            (format!("{server}/{name}"), Some(name))
        } else {
            let path = std::env::temp_dir().join(format!("fd-{label}-{body}.db"));
            (format!("sqlite://{}?mode=rwc", path.display()), None)
        };
        let mut config = DbConfig::new(url);
        config.max_connections = 4;
        tweak(&mut config);
        migrate::run(&config, migrations).await?;
        let db = Db::connect(&config).await?;
        Ok(TestDb { db, config, postgres: name })
    }

    /// Closes the pools and drops the PostgreSQL database (a SQLite file stays in the temporary
    /// directory, like any test artefact).
    pub async fn drop_database(self) -> StoreResult<()> {
        self.db.close().await;
        if let Some(name) = self.postgres {
            postgres_admin(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await?;
        }
        Ok(())
    }
}

/// SQLite's plan for `sql` — the `detail` of each `EXPLAIN QUERY PLAN` row, joined by " | " —
/// with its `binds` parameters bound to NULL: for tests that pin the index a query must use
/// (SQLite's planner has no statistics, so a missing index shows as a walk of another one).
pub async fn sqlite_plan(tx: &mut impl Tx, sql: &str, binds: usize) -> StoreResult<String> {
    let explain = format!("EXPLAIN QUERY PLAN {sql}");
    let mut query = sqlx::query(&explain);
    for _ in 0..binds {
        query = query.bind(None::<String>);
    }
    let rows = query.fetch_all(tx.conn()).await?;
    let details = rows.iter().map(|r| r.try_get::<String, _>("detail")).collect::<Result<Vec<_>, _>>()?;
    Ok(details.join(" | "))
}
