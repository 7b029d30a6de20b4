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
pub async fn seed(identity: &Identity, insights: &frontdesk_insights::Insights) -> Result<bool, AppError> {
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
    let (tenant, _) = identity.create_tenant_with_owner(req, OWNER_EMAIL, "Mara Nord", Some(DEMO_PASSWORD)).await?;
    insights.ingest(&tenant.id, demo_metrics(frontdesk_kernel::time::now_ms())).await?;
    if identity.find_user(OPERATOR_EMAIL).await?.is_none() {
        identity.create_user(OPERATOR_EMAIL, "Platform Operator", DEMO_PASSWORD, true).await?;
    }
    Ok(true)
}

/// Two weeks of hourly class bookings and check-ins with a daily rhythm; yesterday afternoon
/// the booking system "failed" for three hours, so the Insights page has something to explain.
fn demo_metrics(now_ms: i64) -> Vec<serde_json::Value> {
    let hour_ms = 3_600_000;
    let start = (now_ms / hour_ms - 14 * 24) * hour_ms;
    let outage_start = (now_ms / hour_ms - 24 - 6) * hour_ms;
    let mut points = Vec::new();
    let mut seed: u64 = 2026;
    for h in 0..(14 * 24) {
        let t = start + h * hour_ms;
        let hour_of_day = (h % 24) as f64;
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let noise = ((seed >> 33) % 100) as f64 / 100.0;
        // Busy mornings and evenings, quiet nights.
        let rhythm = (((hour_of_day - 7.0) / 24.0) * std::f64::consts::TAU).sin().max(0.0) * 9.0
            + (((hour_of_day - 15.0) / 12.0) * std::f64::consts::TAU).sin().max(0.0) * 6.0;
        let outage = (outage_start..outage_start + 3 * hour_ms).contains(&t);
        let bookings = if outage { 0.0 } else { (2.0 + rhythm + noise * 2.0).round() };
        let check_ins = (1.5 + rhythm * 0.8 + noise * 2.0).round();
        points.push(serde_json::json!({"metric": "bookings", "value": bookings, "timestamp": t / 1000}));
        points.push(serde_json::json!({"metric": "check_ins", "value": check_ins, "timestamp": t / 1000}));
    }
    points
}
