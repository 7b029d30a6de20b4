//! The overview (`/app`), adding and switching businesses, and the tenant's settings.

use super::response::{non_empty, see_other, show, with_notice, Shown, HOME};
use crate::model::{NewTenantRequest, UpdateTenantRequest, INDUSTRIES};
use crate::service::Identity;
use axum::extract::State;
use axum::response::Response;
use axum::Form;
use frontdesk_kernel::{Error, TenantId};
use frontdesk_web::pages::Page;
use frontdesk_web::{AuditActor, Permission, Principal, Role};
use serde::{Deserialize, Serialize};

const OVERVIEW: &str = "identity/overview.html";
const SETTINGS: &str = "identity/settings.html";

#[derive(Serialize)]
struct Link {
    href: &'static str,
    label: &'static str,
}

/// A new business's fields (the overview's form).
#[derive(Deserialize, Serialize)]
pub struct TenantForm {
    #[serde(default)]
    tenant_name: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    time_zone: String,
    #[serde(default)]
    locale: String,
    #[serde(default)]
    industry: String,
}

impl TenantForm {
    fn blank(page: &Page) -> Self {
        Self {
            tenant_name: String::new(),
            slug: String::new(),
            time_zone: "Europe/Berlin".into(),
            locale: page.locale.as_str().into(),
            industry: "other".into(),
        }
    }
}

#[derive(Serialize)]
struct OverviewView {
    tenant_name: Option<String>,
    role: Option<Role>,
    links: Vec<Link>,
    form: TenantForm,
    industries: &'static [&'static str],
}

fn overview(page: &Page, principal: &Principal, shown: Shown, form: TenantForm) -> Response {
    let candidates = [
        ("/app/team", "nav.team", Some(Permission::MembersRead)),
        ("/app/api-keys", "nav.api_keys", Some(Permission::ApiKeysRead)),
        ("/app/account", "nav.account", None),
    ];
    let links = candidates
        .into_iter()
        .filter(|(_, _, needs)| needs.is_none_or(|p| principal.can(p)))
        .map(|(href, label, _)| Link { href, label })
        .collect();
    let data = OverviewView {
        tenant_name: principal.tenant_id.as_ref().and(principal.tenant_name.clone()),
        role: principal.role,
        links,
        form,
        industries: INDUSTRIES,
    };
    show(page, OVERVIEW, shown, data)
}

/// `GET /app`
pub async fn home(page: Page, principal: Principal) -> Response {
    let form = TenantForm::blank(&page);
    overview(&page, &principal, Shown::ok(), form)
}

/// `POST /app/tenants`: adds a business owned by the caller and switches to it.
pub async fn create_tenant(
    State(identity): State<Identity>,
    page: Page,
    principal: Principal,
    AuditActor(actor): AuditActor,
    Form(form): Form<TenantForm>,
) -> Response {
    let req = NewTenantRequest {
        tenant_name: form.tenant_name.clone(),
        slug: non_empty(&form.slug),
        time_zone: non_empty(&form.time_zone),
        locale: non_empty(&form.locale),
        industry: non_empty(&form.industry),
    };
    let tenant = match identity.create_tenant(&principal, req, &actor).await {
        Ok(t) => t,
        Err(e) => {
            return match Shown::from_error(&page, e) {
                Ok(shown) => overview(&page, &principal, shown, form),
                Err(e) => page.error(e),
            }
        }
    };
    match identity.switch_session_tenant(&principal, &tenant.id).await {
        Ok(()) => with_notice(HOME, "tenant_created"),
        Err(e) => page.error(e),
    }
}

#[derive(Deserialize)]
pub struct SwitchForm {
    #[serde(default)]
    tenant_id: String,
}

/// `POST /app/switch-tenant`
pub async fn switch_tenant(
    State(identity): State<Identity>,
    page: Page,
    principal: Principal,
    Form(form): Form<SwitchForm>,
) -> Response {
    let Some(tenant) = TenantId::parse(form.tenant_id.trim()) else {
        return page.error(Error::NotFound);
    };
    match identity.switch_session_tenant(&principal, &tenant).await {
        Ok(()) => see_other(HOME),
        Err(e) => page.error(e),
    }
}

/// The tenant's editable settings.
#[derive(Deserialize, Serialize)]
pub struct SettingsForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    time_zone: String,
    #[serde(default)]
    locale: String,
    #[serde(default)]
    industry: String,
}

#[derive(Serialize)]
struct SettingsView {
    slug: String,
    form: SettingsForm,
    can_manage: bool,
    industries: &'static [&'static str],
}

async fn settings_page(
    identity: &Identity,
    page: &Page,
    principal: &Principal,
    shown: Shown,
    form: Option<SettingsForm>,
) -> Response {
    let tenant = match identity.tenant(principal).await {
        Ok(t) => t,
        Err(e) => return page.error(e),
    };
    let form = form.unwrap_or(SettingsForm {
        name: tenant.name,
        time_zone: tenant.time_zone,
        locale: tenant.locale,
        industry: tenant.industry,
    });
    let data = SettingsView {
        slug: tenant.slug,
        form,
        can_manage: principal.can(Permission::TenantManage),
        industries: INDUSTRIES,
    };
    show(page, SETTINGS, shown, data)
}

/// `GET /app/settings`
pub async fn settings(State(identity): State<Identity>, page: Page, principal: Principal) -> Response {
    settings_page(&identity, &page, &principal, Shown::ok(), None).await
}

/// `POST /app/settings`
pub async fn save_settings(
    State(identity): State<Identity>,
    page: Page,
    principal: Principal,
    AuditActor(actor): AuditActor,
    Form(form): Form<SettingsForm>,
) -> Response {
    let req = UpdateTenantRequest {
        name: Some(form.name.clone()),
        time_zone: Some(form.time_zone.clone()),
        locale: Some(form.locale.clone()),
        industry: Some(form.industry.clone()),
    };
    match identity.update_tenant(&principal, req, &actor).await {
        Ok(_) => with_notice("/app/settings", "saved"),
        Err(e) => match Shown::from_error(&page, e) {
            Ok(shown) => settings_page(&identity, &page, &principal, shown, Some(form)).await,
            Err(e) => page.error(e),
        },
    }
}
