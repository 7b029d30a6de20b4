//! Webhook endpoints: create, edit, delete, rotate the secret, send a test event.

use super::*;

const MAX_URL: usize = 2000;
const MAX_DESCRIPTION: usize = 500;
const MAX_EVENT_TYPES: usize = 50;

impl Automation {
    /// Checks a destination URL: absolute, https (http only where private destinations are
    /// allowed), no credentials, and not an obviously internal host.
    fn check_url(&self, v: &mut Validator, raw: &str) -> Option<String> {
        self.check_destination(v, "url", raw)
    }

    /// [`Self::check_url`] for any field (`actions[0].webhook_url`).
    pub(crate) fn check_destination(&self, v: &mut Validator, field: &str, raw: &str) -> Option<String> {
        let policy = &self.config.outbound;
        let url = match url::Url::parse(raw.trim()) {
            Ok(u) => u,
            Err(_) => {
                v.push(field, "invalid_url", "Enter an absolute URL, like https://example.com/webhooks.");
                return None;
            }
        };
        let problem = if raw.len() > MAX_URL {
            Some(("too_long", format!("At most {MAX_URL} characters.")))
        } else if url.scheme() != "https" && !(url.scheme() == "http" && policy.allow_private) {
            Some(("https_required", "The URL must start with https://.".to_owned()))
        } else if !url.username().is_empty() || url.password().is_some() {
            Some(("credentials_in_url", "Put no user name or password in the URL.".to_owned()))
        } else {
            outbound::check_url(&url, policy).err().map(|e| ("forbidden_destination", e.to_string()))
        };
        match problem {
            Some((code, message)) => {
                v.push(field, code, message);
                None
            }
            None => Some(url.to_string()),
        }
    }

    fn check_description(v: &mut Validator, d: &str) -> String {
        if d.chars().count() > MAX_DESCRIPTION {
            v.push("description", "too_long", format!("At most {MAX_DESCRIPTION} characters."));
        }
        d.trim().to_owned()
    }

    fn check_event_types(v: &mut Validator, types: &[String]) -> Vec<String> {
        if types.len() > MAX_EVENT_TYPES {
            v.push("event_types", "too_many", format!("At most {MAX_EVENT_TYPES} event types."));
        }
        let mut out: Vec<String> = Vec::new();
        for (i, t) in types.iter().enumerate() {
            match check_event_type(t) {
                Err((code, message)) => v.push(&format!("event_types[{i}]"), code, message),
                Ok(()) if !out.contains(t) => out.push(t.clone()),
                Ok(()) => {}
            }
        }
        out
    }

    pub async fn endpoints(&self, p: &Principal, after: Option<&str>, limit: u32) -> Result<Vec<WebhookEndpoint>> {
        let mut tx = self.read_tx(p).await?;
        Ok(store::list_endpoints(&mut tx, after, limit).await?)
    }

    pub async fn endpoint(&self, p: &Principal, id: &WebhookEndpointId) -> Result<WebhookEndpoint> {
        let mut tx = self.read_tx(p).await?;
        Ok(store::endpoint(&mut tx, id).await?.endpoint)
    }

    /// Creates an endpoint with a fresh secret, returned once.
    pub async fn create_endpoint(
        &self,
        p: &Principal,
        req: CreateEndpointRequest,
        actor: &Actor,
    ) -> Result<WebhookEndpointWithSecret> {
        let mut v = Validator::new();
        let url = self.check_url(&mut v, &req.url);
        let description = Self::check_description(&mut v, &req.description);
        let event_types = Self::check_event_types(&mut v, &req.event_types);
        v.finish()?;
        let url = url.ok_or_else(|| Error::internal("validated url missing"))?;
        let now = now_ms();
        let endpoint = WebhookEndpoint {
            id: WebhookEndpointId::new(),
            url,
            description,
            event_types,
            disabled_at: None,
            previous_secret_until: None,
            created_at: now,
            updated_at: now,
        };
        let secret = WebhookSecret::generate();
        let mut tx = self.tx(p).await?;
        store::insert_endpoint(&mut tx, &endpoint, &self.seal(&secret)).await?;
        let change = Change::new("webhook_endpoint.created", "webhook_endpoint", Some(endpoint.id.as_str()))
            .details(json!({"url": endpoint.url, "event_types": endpoint.event_types}));
        audit::record(&mut tx, actor, change).await?;
        tx.commit().await?;
        Ok(WebhookEndpointWithSecret { endpoint, secret: secret.expose() })
    }

