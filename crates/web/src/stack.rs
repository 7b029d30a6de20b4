//! The middleware stack around every route, outermost first: panic guard, request id and access
//! log with metrics, security headers, CORS, body limit, then the access checks.

use crate::{auth, WebContext};
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use frontdesk_kernel::Error;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tracing::Instrument;

/// The request's id (`req_…`), also sent back as `X-Request-Id`.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// The client's address (from the socket, or `X-Forwarded-For` behind a trusted proxy).
#[derive(Clone, Debug)]
pub struct ClientIp(pub String);

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Wraps the application router with the whole middleware stack.
pub fn compose(app: Router, ctx: Arc<WebContext>) -> Router {
    let cors = cors_layer(&ctx.config.cors_origins);
    app.fallback(|| async { Error::NotFound })
        .layer(middleware::from_fn_with_state(ctx.clone(), crate::idempotency::idempotency))
        .layer(middleware::from_fn_with_state(ctx.clone(), auth::access))
        .layer(axum::extract::DefaultBodyLimit::max(crate::extract::JSON_LIMIT))
        .layer(cors)
        .layer(middleware::from_fn_with_state(ctx.clone(), security_headers))
        .layer(middleware::from_fn_with_state(ctx, observe))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            Error::internal("handler panicked").into_response()
        }))
}

/// Public endpoints (the web chat, embedded on tenants' own sites) answer any origin at the
/// transport level; each tenant's allowed origins are enforced by those handlers, which know the
/// tenant. They use no cookies, so no credentials are ever allowed cross-origin.
pub const PUBLIC_PREFIX: &str = "/api/v1/public/";

fn cors_layer(origins: &[String]) -> CorsLayer {
    let origins: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, parts| {
            parts.uri.path().starts_with(PUBLIC_PREFIX) || origins.contains(origin)
        }))
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static(crate::idempotency::HEADER),
            HeaderName::from_static("x-visitor-token"),
        ])
        .expose_headers([X_REQUEST_ID.clone(), header::RETRY_AFTER])
        .max_age(std::time::Duration::from_secs(600))
}

/// Request id, client address, a span carrying both, the access log line and the metrics.
async fn observe(State(ctx): State<Arc<WebContext>>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| format!("req_{}", frontdesk_kernel::id::new_body()));
    let ip = client_ip(&request, ctx.config.trust_proxy);
    let method = request.method().clone();
    let route =
        request.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned()).unwrap_or_else(|| "unmatched".into());
    request.extensions_mut().insert(crate::RequestId(request_id.clone()));
    request.extensions_mut().insert(ClientIp(ip.clone()));
    let span = tracing::info_span!("http", request_id = %request_id, method = %method, route = %route, ip = %ip,
        tenant_id = tracing::field::Empty);
    let mut response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    span.in_scope(|| {
        let latency_ms = elapsed.as_secs_f64() * 1000.0;
        if status >= 500 {
            tracing::error!(status, latency_ms, "request failed");
        } else if route.starts_with("/health") || route.starts_with("/assets") || route == "/metrics" {
            tracing::debug!(status, latency_ms, "request");
        } else {
            tracing::info!(status, latency_ms, "request");
        }
    });
    ctx.metrics.record(method.as_str(), &route, status, elapsed);
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(X_REQUEST_ID.clone(), v);
    }
    response
}

fn client_ip(request: &Request, trust_proxy: bool) -> String {
    if trust_proxy {
        if let Some(forwarded) = request.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            if let Some(first) = forwarded.split(',').next().map(str::trim).filter(|s| !s.is_empty()) {
                return first.to_owned();
            }
        }
    }
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Headers that close common browser attack paths. Pages use only our own scripts and styles.
async fn security_headers(State(ctx): State<Arc<WebContext>>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if ctx.config.secure_cookies() {
        // Served over https: browsers must never fall back to plain http for this host.
        response
            .headers_mut()
            .entry(HeaderName::from_static("strict-transport-security"))
            .or_insert(HeaderValue::from_static("max-age=31536000; includeSubDomains"));
    }
    let h = response.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, k: &'static str, v: &'static str| {
        h.entry(HeaderName::from_static(k)).or_insert(HeaderValue::from_static(v));
    };
    set(
        h,
        "content-security-policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'",
    );
    set(h, "x-content-type-options", "nosniff");
    set(h, "x-frame-options", "DENY");
    set(h, "referrer-policy", "same-origin");
    set(h, "permissions-policy", "camera=(), microphone=(), geolocation=(), payment=()");
    set(h, "cross-origin-opener-policy", "same-origin");
    response
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<ClientIp>().cloned().unwrap_or_else(|| ClientIp("unknown".into())))
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<RequestId>().cloned().unwrap_or_else(|| RequestId(String::new())))
    }
}
