//! HTTP plumbing shared by every capability: who the caller is ([`access`]), what each route
//! needs ([`routes`]), the middleware that enforces it ([`auth`]), rate limits, extractors with
//! problem+json rejections, request ids and logs, security headers, metrics, and the pages'
//! templates and assets.
#![forbid(unsafe_code)]

pub mod access;
pub mod auth;
pub mod extract;
pub mod idempotency;
pub mod metrics;
pub mod outbound;
pub mod pages;
pub mod ratelimit;
pub mod routes;
mod stack;

pub use access::{AuditActor, Credential, Permission, PermissionSet, Principal, Requirement, Role};
pub use auth::{Authenticator, Presented};
pub use extract::{ApiJson, ApiPath, ApiQuery};
pub use ratelimit::{Quota, RateLimiter};
pub use routes::{RouteTable, Routes};
pub use stack::{compose, ClientIp, RequestId};

use std::sync::Arc;

/// Largest url-encoded form body the dashboard accepts.
pub const FORM_LIMIT: usize = 256 * 1024;

/// Request limits per caller class.
#[derive(Clone, Debug)]
pub struct Limits {
    pub per_ip: Quota,
    pub per_user: Quota,
    pub per_api_key: Quota,
    pub per_tenant: Quota,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            per_ip: Quota::per_minute(600),
            per_user: Quota::per_minute(600),
            per_api_key: Quota::per_minute(1200),
            per_tenant: Quota::per_minute(6000),
        }
    }
}

#[derive(Clone, Debug)]
pub struct WebConfig {
    /// Where users reach the dashboard (`http://127.0.0.1:8080`); used in links and cookies.
    pub public_url: String,
    /// Trust `X-Forwarded-For` for the client address (only behind a proxy you run).
    pub trust_proxy: bool,
    /// Origins allowed to call the API from a browser (CORS); empty means same-origin only.
    pub cors_origins: Vec<String>,
    pub limits: Limits,
}

impl WebConfig {
    /// Cookies get `Secure` when the public URL is https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// What the middleware needs; built once by the binary.
pub struct WebContext {
    pub config: WebConfig,
    pub db: frontdesk_store::Db,
    pub routes: RouteTable,
    pub authenticator: Arc<dyn Authenticator>,
    pub limiter: Arc<RateLimiter>,
    pub metrics: Arc<metrics::HttpMetrics>,
}
