//! The access middleware: per-IP limits, authentication, the route's requirement, CSRF, and
//! per-principal and per-tenant limits — in that order, in one place, for every route.

use crate::access::{Credential, Principal, Requirement};
use crate::ratelimit::Decision;
use crate::{ClientIp, WebContext};
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use frontdesk_kernel::Error;
use futures_util::future::BoxFuture;
use std::sync::Arc;

/// The dashboard session cookie.
pub const SESSION_COOKIE: &str = "fd_session";
/// Header carrying the CSRF token for cookie-authenticated API calls from the dashboard.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Form field carrying the CSRF token in dashboard forms.
pub const CSRF_FIELD: &str = "_csrf";

/// Credentials as presented by a request.
#[derive(Debug, Clone)]
pub enum Presented {
    /// `Authorization: Bearer …`: a JWT access token or an API key.
    Bearer(String),
    /// The dashboard session cookie.
    Session(String),
}

/// Turns presented credentials into a principal (implemented by the identity capability).
pub trait Authenticator: Send + Sync + 'static {
    fn authenticate<'a>(&'a self, presented: &'a Presented, ip: &'a str) -> BoxFuture<'a, Result<Principal, Error>>;
}

pub(crate) async fn access(State(ctx): State<Arc<WebContext>>, request: Request, next: Next) -> Response {
    match check(&ctx, request).await {
        Ok(request) => next.run(request).await,
        Err(response) => response,
    }
}

/// The per-IP quota's key. A provider's webhooks (`/api/v1/public/…/webhook`, authenticated by
/// the provider's signature) come from the provider's few addresses for every tenant at once, so
/// there the quota is counted per address *and* endpoint: one tenant's burst of Stripe events
/// cannot hold back another tenant's.
fn ip_quota_key(ip: &str, path: &str) -> String {
    if path.starts_with("/api/v1/public/") && path.ends_with("/webhook") && path.len() <= 200 {
        format!("ip:{ip}:{path}")
    } else {
        format!("ip:{ip}")
    }
}

async fn check(ctx: &WebContext, mut request: Request) -> Result<Request, Response> {
    let ip = request.extensions().get::<ClientIp>().map(|c| c.0.clone()).unwrap_or_default();
    if let Decision::Deny(wait) =
        ctx.limiter.hit(&ip_quota_key(&ip, request.uri().path()), ctx.config.limits.per_ip).await
    {
        return Err(Error::RateLimited { retry_after_secs: wait.as_secs().max(1) }.into_response());
    }
    let Some(route) = request.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned()) else {
        return Ok(request); // no route: the fallback answers 404
    };
    let method = request.method().clone();
    let lookup = if method == Method::HEAD { Method::GET } else { method.clone() };
    let requirement = match ctx.routes.get(&lookup, &route) {
        Some(r) => r,
        None if ctx.routes.has_path(&route) => return Ok(request), // axum answers 405
        None => {
            tracing::error!(%method, %route, "route has no declared requirement; refusing");
            return Err(Error::internal("undeclared route").into_response());
        }
    };
    let presented = presented_credentials(request.headers());
    // Browsers navigating to a page are sent to the log-in form; API clients get a 401.
    let is_page =
        request.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    if requirement == Requirement::Public {
        // Pages like the log-in form still like to know who is there; failures are ignored.
        if let Some(p) = presented.filter(|p| matches!(p, Presented::Session(_))) {
            if let Ok(principal) = ctx.authenticator.authenticate(&p, &ip).await {
                request.extensions_mut().insert(principal);
            }
        }
        return Ok(request);
    }
    let principal = match presented {
        None => Err(Error::unauthenticated("unauthenticated", "Sign in, or send a bearer token or API key.")),
        Some(p) => ctx.authenticator.authenticate(&p, &ip).await,
    };
    let principal = match principal {
        Ok(p) => p,
        Err(Error::Unauthenticated { .. }) if is_page && method == Method::GET => {
            let next = request.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/app");
            let target =
                format!("/login?next={}", url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>());
            return Err(Redirect::to(&target).into_response());
        }
        Err(e) => return Err(e.into_response()),
    };
    if !principal.satisfies(requirement) {
        let e = match requirement {
            Requirement::Tenant(_) if principal.tenant_id.is_none() => {
                Error::forbidden("You are not a member of a tenant yet.")
            }
            Requirement::Tenant(p) => Error::forbidden(format!("Your role or key does not have the permission {p}.")),
            _ => Error::forbidden("This is for the platform operator."),
        };
        return Err(e.into_response());
    }
    if let Credential::Session { csrf_token, .. } = &principal.credential {
        if !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS) {
            request = verify_csrf(request, csrf_token).await?;
        }
    }
    let principal_key = match &principal.credential {
        Credential::ApiKey { key_id } => format!("key:{key_id}"),
        _ => format!("user:{}", principal.user_id.as_deref().unwrap_or("")),
    };
    let per_principal = match principal.credential {
        Credential::ApiKey { .. } => ctx.config.limits.per_api_key,
        _ => ctx.config.limits.per_user,
    };
    if let Decision::Deny(wait) = ctx.limiter.hit(&principal_key, per_principal).await {
        return Err(Error::RateLimited { retry_after_secs: wait.as_secs().max(1) }.into_response());
    }
    if let Some(tenant) = &principal.tenant_id {
        tracing::Span::current().record("tenant_id", tenant.as_str());
        if let Decision::Deny(wait) = ctx.limiter.hit(&format!("tenant:{tenant}"), ctx.config.limits.per_tenant).await {
            return Err(Error::RateLimited { retry_after_secs: wait.as_secs().max(1) }.into_response());
        }
    }
    request.extensions_mut().insert(principal);
    Ok(request)
}

