//! The one error type of Frontdesk and its problem+json form (RFC 9457).
//!
//! Only deliberate errors reach clients with their text. Everything else becomes
//! [`Error::Internal`], is logged with the place it was raised (`#[track_caller]`), and answers
//! a bare 500 — internal messages never leave the process.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::panic::Location;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One field at fault in a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// JSON pointer-like path of the field (`email`, `items/2/price`).
    pub field: String,
    /// Stable snake_case code (`required`, `invalid_format`, `too_long`, …).
    pub code: String,
    /// Human explanation.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        Self { field: field.into(), code: code.to_owned(), message: message.into() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The object does not exist — or belongs to another tenant, which must look the same.
    #[error("not found")]
    NotFound,
    #[error("validation failed: {}", describe_fields(.0))]
    Validation(Vec<FieldError>),
    /// No or bad credentials.
    #[error("authentication required")]
    Unauthenticated { code: &'static str, detail: String },
    /// Authenticated, but the role or key lacks a permission.
    #[error("forbidden: {detail}")]
    Forbidden { detail: String },
    /// A uniqueness or state conflict the client can act on.
    #[error("conflict: {detail}")]
    Conflict { code: &'static str, detail: String },
    #[error("too many requests")]
    RateLimited { retry_after_secs: u64 },
    /// A well-formed request the server refuses (bad state, unsupported value, …).
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: String },
    #[error("payload too large")]
    PayloadTooLarge,
    /// A dependency (database, provider) is down; safe to retry.
    #[error("service unavailable: {detail}")]
    Unavailable { detail: String },
    #[error("internal error: {message} (at {location})")]
    Internal { message: String, location: &'static Location<'static> },
}

impl Error {
    /// An internal fault, remembered with the caller's source location.
    #[track_caller]
    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self::Internal { message: message.to_string(), location: Location::caller() }
    }

    pub fn field(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, code, message)])
    }

    pub fn unauthenticated(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Unauthenticated { code, detail: detail.into() }
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::Forbidden { detail: detail.into() }
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Conflict { code, detail: detail.into() }
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::BadRequest { code, detail: detail.into() }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Error::NotFound => StatusCode::NOT_FOUND,
            Error::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            Error::Forbidden { .. } => StatusCode::FORBIDDEN,
            Error::Conflict { .. } => StatusCode::CONFLICT,
            Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Error::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable snake_case code clients may match on.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound => "not_found",
            Error::Validation(_) => "validation",
            Error::Unauthenticated { code, .. } => code,
            Error::Forbidden { .. } => "forbidden",
            Error::Conflict { code, .. } => code,
            Error::RateLimited { .. } => "rate_limited",
            Error::BadRequest { code, .. } => code,
            Error::PayloadTooLarge => "payload_too_large",
            Error::Unavailable { .. } => "unavailable",
            Error::Internal { .. } => "internal",
        }
    }

    /// The problem document clients see.
    pub fn problem(&self) -> Problem {
        let status = self.status();
        let (detail, errors) = match self {
            Error::Validation(errors) => (Some("One or more fields are invalid.".to_owned()), errors.clone()),
            Error::Unauthenticated { detail, .. }
            | Error::Forbidden { detail }
            | Error::Conflict { detail, .. }
            | Error::BadRequest { detail, .. }
            | Error::Unavailable { detail } => (Some(detail.clone()), Vec::new()),
            Error::RateLimited { retry_after_secs } => {
                (Some(format!("Try again in {retry_after_secs} s.")), Vec::new())
            }
            Error::NotFound | Error::PayloadTooLarge | Error::Internal { .. } => (None, Vec::new()),
        };
        Problem {
            r#type: format!("{PROBLEM_TYPE_BASE}{}", self.code()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            code: self.code().to_owned(),
            detail,
            errors,
        }
    }
}

fn describe_fields(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| if e.field.is_empty() { e.message.clone() } else { format!("{}: {}", e.field, e.message) })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Problem types are URNs: stable, and they never pretend to be a page that may not exist.
pub const PROBLEM_TYPE_BASE: &str = "urn:frontdesk:problem:";

/// RFC 9457 problem details, with `code` and field `errors` as extension members.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// `urn:frontdesk:problem:<code>`
    pub r#type: String,
    pub title: String,
    pub status: u16,
    /// Stable snake_case code, the last segment of `type`.
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        if let Error::Internal { message, location } = &self {
            tracing::error!(error = %message, %location, "internal error");
        }
        let problem = self.problem();
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (self.status(), body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        match &self {
            Error::RateLimited { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs.max(&1).to_owned()));
            }
            Error::Unauthenticated { .. } => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}

impl From<serde_json::Error> for Error {
    #[track_caller]
    fn from(e: serde_json::Error) -> Self {
        Error::internal(format!("json: {e}"))
    }
}

/// Collects field errors while validating a request, then fails once with all of them.
#[derive(Default, Debug)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the error of a parse result and returns its value, if any.
    pub fn check<T>(&mut self, field: &str, result: std::result::Result<T, FieldErrorKind>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(kind) => {
                self.errors.push(FieldError::new(field, kind.code, kind.message));
                None
            }
        }
    }

    pub fn push(&mut self, field: &str, code: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, code, message));
    }

    pub fn finish(self) -> Result<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(self.errors))
        }
    }
}

/// Why one value did not parse (the field name is added by [`Validator::check`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldErrorKind {
    pub code: &'static str,
    pub message: String,
}

impl FieldErrorKind {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    /// Fails the whole request with this error on `field`.
    pub fn on(self, field: &str) -> Error {
        Error::field(field, self.code, self.message)
    }
}
