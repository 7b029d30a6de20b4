//! Dashboard pages of insights: every series as a chart with its expected band and anomalies,
//! and the anomaly feed with explanations and acknowledgement.

use crate::service::Insights;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use frontdesk_kernel::domain::Locale;
use frontdesk_web::pages::{NavItem, Page, TemplatesBuilder};
use frontdesk_web::{ApiPath, AuditActor, Permission, Principal, Requirement, Routes};
use serde_json::json;

/// Charts on the page at most (the busiest series first would need usage data; alphabetical).
const MAX_CHARTS: usize = 12;
const DAY_MS: i64 = 24 * 3600 * 1000;

pub fn templates(b: &mut TemplatesBuilder) {
    b.template("insights/overview.html", include_str!("../templates/overview.html"))
        .translations(Locale::En, include_str!("../i18n/en.json"))
        .translations(Locale::De, include_str!("../i18n/de.json"))
        .nav(NavItem {
            href: "/app/insights",
            label: "nav.insights",
            requirement: Requirement::Tenant(Permission::InsightsRead),
            order: 45,
        });
}

pub fn routes(insights: Insights) -> Routes {
    Routes::new()
        .get("/app/insights", Requirement::Tenant(Permission::InsightsRead), get(overview))
        .post(
            "/app/insights/anomalies/{anomaly_id}/acknowledge",
            Requirement::Tenant(Permission::InsightsManage),
            post(acknowledge),
        )
        .with_state(insights)
}

async fn overview(State(svc): State<Insights>, page: Page, principal: Principal) -> Response {
    let result = async {
        let tenant = principal.tenant()?;
        let series = svc.series_list(tenant).await?;
        let mut charts = Vec::new();
        for s in series.iter().take(MAX_CHARTS) {
            let key = crate::service::series_key(&serde_json::from_value(s.dimensions.clone()).unwrap_or_default());
            let to = s.scored_until.map(|t| t + 1).unwrap_or_else(frontdesk_kernel::time::now_ms);
            let chart = svc.chart(tenant, &s.metric, &key, to - 7 * DAY_MS, to).await?;
            charts.push(json!({"metric": s.metric, "dimensions": s.dimensions, "points": s.points, "chart": chart}));
        }
        let anomalies = svc.anomalies(tenant, None, None, 20).await?;
        Ok::<_, frontdesk_kernel::Error>(json!({
            "charts": charts,
            "anomalies": anomalies,
            "can_manage": principal.can(Permission::InsightsManage),
        }))
    };
    match result.await {
        Ok(data) => page.render("insights/overview.html", data),
        Err(e) => page.error(e),
    }
}

async fn acknowledge(
    State(svc): State<Insights>,
    page: Page,
    principal: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<crate::model::AnomalyId>,
) -> Response {
    let result = async { svc.acknowledge(principal.tenant()?, &id, &actor).await }.await;
    page.after(result, "/app/insights?notice=acknowledged")
}
