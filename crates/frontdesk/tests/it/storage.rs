//! Storage: migrations both ways, SQLite settings, and PostgreSQL row-level security as the
//! application role.

use crate::harness::{postgres_admin_url, Backend, TestApp};
use frontdesk_store::{migrate, DbConfig};
use sqlx::{Connection, Row};

async fn migrations_up_down_up(app: &TestApp) {
    let config = frontdesk::app::db_config(&app.config);
    let all = frontdesk::app::migrations();
    app.db.close().await;
    let reverted = migrate::revert_all(&config, &all).await.expect("down");
    assert_eq!(reverted, all.len());
    assert_eq!(migrate::run(&config, &all).await.expect("up again"), all.len());
    assert_eq!(migrate::run(&config, &all).await.expect("idempotent"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_sqlite() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    migrations_up_down_up(&app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_postgres() {
    let app = TestApp::spawn(Backend::Postgres).await;
    migrations_up_down_up(&app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edited_migration_is_refused() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let config = frontdesk::app::db_config(&app.config);
    let mut all = frontdesk::app::migrations();
    all[1].sqlite_up = "SELECT 1";
    let err = migrate::run(&config, &all).await.expect_err("changed checksum");
    assert!(err.to_string().contains("changed after it was applied"), "{err}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_runs_in_wal_mode() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let mut tx = app.db.system_read().await.expect("tx");
    let mode: String = frontdesk_store::query_scalar("PRAGMA journal_mode")
        .fetch_one(frontdesk_store::Tx::conn(&mut tx))
        .await
        .expect("pragma");
    assert_eq!(mode, "wal");
    let fk: i64 = frontdesk_store::query_scalar("PRAGMA foreign_keys")
        .fetch_one(frontdesk_store::Tx::conn(&mut tx))
        .await
        .expect("pragma");
    assert_eq!(fk, 1);
    drop(tx);
    app.stop().await;
}

/// As the application role, with no tenant set, every tenant table looks empty — and every table
/// with a `tenant_id` column is a protected tenant table (new tables are covered automatically).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_rls_hides_everything_without_a_tenant() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let a = app.tenant("Rls Alpha").await;
    let _b = app.tenant("Rls Beta").await;
    let url = app.config.database_url();
    let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
    let tables: Vec<String> = sqlx::query(
        "SELECT c.table_name FROM information_schema.columns c JOIN information_schema.tables t
           ON t.table_name = c.table_name AND t.table_schema = c.table_schema
         WHERE c.column_name = 'tenant_id' AND c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
         ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .expect("tables")
    .iter()
    .map(|r| r.get::<String, _>(0))
    .collect();
    for expected in ["jobs", "audit_log", "memberships", "api_keys", "invitations", "workspaces", "outbox_emails"] {
        assert!(tables.contains(&expected.to_owned()), "{expected} in {tables:?}");
    }
    // Sessions and token families name the user's current tenant but belong to the user.
    let user_tables = ["sessions", "token_families"];
    for table in &tables {
        if user_tables.contains(&table.as_str()) {
            continue;
        }
        let flags = sqlx::query("SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = $1")
            .bind(table)
            .fetch_one(&mut conn)
            .await
            .expect("pg_class");
        assert!(flags.get::<bool, _>(0) && flags.get::<bool, _>(1), "{table} has ENABLE and FORCE row level security");
    }
    sqlx::query("SET ROLE frontdesk_app").execute(&mut conn).await.expect("set role");
    let is_super: bool = sqlx::query_scalar("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        .fetch_one(&mut conn)
        .await
        .expect("role");
    assert!(!is_super, "the application role is not a superuser");
    for table in &tables {
        if user_tables.contains(&table.as_str()) {
            continue;
        }
        let visible: i64 =
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(&mut conn).await.expect("count");
        assert_eq!(visible, 0, "{table}: the application role sees nothing without a tenant");
    }
    // With A's tenant set (transaction-local), only A's rows.
    let mut tx = conn.begin().await.expect("begin");
    sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
        .bind(&a.tenant_id)
        .execute(&mut *tx)
        .await
        .expect("set");
    let foreign: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM memberships WHERE tenant_id <> $1")
        .bind(&a.tenant_id)
        .fetch_one(&mut *tx)
        .await
        .expect("count");
    assert_eq!(foreign, 0);
    let own: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM memberships").fetch_one(&mut *tx).await.expect("count");
    assert_eq!(own, 1);
    // Writing a row for another tenant is refused by the policy.
    let err = sqlx::query(
        "INSERT INTO workspaces (tenant_id, id, name, created_at, updated_at) VALUES ('ten_other', 'wsp_x', 'x', 0, 0)",
    )
    .execute(&mut *tx)
    .await;
    assert!(err.is_err(), "WITH CHECK refuses a row of another tenant");
    drop(tx);
    // The setting does not outlive its transaction.
    let after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM memberships").fetch_one(&mut conn).await.expect("count");
    assert_eq!(after, 0);
    // The audit log is append-only for the application.
    let err = sqlx::query("UPDATE audit_log SET action = 'x'").execute(&mut conn).await;
    assert!(err.is_err());
    let _ = conn.close().await;
    let _ = postgres_admin_url();
    let _ = DbConfig::new("sqlite://x");
    app.stop().await;
}
