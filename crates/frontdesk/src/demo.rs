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
pub async fn seed(
    identity: &Identity,
    insights: &frontdesk_insights::Insights,
    conversations: &frontdesk_conversations::Conversations,
) -> Result<bool, AppError> {
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
    let actor = frontdesk_store::audit::Actor::system("demo");
    conversations.update_settings(&tenant.id, demo_assistant(), None, &actor).await?;
    if identity.find_user(OPERATOR_EMAIL).await?.is_none() {
        identity.create_user(OPERATOR_EMAIL, "Platform Operator", DEMO_PASSWORD, true).await?;
    }
    Ok(true)
}

/// The front desk's persona, FAQ and hours: the web chat answers these without any model.
fn demo_assistant() -> frontdesk_conversations::model::AssistantSettings {
    use frontdesk_conversations::model::{AssistantSettings, FaqEntry, OpeningHours, WidgetLook};
    let faq = |q: &str, a: &str| FaqEntry { question: q.into(), answer: a.into() };
    let weekdays = vec!["07:00-21:00".to_owned()];
    AssistantSettings {
        persona: "You are Mia, the front desk of Studio Nord Fitness in Hamburg.".into(),
        tone: "friendly".into(),
        instructions: "Offer a free trial class to newcomers. Never give medical advice.".into(),
        faq: vec![
            faq("What are your opening hours?", "We're open Monday to Friday 7:00–21:00 and Saturday 9:00–17:00. Sundays we're closed."),
            faq("How much does a membership cost?", "Flex is €39 a month (cancel monthly), Annual is €29 a month. Students get 20 % off."),
            faq("Can I try a class for free?", "Yes! Your first class is free. Tell me which class and day you'd like, and we'll hold a spot."),
            faq("Is there parking?", "Yes, 20 free spaces behind the building, entrance from Nordstraße."),
            faq("How do I cancel a booking?", "Cancel up to 6 hours before the class in the app or here in the chat; later cancellations count as attended."),
        ],
        greeting: "Hi! I'm Mia from Studio Nord. Ask me about classes, prices or opening hours.".into(),
        widget: WidgetLook {
            color: "#0f766e".into(),
            quick_replies: vec!["Opening hours".into(), "Prices".into(), "Free trial class".into()],
            ..WidgetLook::default()
        },
        opening_hours: OpeningHours {
            monday: weekdays.clone(),
            tuesday: weekdays.clone(),
            wednesday: weekdays.clone(),
            thursday: weekdays.clone(),
            friday: weekdays,
            saturday: vec!["09:00-17:00".into()],
            sunday: vec![],
        },
        ..AssistantSettings::default()
    }
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
