//! Checks of the pages that need no database: both languages have the same keys, every key a
//! template or handler names exists, and every template renders (with CSRF tokens in its forms).

use super::{templates, DE, EN, TEMPLATES};
use axum::http::StatusCode;
use frontdesk_kernel::domain::Locale;
use frontdesk_kernel::TenantId;
use frontdesk_web::pages::{Page, TemplatesBuilder};
use frontdesk_web::{Credential, Permission, PermissionSet, Principal, Role};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

fn catalog(json: &str) -> BTreeMap<String, String> {
    serde_json::from_str(json).expect("catalog is a flat JSON object")
}

/// Keys of the web crate's own catalog that our templates use too.
const WEB_KEYS: &[&str] = &["action.cancel", "action.copy", "action.save", "notice.saved"];

const HANDLERS: &[&str] = &[
    include_str!("account.rs"),
    include_str!("app.rs"),
    include_str!("invite.rs"),
    include_str!("keys.rs"),
    include_str!("login.rs"),
    include_str!("mod.rs"),
    include_str!("platform.rs"),
    include_str!("signup.rs"),
    include_str!("team.rs"),
];

/// The string literals after each `marker` in `source` that does not continue a longer name.
fn literals_after<'a>(source: &'a str, marker: &str) -> Vec<&'a str> {
    source
        .match_indices(marker)
        .filter(|(at, _)| !source[..*at].ends_with(|c: char| c.is_alphanumeric() || c == '_'))
        .filter_map(|(at, _)| source[at + marker.len()..].split('"').next())
        .collect()
}

#[test]
fn english_and_german_have_the_same_keys() {
    let en: Vec<String> = catalog(EN).into_keys().collect();
    let de: Vec<String> = catalog(DE).into_keys().collect();
    assert_eq!(en, de);
    assert!(catalog(DE).values().all(|v| !v.trim().is_empty()));
}

#[test]
fn every_named_key_is_translated() {
    let en = catalog(EN);
    let known = |k: &str| en.contains_key(k) || WEB_KEYS.contains(&k);
    let mut wanted: Vec<String> = Vec::new();
    for (name, source) in TEMPLATES {
        wanted.extend(
            literals_after(source, "t(\"")
                .into_iter()
                .filter(|k| !k.ends_with('.') && !k.ends_with('_'))
                .map(|k| format!("{name}: {k}")),
        );
    }
    for source in HANDLERS {
        wanted.extend(literals_after(source, "page.t(\"").into_iter().map(str::to_owned));
        wanted.extend(literals_after(source, "\"nav.").into_iter().map(|k| format!("nav.{k}")));
        wanted.extend(literals_after(source, "notice=").into_iter().map(|k| format!("notice.{k}")));
        for call in source.split("with_notice(").skip(1) {
            if let Some(key) = call.split(')').next().and_then(|args| args.split(", \"").nth(1)) {
                wanted.push(format!("notice.{}", key.trim_end_matches('"')));
            }
        }
    }
    // Keys built in templates from values.
    wanted.extend(Role::ALL.iter().map(|r| format!("role.{r}")));
    wanted.extend(crate::model::INDUSTRIES.iter().map(|i| format!("industry.{i}")));
    wanted.extend(["en", "de"].map(|l| format!("language.{l}")));
    wanted.extend(["active", "expired", "revoked"].map(|s| format!("keys.status_{s}")));
    wanted.extend(["queued", "sent", "held", "failed"].map(|s| format!("outbox.status_{s}")));
    wanted.extend(["active", "suspended"].map(|s| format!("platform.status_{s}")));
    wanted.extend(Permission::ALL.iter().map(|p| format!("permission.{p}")));
    let missing: Vec<&String> = wanted.iter().filter(|w| !known(w.rsplit(' ').next().unwrap_or(w))).collect();
    assert!(missing.is_empty(), "untranslated keys: {missing:?}");
    assert!(wanted.len() > 150, "the scan found only {} keys", wanted.len());
}

fn principal(role: Role, platform: bool) -> Principal {
    Principal {
        user_id: Some("usr_test".into()),
        label: "ada@example.com".into(),
        tenant_id: Some(TenantId::new()),
        role: Some(role),
        permissions: role.permissions(),
        platform_operator: platform,
        credential: Credential::Session { session_id: "ses_test".into(), csrf_token: "csrf-token-123".into() },
        locale: None,
        tenant_name: Some("Studio Nord".into()),
        memberships: Vec::new(),
    }
}

fn page(locale: Locale, principal: Option<Principal>) -> Page {
    let mut b = TemplatesBuilder::new();
    templates(&mut b);
    let templates = b.build().expect("templates compile");
    Page { templates: Arc::new(templates), locale, principal, path: "/app".into(), query: "notice=invited".into() }
}

