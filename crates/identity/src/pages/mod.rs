//! Dashboard pages of identity: log-in (with its second-factor step), sign-up, the overview,
//! team, API keys, the account, the outbox, the tenant's settings, invitations and the
//! operator's tenants. Handlers only call the [`Identity`] service; what they share is in
//! `response`.

mod account;
mod app;
mod invite;
mod keys;
mod login;
mod pending;
mod platform;
mod response;
mod signup;
mod team;

use crate::service::Identity;
use axum::routing::{get, post};
use frontdesk_kernel::domain::Locale;
use frontdesk_web::pages::{NavItem, TemplatesBuilder};
use frontdesk_web::{Permission, Requirement, Routes};

/// Identity's templates, by the name handlers render them with.
const TEMPLATES: &[(&str, &str)] = &[
    ("identity/macros.html", include_str!("../../templates/macros.html")),
    ("identity/login.html", include_str!("../../templates/login.html")),
    ("identity/login_2fa.html", include_str!("../../templates/login_2fa.html")),
    ("identity/signup.html", include_str!("../../templates/signup.html")),
    ("identity/overview.html", include_str!("../../templates/overview.html")),
    ("identity/settings.html", include_str!("../../templates/settings.html")),
    ("identity/team.html", include_str!("../../templates/team.html")),
    ("identity/api_keys.html", include_str!("../../templates/api_keys.html")),
    ("identity/api_key_created.html", include_str!("../../templates/api_key_created.html")),
    ("identity/outbox.html", include_str!("../../templates/outbox.html")),
    ("identity/account.html", include_str!("../../templates/account.html")),
    ("identity/totp_setup.html", include_str!("../../templates/totp_setup.html")),
    ("identity/recovery_codes.html", include_str!("../../templates/recovery_codes.html")),
    ("identity/invite.html", include_str!("../../templates/invite.html")),
    ("identity/invite_invalid.html", include_str!("../../templates/invite_invalid.html")),
    ("identity/platform_tenants.html", include_str!("../../templates/platform_tenants.html")),
];

const EN: &str = include_str!("../../i18n/en.json");
const DE: &str = include_str!("../../i18n/de.json");

/// Registers identity's templates, translations and navigation.
pub fn templates(b: &mut TemplatesBuilder) {
    for (name, source) in TEMPLATES {
        b.template(name, source);
    }
    b.translations(Locale::En, EN);
    b.translations(Locale::De, DE);
    let nav = [
        ("/app", "nav.overview", Requirement::Authenticated, 0),
        ("/app/team", "nav.team", Requirement::Tenant(Permission::MembersRead), 10),
        ("/app/api-keys", "nav.api_keys", Requirement::Tenant(Permission::ApiKeysRead), 20),
        ("/app/outbox", "nav.outbox", Requirement::Tenant(Permission::OutboxRead), 30),
        ("/app/settings", "nav.settings", Requirement::Tenant(Permission::TenantRead), 40),
        ("/app/account", "nav.account", Requirement::Authenticated, 90),
        ("/platform/tenants", "nav.tenants", Requirement::Platform, 100),
    ];
    for (href, label, requirement, order) in nav {
        b.nav(NavItem { href, label, requirement, order });
    }
}

/// Identity's pages, each with what it requires of the caller.
pub fn routes(identity: Identity) -> Routes<()> {
    use Permission::*;
    use Requirement::{Authenticated, Platform, Public, Tenant};
    Routes::<Identity>::new()
        .get("/", Public, get(login::root))
        .get("/lang/{locale}", Public, get(login::language))
        .get("/login", Public, get(login::login_form))
        .post("/login", Public, post(login::login))
        .post("/login/2fa", Public, post(login::second_factor))
        .post("/logout", Authenticated, post(login::logout))
        .get("/signup", Public, get(signup::signup_form))
        .post("/signup", Public, post(signup::signup))
        .get("/app", Authenticated, get(app::home))
        .post("/app/tenants", Authenticated, post(app::create_tenant))
        .post("/app/switch-tenant", Authenticated, post(app::switch_tenant))
        .get("/app/settings", Tenant(TenantRead), get(app::settings))
        .post("/app/settings", Tenant(TenantManage), post(app::save_settings))
        .get("/app/team", Tenant(MembersRead), get(team::team))
        .post("/app/team/invite", Tenant(MembersManage), post(team::invite))
        .post("/app/team/members/{member_id}/role", Tenant(MembersManage), post(team::change_role))
        .post("/app/team/members/{member_id}/remove", Tenant(MembersManage), post(team::remove_member))
        .post("/app/team/invitations/{invitation_id}/revoke", Tenant(MembersManage), post(team::revoke_invitation))
        .get("/app/api-keys", Tenant(ApiKeysRead), get(keys::api_keys))
        .post("/app/api-keys", Tenant(ApiKeysManage), post(keys::create_api_key))
        .post("/app/api-keys/{key_id}/revoke", Tenant(ApiKeysManage), post(keys::revoke_api_key))
        .get("/app/outbox", Tenant(OutboxRead), get(keys::outbox))
        .get("/app/account", Authenticated, get(account::account))
        .post("/app/account/profile", Authenticated, post(account::save_profile))
        .post("/app/account/password", Authenticated, post(account::change_password))
        .post("/app/account/2fa/setup", Authenticated, post(account::totp_setup))
        .post("/app/account/2fa/confirm", Authenticated, post(account::totp_confirm))
        .post("/app/account/2fa/disable", Authenticated, post(account::totp_disable))
        .post("/app/account/revoke-all", Authenticated, post(account::revoke_all))
        .get("/invite/{token}", Public, get(invite::invitation))
        .post("/invite/{token}", Public, post(invite::accept))
        .get("/platform/tenants", Platform, get(platform::tenants))
        .post("/platform/tenants/{tenant_id}/suspend", Platform, post(platform::suspend))
        .post("/platform/tenants/{tenant_id}/reactivate", Platform, post(platform::reactivate))
        .with_state(identity)
}

#[cfg(test)]
mod tests;