fn presented_credentials(headers: &HeaderMap) -> Option<Presented> {
    if let Some(auth) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let token = auth.strip_prefix("Bearer ").or_else(|| auth.strip_prefix("bearer "))?.trim();
        return (!token.is_empty()).then(|| Presented::Bearer(token.to_owned()));
    }
    cookie(headers, SESSION_COOKIE).map(Presented::Session)
}

/// The value of cookie `name`, if present.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name && !v.is_empty()).then(|| v.to_owned())
    })
}

/// Unsafe methods with a session cookie need the session's CSRF token, in the `X-CSRF-Token`
/// header (scripts) or the `_csrf` field of a url-encoded form (dashboard forms). The body is
/// read here and handed on unchanged.
async fn verify_csrf(request: Request, expected: &str) -> Result<Request, Response> {
    let refuse =
        || Error::forbidden("The CSRF token is missing or wrong; reload the page and try again.").into_response();
    if let Some(token) = request.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        return if frontdesk_kernel::crypto::constant_time_eq(token.as_bytes(), expected.as_bytes()) {
            Ok(request)
        } else {
            Err(refuse())
        };
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(refuse());
    }
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, crate::FORM_LIMIT)
        .await
        .map_err(|_| (StatusCode::PAYLOAD_TOO_LARGE, Error::PayloadTooLarge).into_response())?;
    let ok = url::form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == CSRF_FIELD)
        .is_some_and(|(_, v)| frontdesk_kernel::crypto::constant_time_eq(v.as_bytes(), expected.as_bytes()));
    if !ok {
        return Err(refuse());
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

#[cfg(test)]
mod tests {
    use super::ip_quota_key;

    #[test]
    fn provider_webhooks_count_per_endpoint() {
        assert_eq!(ip_quota_key("10.0.0.1", "/api/v1/members"), "ip:10.0.0.1");
        assert_eq!(ip_quota_key("10.0.0.1", "/api/v1/public/chat"), "ip:10.0.0.1");
        let a = ip_quota_key("10.0.0.1", "/api/v1/public/stripe/ten_A/webhook");
        let b = ip_quota_key("10.0.0.1", "/api/v1/public/stripe/ten_B/webhook");
        assert_ne!(a, b, "two tenants' endpoints do not share the provider address's quota");
        let long = format!("/api/v1/public/{}/webhook", "x".repeat(300));
        assert_eq!(ip_quota_key("10.0.0.1", &long), "ip:10.0.0.1", "keys stay bounded");
    }
}
