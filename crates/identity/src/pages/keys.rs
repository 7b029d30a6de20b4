//! API keys (list, create with the secret shown once, revoke) and the e-mail outbox.

use super::response::{show, translated_or, with_notice, Shown};
use crate::model::{ApiKey, ApiKeyId, CreateApiKeyRequest, Email};
use crate::service::Identity;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use frontdesk_kernel::time::now_ms;
use frontdesk_kernel::{Error, Result};
use frontdesk_web::pages::Page;
use frontdesk_web::{ApiPath, AuditActor, Permission, Principal};
use serde::Serialize;

const KEYS: &str = "/app/api-keys";
const LIMIT: u32 = 500;

#[derive(Default, Serialize)]
struct KeyForm {
    name: String,
    expires_in_days: String,
    /// Chosen permissions; `None` before the first submission (all are offered checked).
    #[serde(skip)]
    permissions: Option<Vec<String>>,
}

#[derive(Serialize)]
struct KeyRow {
    #[serde(flatten)]
    key: ApiKey,
    /// `active`, `expired` or `revoked`.
    status: &'static str,
}

#[derive(Serialize)]
struct PermissionChoice {
    name: &'static str,
    description: String,
    checked: bool,
}

#[derive(Serialize)]
struct KeysView {
    keys: Vec<KeyRow>,
    can_manage: bool,
    permissions: Vec<PermissionChoice>,
    form: KeyForm,
}

fn status(key: &ApiKey, now: i64) -> &'static str {
    if key.revoked_at.is_some() {
        "revoked"
    } else if key.expires_at.is_some_and(|at| at <= now) {
        "expired"
    } else {
        "active"
    }
}

async fn keys_page(identity: &Identity, page: &Page, principal: &Principal, shown: Shown, form: KeyForm) -> Response {
    let keys = match identity.api_keys(principal, None, LIMIT).await {
        Ok(keys) => keys,
        Err(e) => return page.error(e),
    };
    let now = now_ms();
    let keys = keys.into_iter().map(|key| KeyRow { status: status(&key, now), key }).collect();
    let permissions = principal
        .permissions
        .iter()
        .map(|p| PermissionChoice {
            name: p.as_str(),
            description: translated_or(page, &format!("permission.{p}"), || p.describe().to_owned()),
            checked: form.permissions.as_ref().is_none_or(|chosen| chosen.iter().any(|c| c == p.as_str())),
        })
        .collect();
    let data = KeysView { keys, can_manage: principal.can(Permission::ApiKeysManage), permissions, form };
    show(page, "identity/api_keys.html", shown, data)
}

/// `GET /app/api-keys`
pub async fn api_keys(State(identity): State<Identity>, page: Page, principal: Principal) -> Response {
    keys_page(&identity, &page, &principal, Shown::ok(), KeyForm::default()).await
}

/// The create form, read by hand: `permissions` repeats, which `axum::Form` cannot collect.
fn parse_key_form(body: &[u8]) -> KeyForm {
    let mut form = KeyForm { permissions: Some(Vec::new()), ..KeyForm::default() };
    for (k, v) in url::form_urlencoded::parse(body) {
        match &*k {
            "name" => form.name = v.into_owned(),
            "expires_in_days" => form.expires_in_days = v.into_owned(),
            "permissions" => form.permissions.get_or_insert_with(Vec::new).push(v.into_owned()),
            _ => {}
        }
    }
    form
}

fn expiry_days(value: &str) -> Result<Option<u32>> {
    match value.trim() {
        "" => Ok(None),
        days => days
            .parse()
            .map(Some)
            .map_err(|_| Error::field("expires_in_days", "invalid", "Enter a whole number of days.")),
    }
}

#[derive(Serialize)]
struct CreatedView {
    name: String,
    secret: String,
}

/// `POST /app/api-keys`: creates a key and shows its secret, once.
pub async fn create_api_key(
    State(identity): State<Identity>,
    page: Page,
    principal: Principal,
    AuditActor(actor): AuditActor,
    body: Bytes,
) -> Response {
    let form = parse_key_form(&body);
    let created = match expiry_days(&form.expires_in_days) {
        Ok(expires_in_days) => {
            let req =
                CreateApiKeyRequest { name: form.name.clone(), permissions: form.permissions.clone(), expires_in_days };
            identity.create_api_key(&principal, req, &actor).await
        }
        Err(e) => Err(e),
    };
    match created {
        Ok(created) => show(
            &page,
            "identity/api_key_created.html",
            Shown::ok(),
            CreatedView { name: created.key.name, secret: created.secret },
        ),
        Err(e) => match Shown::from_error(&page, e) {
            Ok(shown) => keys_page(&identity, &page, &principal, shown, form).await,
            Err(e) => page.error(e),
        },
    }
}

/// `POST /app/api-keys/{key_id}/revoke`
pub async fn revoke_api_key(
    State(identity): State<Identity>,
    page: Page,
    principal: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(key_id): ApiPath<String>,
) -> Response {
    let Some(id) = ApiKeyId::parse(&key_id) else {
        return page.error(Error::NotFound);
    };
    match identity.revoke_api_key(&principal, &id, &actor).await {
        Ok(()) => with_notice(KEYS, "key_revoked"),
        Err(e) => match Shown::from_error(&page, e) {
            Ok(shown) => keys_page(&identity, &page, &principal, shown, KeyForm::default()).await,
            Err(e) => page.error(e),
        },
    }
}

#[derive(Serialize)]
struct OutboxView {
    emails: Vec<Email>,
}

/// `GET /app/outbox`
pub async fn outbox(State(identity): State<Identity>, page: Page, principal: Principal) -> Response {
    match identity.emails(&principal, None, LIMIT).await {
        Ok(emails) => show(&page, "identity/outbox.html", Shown::ok(), OutboxView { emails }),
        Err(e) => page.error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_form_collects_repeated_permissions() {
        let form = parse_key_form(
            b"_csrf=x&name=CI+bot&permissions=tenant%3Aread&permissions=members%3Aread&expires_in_days=30",
        );
        assert_eq!(form.name, "CI bot");
        assert_eq!(form.permissions, Some(vec!["tenant:read".to_owned(), "members:read".to_owned()]));
        assert_eq!(expiry_days(&form.expires_in_days).ok(), Some(Some(30)));
        assert_eq!(parse_key_form(b"name=x").permissions, Some(Vec::new()), "nothing ticked is not 'all'");
        assert_eq!(expiry_days(" ").ok(), Some(None));
        assert!(expiry_days("soon").is_err());
    }
}
