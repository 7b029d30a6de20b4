//! The platform operator's list of tenants, with suspend and reactivate.

use super::response::{show, with_notice, Shown};
use crate::model::{TenantStatus, TenantSummary};
use crate::service::Identity;
use axum::extract::State;
use axum::response::Response;
use frontdesk_kernel::{Error, TenantId};
use frontdesk_web::pages::Page;
use frontdesk_web::{ApiPath, AuditActor};
use serde::Serialize;

const TENANTS: &str = "/platform/tenants";

#[derive(Serialize)]
struct TenantsView {
    tenants: Vec<TenantSummary>,
}

/// `GET /platform/tenants`
pub async fn tenants(State(identity): State<Identity>, page: Page) -> Response {
    match identity.platform_tenants(None, 1000).await {
        Ok(tenants) => show(&page, "identity/platform_tenants.html", Shown::ok(), TenantsView { tenants }),
        Err(e) => page.error(e),
    }
}

async fn set_status(
    identity: &Identity,
    page: &Page,
    tenant_id: &str,
    status: TenantStatus,
    actor: &frontdesk_store::audit::Actor,
) -> Response {
    let Some(id) = TenantId::parse(tenant_id) else {
        return page.error(Error::NotFound);
    };
    let notice = match status {
        TenantStatus::Suspended => "tenant_suspended",
        TenantStatus::Active => "tenant_reactivated",
    };
    match identity.set_tenant_status(&id, status, actor).await {
        Ok(_) => with_notice(TENANTS, notice),
        Err(e) => page.error(e),
    }
}

/// `POST /platform/tenants/{tenant_id}/suspend`
pub async fn suspend(
    State(identity): State<Identity>,
    page: Page,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<String>,
) -> Response {
    set_status(&identity, &page, &id, TenantStatus::Suspended, &actor).await
}

/// `POST /platform/tenants/{tenant_id}/reactivate`
pub async fn reactivate(
    State(identity): State<Identity>,
    page: Page,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<String>,
) -> Response {
    set_status(&identity, &page, &id, TenantStatus::Active, &actor).await
}
