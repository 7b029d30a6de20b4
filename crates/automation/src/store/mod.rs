//! Automation's SQL, written once for SQLite and PostgreSQL; every function takes a `TenantTx`
//! except the scheduler's cross-tenant look-up, which takes a `SystemTx`.

use crate::model::*;
use frontdesk_store::{AnyRow, Row, StoreError, StoreResult, SystemTx, TenantTx, Tx};

mod deliveries;
mod endpoints;
mod runs;
mod workflows;

pub use deliveries::*;
pub use endpoints::*;
pub use runs::*;
pub use workflows::*;

/// Lists are stored as JSON text.
fn json_list(r: &AnyRow, col: &str) -> StoreResult<Vec<String>> {
    let text: String = r.try_get(col)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Config(format!("{col} is not a JSON list: {e}")))
}
