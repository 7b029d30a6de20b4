//! `serve --demo`: a demo studio to look around in. Seeds only into a database without the
//! `demo` tenant; later capabilities add their demo data (knowledge, staff, conversations) here.

use crate::app::AppError;
use frontdesk_identity::model::NewTenantRequest;
use frontdesk_identity::Identity;

pub const DEMO_SLUG: &str = "demo";
pub const OWNER_EMAIL: &str = "owner@demo.frontdesk.test";
pub const OPERATOR_EMAIL: &str = "operator@demo.frontdesk.test";
/// The demo is for looking around on your own machine; never expose it.
pub const DEMO_PASSWORD: &str = "frontdesk-demo";

/// Seeds the demo tenant unless it exists. Returns true when it seeded.
pub async fn seed(identity: &Identity) -> Result<bool, AppError> {
    if identity.tenant_by_slug(DEMO_SLUG).await?.is_some() {
        return Ok(false);
    }
    let req = NewTenantRequest {
        tenant_name: "Studio Nord Fitness".into(),
        slug: Some(DEMO_SLUG.into()),
        time_zone: Some("Europe/Berlin".into()),
        locale: Some("en".into()),
        industry: Some("fitness".into()),
    };
    identity.create_tenant_with_owner(req, OWNER_EMAIL, "Mara Nord", Some(DEMO_PASSWORD)).await?;
    if identity.find_user(OPERATOR_EMAIL).await?.is_none() {
        identity.create_user(OPERATOR_EMAIL, "Platform Operator", DEMO_PASSWORD, true).await?;
    }
    Ok(true)
}