    pub async fn update_endpoint(
        &self,
        p: &Principal,
        id: &WebhookEndpointId,
        req: UpdateEndpointRequest,
        actor: &Actor,
    ) -> Result<WebhookEndpoint> {
        let mut v = Validator::new();
        let url = req.url.as_deref().map(|u| self.check_url(&mut v, u));
        let description = req.description.as_deref().map(|d| Self::check_description(&mut v, d));
        let event_types = req.event_types.as_deref().map(|t| Self::check_event_types(&mut v, t));
        v.finish()?;
        let mut tx = self.tx(p).await?;
        let mut endpoint = store::endpoint(&mut tx, id).await?.endpoint;
        let now = now_ms();
        if let Some(Some(url)) = url {
            endpoint.url = url;
        }
        if let Some(description) = description {
            endpoint.description = description;
        }
        if let Some(types) = event_types {
            endpoint.event_types = types;
        }
        match (req.disabled, endpoint.disabled_at) {
            (Some(true), None) => endpoint.disabled_at = Some(now),
            (Some(false), Some(_)) => endpoint.disabled_at = None,
            _ => {}
        }
        endpoint.updated_at = now;
        store::update_endpoint(&mut tx, &endpoint).await?;
        let change = Change::new("webhook_endpoint.updated", "webhook_endpoint", Some(id.as_str())).details(json!({
            "url": endpoint.url,
            "event_types": endpoint.event_types,
            "disabled": endpoint.disabled_at.is_some(),
        }));
        audit::record(&mut tx, actor, change).await?;
        tx.commit().await?;
        Ok(endpoint)
    }

    /// Deletes the endpoint and its delivery log; queued attempts find it gone and stop.
    pub async fn delete_endpoint(&self, p: &Principal, id: &WebhookEndpointId, actor: &Actor) -> Result<()> {
        let mut tx = self.tx(p).await?;
        let endpoint = store::endpoint(&mut tx, id).await?.endpoint;
        store::delete_endpoint(&mut tx, id).await?;
        let change = Change::new("webhook_endpoint.deleted", "webhook_endpoint", Some(id.as_str()))
            .details(json!({"url": endpoint.url}));
        audit::record(&mut tx, actor, change).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A new signing secret, returned once. The previous one keeps signing alongside it for
    /// `rotation_overlap` (24 h), so receivers can switch without missing a webhook.
    pub async fn rotate_secret(
        &self,
        p: &Principal,
        id: &WebhookEndpointId,
        actor: &Actor,
    ) -> Result<WebhookEndpointWithSecret> {
        let mut tx = self.tx(p).await?;
        let rec = store::endpoint(&mut tx, id).await?;
        let now = now_ms();
        let until = now + self.config.rotation_overlap.as_millis() as i64;
        let secret = WebhookSecret::generate();
        store::set_secrets(&mut tx, id, &self.seal(&secret), Some(&rec.secret), Some(until), now).await?;
        audit::record(
            &mut tx,
            actor,
            Change::new("webhook_endpoint.secret_rotated", "webhook_endpoint", Some(id.as_str())),
        )
        .await?;
        tx.commit().await?;
        let endpoint = WebhookEndpoint { previous_secret_until: Some(until), updated_at: now, ..rec.endpoint };
        Ok(WebhookEndpointWithSecret { endpoint, secret: secret.expose() })
    }

    /// Sends a `webhook.test` event to this endpoint alone, whatever its filter.
    pub async fn send_test(&self, p: &Principal, id: &WebhookEndpointId, actor: &Actor) -> Result<WebhookDelivery> {
        let mut tx = self.tx(p).await?;
        let endpoint = store::endpoint(&mut tx, id).await?.endpoint;
        if endpoint.disabled_at.is_some() {
            return Err(Error::conflict("endpoint_disabled", "Enable the endpoint before sending to it."));
        }
        let payload = envelope(TEST_EVENT, json!({"endpoint_id": id, "message": "A test event from Frontdesk."}));
        let delivery = enqueue_delivery(&mut tx, id, &EventId::new(), TEST_EVENT, payload, None).await?;
        let change = Change::new("webhook_endpoint.tested", "webhook_endpoint", Some(id.as_str()))
            .details(json!({"delivery_id": delivery}));
        audit::record(&mut tx, actor, change).await?;
        let delivery = store::delivery(&mut tx, &delivery).await?;
        tx.commit().await?;
        Ok(delivery)
    }
}
