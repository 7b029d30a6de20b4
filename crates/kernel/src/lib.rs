//! The shared kernel of Frontdesk: what every capability speaks.
//!
//! - [`id`]: typed, prefixed, time-ordered ids (`ten_…`, `usr_…`).
//! - [`error`]: the one [`Error`] type, rendered as RFC 9457 problem+json at the HTTP edge.
//! - [`domain`]: newtypes that parse input at the edge (`Email`, `Slug`, `TimeZoneName`, …).
//! - [`paging`]: cursor paging.
//! - [`money`]: integer minor units with an ISO currency.
//! - [`time`]: UTC milliseconds, the storage form of every timestamp.
//! - [`metrics`]: the counts capabilities report to the business-metrics feed.
#![forbid(unsafe_code)]

pub mod crypto;
pub mod domain;
pub mod error;
pub mod id;
pub mod metrics;
pub mod money;
pub mod paging;
pub mod time;

pub use error::{Error, FieldError, Result};
pub use id::TenantId;
