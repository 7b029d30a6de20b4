//! Migrations: each capability crate owns its schema as numbered SQL files per engine
//! (`migrations/{sqlite,postgres}/NNNN_name.{up,down}.sql`), exposed as a `MIGRATIONS` slice.
//! The binary applies the slices in dependency order. Applied versions are recorded per component
//! with a checksum, so an edited, already-applied migration is refused instead of silently drifting.

use crate::db::{validate_identifier, Backend, DbConfig};
use crate::error::{StoreError, StoreResult};
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Connection, Executor, Row};

/// One schema step of one component, for both engines.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub component: &'static str,
    pub version: u32,
    pub name: &'static str,
    pub sqlite_up: &'static str,
    pub sqlite_down: &'static str,
    pub postgres_up: &'static str,
    pub postgres_down: &'static str,
}

/// `migration!("identity", 1, "0001_init")` embeds
/// `migrations/{sqlite,postgres}/0001_init.{up,down}.sql` of the calling crate.
#[macro_export]
macro_rules! migration {
    ($component:literal, $version:literal, $file:literal) => {
        $crate::Migration {
            component: $component,
            version: $version,
            name: $file,
            sqlite_up: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite/", $file, ".up.sql")),
            sqlite_down: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite/", $file, ".down.sql")),
            postgres_up: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres/", $file, ".up.sql")),
            postgres_down: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/migrations/postgres/",
                $file,
                ".down.sql"
            )),
        }
    };
}

impl Migration {
    fn up(&self, backend: Backend) -> &'static str {
        match backend {
            Backend::Sqlite => self.sqlite_up,
            Backend::Postgres => self.postgres_up,
        }
    }

    fn down(&self, backend: Backend) -> &'static str {
        match backend {
            Backend::Sqlite => self.sqlite_down,
            Backend::Postgres => self.postgres_down,
        }
    }

    fn checksum(&self, backend: Backend) -> String {
        data_encoding::HEXLOWER.encode(&Sha256::digest(self.up(backend).as_bytes()))
    }
}

/// Serialises concurrent `migrate` runs of several replicas on PostgreSQL.
const MIGRATION_LOCK_KEY: i64 = 0x0066_726f_6e74_646b;

/// Applies every pending migration, in order. Returns how many were applied.
pub async fn run(config: &DbConfig, migrations: &[Migration]) -> StoreResult<usize> {
    let backend = config.backend()?;
    let mut conn = admin_connection(config).await?;
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_lock($1)").bind(MIGRATION_LOCK_KEY).execute(&mut conn).await?;
    }
    let result = apply_pending(&mut conn, backend, config, migrations).await;
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_unlock($1)").bind(MIGRATION_LOCK_KEY).execute(&mut conn).await?;
    }
    let _ = conn.close().await;
    result
}

