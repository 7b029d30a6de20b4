//! Automation's business objects and the shapes the API exchanges.

use frontdesk_kernel::define_id;
use frontdesk_kernel::time::rfc3339;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

mod workflows;
pub use workflows::*;

define_id!(
    /// A URL of the tenant's that receives signed webhooks.
    WebhookEndpointId,
    "whe"
);
define_id!(
    /// One event sent (or to be sent) to one endpoint: the delivery log's row.
    WebhookDeliveryId,
    "whd"
);
define_id!(
    /// One published event; its `webhook-id`, the same for every endpoint, retry and replay.
    EventId,
    "msg"
);

/// The event sent by `POST /webhooks/endpoints/{id}/test`.
pub const TEST_EVENT: &str = "webhook.test";

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookEndpoint {
    pub id: WebhookEndpointId,
    pub url: String,
    pub description: String,
    /// Event types delivered to this endpoint; empty means every event.
    pub event_types: Vec<String>,
    /// Set while the endpoint is disabled: no new deliveries are made to it.
    #[serde(with = "rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub disabled_at: Option<i64>,
    /// While set, the previous secret still signs alongside the new one (rotation).
    #[serde(with = "rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub previous_secret_until: Option<i64>,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: i64,
}

impl WebhookEndpoint {
    pub fn wants(&self, event_type: &str) -> bool {
        self.event_types.is_empty() || self.event_types.iter().any(|t| t == event_type)
    }
}

/// Returned at creation and rotation: the only times the signing secret is shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookEndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: WebhookEndpoint,
    /// `whsec_…`: verify our `webhook-signature` header with it. Store it now.
    pub secret: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpointRequest {
    /// `https://…` (plain http only where the deployment allows private destinations).
    pub url: String,
    #[serde(default)]
    pub description: String,
    /// Event types to receive; empty or absent for every event.
    #[serde(default)]
    pub event_types: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEndpointRequest {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    /// `true` stops new deliveries to the endpoint; `false` resumes them.
    pub disabled: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    Queued,
    Succeeded,
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Queued => "queued",
            DeliveryState::Succeeded => "succeeded",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "queued" => Some(DeliveryState::Queued),
            "succeeded" => Some(DeliveryState::Succeeded),
            "failed" => Some(DeliveryState::Failed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookDelivery {
    pub id: WebhookDeliveryId,
    pub endpoint_id: WebhookEndpointId,
    /// The `webhook-id` header.
    pub event_id: EventId,
    pub event_type: String,
    /// The exact JSON body sent.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub state: DeliveryState,
    pub attempts: i64,
    #[serde(with = "rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_attempt_at: Option<i64>,
    /// HTTP status of the last attempt, when one answered.
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    /// How long the last attempt took.
    pub response_ms: Option<i64>,
    /// The delivery this one replays.
    pub replay_of: Option<WebhookDeliveryId>,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: i64,
}

/// The body every webhook carries (Standard Webhooks' recommended envelope).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventEnvelope {
    #[serde(rename = "type")]
    pub event_type: String,
    /// RFC 3339 time the event happened.
    pub timestamp: String,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}
