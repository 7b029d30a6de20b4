//! `Idempotency-Key` on POST: the first response to a key is stored (24 h) and replayed to every
//! retry of the same request; the same key with a different request is refused. A client that
//! lost an answer to a timeout can therefore retry without creating anything twice.
//! Keys are scoped to the tenant and the caller. Streamed responses are not stored.

use crate::{Credential, Principal, WebContext};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use frontdesk_kernel::crypto::sha256_hex;
use frontdesk_kernel::Error;
use frontdesk_store::idempotency::{self, Existing};
use std::sync::Arc;

pub const HEADER: &str = "idempotency-key";
/// Responses larger than this are not stored (the key is released instead).
const MAX_STORED: usize = 1024 * 1024;

pub(crate) async fn idempotency(State(ctx): State<Arc<WebContext>>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let Some(raw_key) = request.headers().get(HEADER) else { return next.run(request).await };
    let key = match raw_key.to_str() {
        Ok(k) if !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()) => k.to_owned(),
        _ => {
            return Error::field("Idempotency-Key", "invalid", "Use 1 to 255 visible ASCII characters.").into_response()
        }
    };
    let Some(principal) = request.extensions().get::<Principal>().cloned() else { return next.run(request).await };
    let Some(tenant) = principal.tenant_id.clone() else { return next.run(request).await };
    let caller = match &principal.credential {
        Credential::ApiKey { key_id } => key_id.clone(),
        _ => principal.user_id.clone().unwrap_or_default(),
    };
    let scoped_key = format!("{caller}:{key}");
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, crate::extract::JSON_LIMIT).await else {
        return Error::PayloadTooLarge.into_response();
    };
    let fingerprint = {
        let mut data = format!("{} {}\n", parts.method, parts.uri).into_bytes();
        data.extend_from_slice(&bytes);
        sha256_hex(&data)
    };
    let claimed = async {
        let mut tx = ctx.db.tenant(&tenant).await?;
        let existing = idempotency::begin(&mut tx, &scoped_key, &fingerprint).await?;
        tx.commit().await?;
        Ok::<_, frontdesk_store::StoreError>(existing)
    }
    .await;
    match claimed {
        Err(e) => Error::from(e).into_response(),
        Ok(Some(Existing::Running { .. })) => {
            Error::conflict("idempotency_in_progress", "A request with this Idempotency-Key is still being processed.")
                .into_response()
        }
        Ok(Some(Existing::Done { request_hash, .. })) if request_hash != fingerprint => {
            Error::field("Idempotency-Key", "reused", "This key was used for a different request.").into_response()
        }
        Ok(Some(Existing::Done { status, content_type, body, .. })) => replay(status, content_type, body),
        Ok(None) => {
            let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
            remember(&ctx, &tenant, &scoped_key, response).await
        }
    }
}

fn replay(status: u16, content_type: Option<String>, body: String) -> Response {
    let mut response = (axum::http::StatusCode::from_u16(status).unwrap_or_default(), body).into_response();
    let h = response.headers_mut();
    if let Some(ct) = content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
        h.insert(header::CONTENT_TYPE, ct);
    }
    h.insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

/// Stores the outcome (or releases the key after a server-side failure) and hands it on.
async fn remember(ctx: &WebContext, tenant: &frontdesk_kernel::TenantId, key: &str, response: Response) -> Response {
    let status = response.status();
    let content_type = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let streamed = content_type.as_deref().is_some_and(|c| c.starts_with("text/event-stream"));
    let (parts, body) = response.into_parts();
    let (body, stored) = if streamed || status.is_server_error() {
        (body, None)
    } else {
        match axum::body::to_bytes(body, MAX_STORED).await {
            Ok(bytes) => {
                let text = String::from_utf8(bytes.to_vec()).ok();
                (Body::from(bytes), text)
            }
            Err(e) => return Error::internal(format!("reading a response: {e}")).into_response(),
        }
    };
    let result = async {
        let mut tx = ctx.db.tenant(tenant).await?;
        match &stored {
            Some(text) => idempotency::finish(&mut tx, key, status.as_u16(), content_type.as_deref(), text).await?,
            None => idempotency::release(&mut tx, key).await?,
        }
        tx.commit().await
    }
    .await;
    if let Err(e) = result {
        tracing::error!(error = %e, "could not record an idempotent response");
    }
    Response::from_parts(parts, body)
}