async fn render(page: &Page, template: &str, data: serde_json::Value) -> String {
    let response = page.render_status(StatusCode::OK, template, data);
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
    let html = String::from_utf8(body.to_vec()).expect("utf-8");
    assert_eq!(status, StatusCode::OK, "{template}: {html}");
    html
}

/// Pages whose forms are for visitors without a session (no CSRF token needed).
const PUBLIC_FORMS: &[&str] =
    &["identity/login.html", "identity/login_2fa.html", "identity/signup.html", "identity/invite.html"];

/// Every POST form of a signed-in page carries the session's CSRF token.
fn assert_csrf(template: &str, html: &str) {
    if PUBLIC_FORMS.contains(&template) {
        return;
    }
    for form in html.split("<form").skip(1) {
        let form = form.split("</form>").next().unwrap_or("");
        if form.contains("method=\"post\"") {
            assert!(
                form.contains("name=\"_csrf\" value=\"csrf-token-123\""),
                "{template}: form without CSRF token: {form}"
            );
        }
    }
}

/// `data` as handlers render it: with what a failed action shows (nothing, or errors and an alert).
fn with_shown(mut data: serde_json::Value, failed: bool) -> serde_json::Value {
    let shown = if failed {
        json!({"errors": [{"field": "email", "code": "taken", "message": "Taken <b>"}], "alert": "Nope <i>"})
    } else {
        json!({"errors": [], "alert": null})
    };
    if let (Some(obj), Some(extra)) = (data.as_object_mut(), shown.as_object()) {
        obj.extend(extra.clone());
    }
    data
}

fn samples() -> Vec<(&'static str, serde_json::Value)> {
    let ts = "2025-03-01T09:30:00Z";
    let tenant_form =
        json!({"tenant_name": "Studio", "slug": "", "time_zone": "Europe/Berlin", "locale": "de", "industry": "salon"});
    let member = |role: &str, manageable: bool| json!({"id": "mem_1", "user_id": "usr_1", "email": "bo@example.com", "name": "Bo", "role": role, "two_factor": true, "joined_at": ts, "manageable": manageable});
    let key = |status: &str| json!({"id": "key_1", "name": "CI", "prefix": "fdk_abcdefgh", "permissions": ["tenant:read"], "created_at": ts, "last_used_at": null, "expires_at": ts, "revoked_at": null, "status": status});
    let me = json!({"id": "usr_1", "email": "ada@example.com", "name": "Ada", "locale": "en", "two_factor": false, "platform_operator": false, "tenant_id": null, "role": null, "memberships": []});
    vec![
        ("identity/login.html", json!({"email": "a@b.c", "next": "/app", "signup": true})),
        ("identity/login_2fa.html", json!({"token": "abc.def"})),
        (
            "identity/signup.html",
            json!({"form": {"tenant_name": "", "slug": "", "name": "", "email": "", "time_zone": "Europe/Berlin", "locale": "en", "industry": "other"}, "industries": crate::model::INDUSTRIES, "open": true}),
        ),
        ("identity/signup.html", json!({"form": tenant_form, "industries": [], "open": false})),
        (
            "identity/overview.html",
            json!({"tenant_name": "Studio", "role": "OWNER", "links": [{"href": "/app/team", "label": "nav.team"}], "form": tenant_form, "industries": crate::model::INDUSTRIES}),
        ),
        (
            "identity/overview.html",
            json!({"tenant_name": null, "role": null, "links": [], "form": tenant_form, "industries": crate::model::INDUSTRIES}),
        ),
        (
            "identity/settings.html",
            json!({"slug": "studio", "form": {"name": "Studio", "time_zone": "Europe/Berlin", "locale": "en", "industry": "fitness"}, "can_manage": true, "industries": crate::model::INDUSTRIES}),
        ),
        (
            "identity/settings.html",
            json!({"slug": "studio", "form": {"name": "Studio", "time_zone": "Europe/Berlin", "locale": "de", "industry": "fitness"}, "can_manage": false, "industries": crate::model::INDUSTRIES}),
        ),
        (
            "identity/team.html",
            json!({"members": [member("OWNER", false), member("MEMBER", true)], "invitations": [{"id": "inv_1", "email": "new@example.com", "role": "VIEWER", "status": "pending", "created_at": ts, "expires_at": ts}], "can_manage": true, "roles": ["ADMIN", "MEMBER", "VIEWER"], "invite": {"email": "", "role": "MEMBER"}}),
        ),
        (
            "identity/team.html",
            json!({"members": [member("OWNER", false)], "invitations": [], "can_manage": false, "roles": [], "invite": {"email": "", "role": "MEMBER"}}),
        ),
        (
            "identity/api_keys.html",
            json!({"keys": [key("active"), key("revoked")], "can_manage": true, "permissions": [{"name": "tenant:read", "description": "See", "checked": true}], "form": {"name": "", "expires_in_days": ""}}),
        ),
        (
            "identity/api_keys.html",
            json!({"keys": [], "can_manage": false, "permissions": [], "form": {"name": "", "expires_in_days": ""}}),
        ),
        ("identity/api_key_created.html", json!({"name": "CI", "secret": "fdk_secret"})),
        (
            "identity/outbox.html",
            json!({"emails": [{"id": "eml_1", "to": "new@example.com", "subject": "Invited", "body": "Accept: http://x/invite/inv_abc", "status": "held", "created_at": ts}]}),
        ),
        ("identity/account.html", json!({"me": me, "profile": {"name": "Ada", "locale": "en"}})),
        (
            "identity/account.html",
            json!({"me": {"email": "a@b.c", "two_factor": true}, "profile": {"name": "Ada", "locale": "de"}}),
        ),
        ("identity/totp_setup.html", json!({"secret": "JBSWY3DPEHPK3PXP", "otpauth_uri": "otpauth://totp/x"})),
        ("identity/recovery_codes.html", json!({"codes": ["abcd-efgh-jkmn"]})),
        (
            "identity/invite.html",
            json!({"tenant_name": "Studio", "email": "new@example.com", "role": "ADMIN", "exists": false, "name": ""}),
        ),
        (
            "identity/invite.html",
            json!({"tenant_name": "Studio", "email": "new@example.com", "role": "ADMIN", "exists": true, "name": ""}),
        ),
        ("identity/invite_invalid.html", json!({})),
        (
            "identity/platform_tenants.html",
            json!({"tenants": [{"id": "ten_1", "name": "Studio", "slug": "studio", "status": "active", "members": 2, "created_at": ts}, {"id": "ten_2", "name": "Gym", "slug": "gym", "status": "suspended", "members": 1, "created_at": ts}]}),
        ),
    ]
}

