//! Identity and access: tenants and workspaces, users and memberships with roles, passwords
//! (Argon2id), dashboard sessions, TOTP two-factor with recovery codes, JWT access tokens with
//! rotating refresh tokens, API keys, invitations, and the e-mail outbox.
#![forbid(unsafe_code)]

mod authn;
pub mod http;
pub mod jobs;
pub mod mailer;
pub mod model;
pub mod pages;
pub mod password;
pub mod service;
pub mod store;
pub mod testing;
pub mod tokens;
pub mod totp;

pub use service::{Identity, IdentityConfig, LoginStep};

/// Identity's schema (after the store's core migrations).
pub const MIGRATIONS: &[frontdesk_store::Migration] = &[frontdesk_store::migration!("identity", 1, "0001_identity")];
