//! Identity's SQL, written once for SQLite and PostgreSQL. Tenant data goes through `TenantTx`;
//! the user-level tables (users, sessions, token families) and cross-tenant look-ups through
//! `SystemTx`.

use crate::model::*;
use frontdesk_kernel::time::now_ms;
use frontdesk_kernel::TenantId;
use frontdesk_store::{AnyRow, Row, StoreError, StoreResult, SystemTx, TenantTx, Tx};
use frontdesk_web::Role;

pub(crate) fn role_of(r: &AnyRow, col: &str) -> StoreResult<Role> {
    let s: String = r.try_get(col)?;
    Role::parse(&s).ok_or_else(|| StoreError::Config(format!("unknown role {s} in the database")))
}

mod api_keys;
mod invitations;
mod members;
mod outbox;
mod sessions;
mod tenants;
mod users;

pub use api_keys::*;
pub use invitations::*;
pub use members::*;
pub use outbox::*;
pub use sessions::*;
pub use tenants::*;
pub use users::*;