async fn apply_pending(
    conn: &mut AnyConnection,
    backend: Backend,
    config: &DbConfig,
    migrations: &[Migration],
) -> StoreResult<usize> {
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            component TEXT NOT NULL, version BIGINT NOT NULL, name TEXT NOT NULL,
            checksum TEXT NOT NULL, applied_at BIGINT NOT NULL, PRIMARY KEY (component, version))",
    )
    .await?;
    if backend == Backend::Postgres {
        ensure_app_role(conn, &config.app_role).await?;
    }
    let mut applied = 0;
    for m in migrations {
        let row = sqlx::query("SELECT checksum FROM schema_migrations WHERE component = $1 AND version = $2")
            .bind(m.component)
            .bind(m.version as i64)
            .fetch_optional(&mut *conn)
            .await?;
        let checksum = m.checksum(backend);
        if let Some(row) = row {
            let stored: String = row.try_get("checksum")?;
            if stored != checksum {
                return Err(StoreError::Migration {
                    component: m.component.into(),
                    version: m.version,
                    message: "was changed after it was applied; add a new migration instead".into(),
                });
            }
            continue;
        }
        let mut tx = conn.begin().await?;
        sqlx::raw_sql(m.up(backend)).execute(&mut *tx).await.map_err(|e| StoreError::Migration {
            component: m.component.into(),
            version: m.version,
            message: e.to_string(),
        })?;
        sqlx::query(
            "INSERT INTO schema_migrations (component, version, name, checksum, applied_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(m.component)
        .bind(m.version as i64)
        .bind(m.name)
        .bind(checksum)
        .bind(frontdesk_kernel::time::now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(component = m.component, version = m.version, name = m.name, "migration applied");
        applied += 1;
    }
    if backend == Backend::Postgres && !config.app_role.is_empty() {
        grant_app_role(conn, &config.app_role).await?;
    }
    Ok(applied)
}

/// Reverts every applied migration, newest first (tests check up → down → up).
pub async fn revert_all(config: &DbConfig, migrations: &[Migration]) -> StoreResult<usize> {
    let backend = config.backend()?;
    let mut conn = admin_connection(config).await?;
    let mut reverted = 0;
    for m in migrations.iter().rev() {
        let exists = sqlx::query("SELECT 1 FROM schema_migrations WHERE component = $1 AND version = $2")
            .bind(m.component)
            .bind(m.version as i64)
            .fetch_optional(&mut conn)
            .await?
            .is_some();
        if !exists {
            continue;
        }
        let mut tx = conn.begin().await?;
        sqlx::raw_sql(m.down(backend)).execute(&mut *tx).await.map_err(|e| StoreError::Migration {
            component: m.component.into(),
            version: m.version,
            message: format!("down: {e}"),
        })?;
        sqlx::query("DELETE FROM schema_migrations WHERE component = $1 AND version = $2")
            .bind(m.component)
            .bind(m.version as i64)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        reverted += 1;
    }
    let _ = conn.close().await;
    Ok(reverted)
}

/// A connection as the login role (not the app role): migrations own the schema.
async fn admin_connection(config: &DbConfig) -> StoreResult<AnyConnection> {
    sqlx::any::install_default_drivers();
    if config.backend()? == Backend::Sqlite {
        create_sqlite_parent_dir(&config.url)?;
    }
    let mut conn = AnyConnection::connect(&config.url).await?;
    if config.backend()? == Backend::Sqlite {
        conn.execute("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;").await?;
    }
    Ok(conn)
}

fn create_sqlite_parent_dir(url: &str) -> StoreResult<()> {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or("");
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(parent) = std::path::Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| StoreError::Config(format!("cannot create data directory {}: {e}", parent.display())))?;
    }
    Ok(())
}

/// Creates the non-superuser application role (cluster-wide) unless it exists.
async fn ensure_app_role(conn: &mut AnyConnection, role: &str) -> StoreResult<()> {
    validate_identifier(role)?;
    if role.is_empty() {
        return Ok(());
    }
    let exists = sqlx::query("SELECT 1 FROM pg_roles WHERE rolname = $1").bind(role).fetch_optional(&mut *conn).await?;
    if exists.is_none() {
        // Tests create databases in parallel: a concurrent CREATE ROLE is not an error.
        let sql = format!(
            "DO $$ BEGIN CREATE ROLE {role} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE; \
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        );
        conn.execute(sql.as_str()).await?;
    }
    // A login role that is not a superuser needs membership to `SET ROLE`.
    let sql = format!(
        "DO $$ BEGIN EXECUTE 'GRANT {role} TO ' || quote_ident(session_user); \
         EXCEPTION WHEN OTHERS THEN NULL; END $$"
    );
    conn.execute(sql.as_str()).await?;
    Ok(())
}

async fn grant_app_role(conn: &mut AnyConnection, role: &str) -> StoreResult<()> {
    let sql = format!(
        "GRANT USAGE ON SCHEMA public TO {role};
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};
         GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role};
         REVOKE ALL ON schema_migrations FROM {role};
         REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM {role};"
    );
    sqlx::raw_sql(&sql).execute(&mut *conn).await?;
    Ok(())
}
