//! The delivery log: listing, replaying.

use super::*;

impl Automation {
    /// An endpoint's deliveries, newest first.
    pub async fn deliveries(
        &self,
        p: &Principal,
        endpoint: &WebhookEndpointId,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>> {
        let mut tx = self.read_tx(p).await?;
        store::endpoint(&mut tx, endpoint).await?;
        Ok(store::list_deliveries(&mut tx, endpoint, after, limit).await?)
    }

    pub async fn delivery(&self, p: &Principal, id: &WebhookDeliveryId) -> Result<WebhookDelivery> {
        let mut tx = self.read_tx(p).await?;
        Ok(store::delivery(&mut tx, id).await?)
    }

    /// Sends a finished delivery again: a new delivery in the log (`replay_of` the old one) with
    /// the same `webhook-id` and body, and a fresh schedule of attempts.
    pub async fn replay(&self, p: &Principal, id: &WebhookDeliveryId, actor: &Actor) -> Result<WebhookDelivery> {
        let mut tx = self.tx(p).await?;
        let original = store::delivery(&mut tx, id).await?;
        if original.state == DeliveryState::Queued {
            return Err(Error::conflict("delivery_in_progress", "This delivery is still being attempted."));
        }
        let endpoint = store::endpoint(&mut tx, &original.endpoint_id).await?.endpoint;
        if endpoint.disabled_at.is_some() {
            return Err(Error::conflict("endpoint_disabled", "Enable the endpoint before replaying to it."));
        }
        let new_id = enqueue_delivery(
            &mut tx,
            &original.endpoint_id,
            &original.event_id,
            &original.event_type,
            original.payload.clone(),
            Some(original.id.clone()),
        )
        .await?;
        let change = Change::new("webhook_delivery.replayed", "webhook_delivery", Some(id.as_str()))
            .details(json!({"replay_id": new_id, "event_id": original.event_id}));
        audit::record(&mut tx, actor, change).await?;
        let replay = store::delivery(&mut tx, &new_id).await?;
        tx.commit().await?;
        Ok(replay)
    }
}
