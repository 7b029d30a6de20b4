//! Storage for every capability: one SQL dialect for SQLite and PostgreSQL, chosen by URL.
//!
//! - [`Db`]: the pools. On SQLite one writer connection and several readers (WAL); on PostgreSQL
//!   one pool whose connections act as the non-superuser application role, so row-level
//!   security always applies.
//! - [`TenantTx`]: a transaction bound to one tenant. Store functions that touch tenant data
//!   take it, so forgetting the tenant does not compile; on PostgreSQL it also sets
//!   `app.tenant_id` for the transaction, so a query that forgets its `WHERE tenant_id` sees
//!   nothing rather than another tenant's rows.
//! - [`SystemTx`]: the explicit, greppable way to cross tenants (job claims, log-in look-ups,
//!   the operator's views).
//! - [`group_commit`]: on SQLite, concurrent write transactions share one durable commit.
//! - [`migrate`]: per-engine migrations owned by each capability crate, with up and down.
//! - [`jobs`]: the durable job queue in the same database.
//! - [`audit`]: the append-only audit log.
//! - [`Conditions`]: WHERE clauses of the optional filters a request sets, visible to the planner.
#![forbid(unsafe_code)]

pub mod audit;
pub mod conditions;
mod db;
mod error;
pub mod events;
pub mod group_commit;
pub mod idempotency;
pub mod jobs;
pub mod migrate;
mod shared_error;
pub mod testing;
mod tx;

pub use conditions::{Conditions, Param};
pub use db::{Backend, Db, DbConfig};
pub use error::{StoreError, StoreResult};
pub use group_commit::WriterStats;
pub use migrate::Migration;
pub use tx::{SystemTx, TenantTx, Tx};

/// Re-exported so capability crates write queries without naming sqlx's generics.
pub use sqlx::{any::AnyRow, query, query_as, query_scalar, Row};

/// Migrations of the store itself (job queue, audit log, the RLS helper on PostgreSQL).
pub const MIGRATIONS: &[Migration] = &[
    migration!("store", 1, "0001_core"),
    migration!("store", 2, "0002_idempotency"),
    migration!("store", 3, "0003_audit_recent"),
];