#[tokio::test]
async fn every_template_renders_in_both_languages() {
    for locale in [Locale::En, Locale::De] {
        let signed_in = page(locale, Some(principal(Role::Owner, true)));
        let anonymous = page(locale, None);
        for (template, data) in samples() {
            for data in [with_shown(data.clone(), false), with_shown(data, true)] {
                let html = render(&signed_in, template, data.clone()).await;
                assert_csrf(template, &html);
                assert!(!html.contains("Taken <b>") && !html.contains("Nope <i>"), "{template}: not escaped");
                render(&anonymous, template, data).await;
            }
        }
    }
}

#[tokio::test]
async fn element_ids_the_browser_test_uses() {
    let page = page(Locale::En, Some(principal(Role::Admin, false)));
    let samples = samples();
    let html_of = |name: &str| {
        with_shown(samples.iter().find(|(t, _)| *t == name).map(|(_, d)| d.clone()).unwrap_or_default(), false)
    };
    let team = render(&page, "identity/team.html", html_of("identity/team.html")).await;
    for id in ["id=\"f-email\"", "id=\"f-role\" name=\"role\"", "id=\"invite-submit\"", "id=\"invitations\""] {
        assert!(team.contains(id), "team lacks {id}");
    }
    assert!(team.contains("new@example.com"));
    let keys = render(&page, "identity/api_keys.html", html_of("identity/api_keys.html")).await;
    for id in ["id=\"f-name\"", "name=\"permissions\"", "id=\"create-key-submit\""] {
        assert!(keys.contains(id), "api keys lack {id}");
    }
    let created = render(&page, "identity/api_key_created.html", html_of("identity/api_key_created.html")).await;
    assert!(created.contains("<code id=\"new-key-secret\" class=\"secret\">fdk_secret</code>"));
    let account = render(&page, "identity/account.html", html_of("identity/account.html")).await;
    assert!(account.contains("id=\"totp-setup\""));
    let setup = render(&page, "identity/totp_setup.html", html_of("identity/totp_setup.html")).await;
    for id in ["id=\"totp-secret\"", "id=\"f-code\"", "id=\"totp-confirm\""] {
        assert!(setup.contains(id), "set-up lacks {id}");
    }
    let codes = render(&page, "identity/recovery_codes.html", html_of("identity/recovery_codes.html")).await;
    assert!(codes.contains("<ul id=\"recovery-codes\""));
    assert!(!PermissionSet::default().contains(Permission::TenantRead));
}
