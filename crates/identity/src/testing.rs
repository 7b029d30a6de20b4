//! For other crates' tests: a tenant row written straight into a migrated database, so their
//! tables' `REFERENCES tenants` hold without going through sign-up.

use crate::model::{Tenant, TenantStatus};
use frontdesk_kernel::TenantId;
use frontdesk_store::{Db, StoreResult};

/// Inserts an active tenant named "Studio" (slug from its id) and returns its id.
pub async fn insert_tenant(db: &Db) -> StoreResult<TenantId> {
    let id = TenantId::new();
    let record = Tenant {
        id: id.clone(),
        slug: format!("t-{}", id.as_str()[4..].to_ascii_lowercase()),
        name: "Studio".into(),
        status: TenantStatus::Active,
        time_zone: "Europe/Berlin".into(),
        locale: "en".into(),
        industry: "fitness".into(),
        created_at: frontdesk_kernel::time::now_ms(),
    };
    let mut tx = db.system().await?;
    crate::store::insert_tenant(&mut tx, &record).await?;
    tx.commit().await?;
    Ok(id)
}
