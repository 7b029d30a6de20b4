//! The conversations service: one pipeline for every channel ([`pipeline`]), what staff do in
//! the inbox ([`staff`]), and the tenant's assistant settings (here).

pub mod contact_actions;
mod pipeline;
mod staff;
mod tasks;

pub use pipeline::{Holder, Inbound, Received, TurnEvent, TurnPlan, MAX_MESSAGE_CHARS};

/// Job payloads, for the job handlers.
pub(crate) mod pipeline_payloads {
    pub(crate) use super::pipeline::{SummaryPayload, TurnPayload};
}
pub use staff::StaffMember;

use crate::agent::Agent;
use crate::hours;
use crate::live::{LiveEvent, LiveHub, Topic};
use crate::model::*;
use crate::store;
use frontdesk_identity::model::Tenant;
use frontdesk_identity::Identity;
use frontdesk_kernel::crypto::Keyring;
use frontdesk_kernel::error::Validator;
use frontdesk_kernel::{Error, Result, TenantId};
use frontdesk_store::audit::{self, Actor, Change};
use frontdesk_store::Db;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Job kinds.
pub const TURN_JOB: &str = "conversations.turn";
pub const SUMMARY_JOB: &str = "conversations.summarise";

/// How long a looked-up tenant or settings stay cached on a replica (changes made on this
/// replica apply at once; on others within this time).
const CACHE_TTL: Duration = Duration::from_secs(10);

/// Tuning of the pipeline.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Attempts at a turn before the customer is handed to staff.
    pub turn_attempts: u32,
    /// Lease of an in-place turn: after a crash, a worker takes the turn over after this.
    pub turn_lease: Duration,
    /// Longest a synchronous chat request waits for its reply before answering "pending".
    pub reply_wait: Duration,
    /// First retry pause of a failed turn (doubles per attempt).
    pub retry_base: Duration,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            turn_attempts: 4,
            turn_lease: Duration::from_secs(90),
            reply_wait: Duration::from_secs(30),
            retry_base: Duration::from_secs(5),
        }
    }
}

#[derive(Clone)]
pub struct Conversations {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    keys: Keyring,
    hub: LiveHub,
    agent: Arc<dyn Agent>,
    identity: Identity,
    models: Option<frontdesk_agent::ModelSettings>,
    config: PipelineConfig,
    tenants_by_slug: Mutex<HashMap<String, (Instant, Option<Tenant>)>>,
    tenants_by_id: Mutex<HashMap<TenantId, (Instant, Option<Tenant>)>>,
    settings: Mutex<HashMap<TenantId, (Instant, Arc<AssistantSettings>)>>,
}

fn cached<K: std::hash::Hash + Eq, V: Clone>(map: &Mutex<HashMap<K, (Instant, V)>>, key: &K) -> Option<V> {
    let map = map.lock().unwrap_or_else(|p| p.into_inner());
    map.get(key).filter(|(at, _)| at.elapsed() < CACHE_TTL).map(|(_, v)| v.clone())
}

fn remember<K: std::hash::Hash + Eq, V>(map: &Mutex<HashMap<K, (Instant, V)>>, key: K, value: V) {
    let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
    // Bounded: a flood of unknown slugs must not grow memory without end.
    if map.len() > 10_000 {
        map.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
        if map.len() > 10_000 {
            map.clear();
        }
    }
    map.insert(key, (Instant::now(), value));
}

impl Conversations {
    pub fn new(db: Db, keys: Keyring, hub: LiveHub, agent: Arc<dyn Agent>, identity: Identity) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                keys,
                hub,
                agent,
                identity,
                models: None,
                config: PipelineConfig::default(),
                tenants_by_slug: Mutex::default(),
                tenants_by_id: Mutex::default(),
                settings: Mutex::default(),
            }),
        }
    }

    /// Summaries of long conversations are written by the tenant's model when it has one.
    pub fn with_models(mut self, models: frontdesk_agent::ModelSettings) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.models = Some(models);
        }
        self
    }

    pub fn with_config(mut self, config: PipelineConfig) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.config = config;
        }
        self
    }

    pub fn hub(&self) -> &LiveHub {
        &self.inner.hub
    }

    pub fn keys(&self) -> &Keyring {
        &self.inner.keys
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    pub fn config(&self) -> &PipelineConfig {
        &self.inner.config
    }

    // ---- tenants ------------------------------------------------------------------------

    /// The active tenant with this slug, for public endpoints; suspended and unknown tenants are
    /// both "not found" (a visitor learns nothing about which tenants exist).
    pub async fn public_tenant_by_slug(&self, slug: &str) -> Result<Tenant> {
        if slug.is_empty() || slug.len() > 64 || !slug.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(Error::NotFound);
        }
        let tenant = match cached(&self.inner.tenants_by_slug, &slug.to_owned()) {
            Some(t) => t,
            None => {
                let t = self.inner.identity.tenant_by_slug(slug).await?;
                remember(&self.inner.tenants_by_slug, slug.to_owned(), t.clone());
                t
            }
        };
        tenant.filter(|t| t.status == frontdesk_identity::model::TenantStatus::Active).ok_or(Error::NotFound)
    }

    /// The active tenant serving the public chat on a custom domain.
    pub async fn public_tenant_by_domain(&self, domain: &str) -> Result<Tenant> {
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        let domain = domain.split(':').next().unwrap_or_default().to_owned();
        let key = format!("domain:{domain}");
        let tenant = match cached(&self.inner.tenants_by_slug, &key) {
            Some(t) => t,
            None => {
                let mut tx = self.inner.db.system_read().await?;
                let id = store::tenant_of_domain(&mut tx, &domain).await?;
                drop(tx);
                let t = match id {
                    Some(id) => self.tenant(&TenantId::from_db(id)).await?,
                    None => None,
                };
                remember(&self.inner.tenants_by_slug, key, t.clone());
                t
            }
        };
        tenant.filter(|t| t.status == frontdesk_identity::model::TenantStatus::Active).ok_or(Error::NotFound)
    }

    /// A tenant by id (cached).
    pub async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>> {
        if let Some(t) = cached(&self.inner.tenants_by_id, id) {
            return Ok(t);
        }
        let t = self.inner.identity.tenant_by_id(id).await?;
        remember(&self.inner.tenants_by_id, id.clone(), t.clone());
        Ok(t)
    }

    // ---- settings -----------------------------------------------------------------------

    /// The tenant's assistant settings (defaults until saved), cached briefly.
    pub async fn settings(&self, tenant: &TenantId) -> Result<Arc<AssistantSettings>> {
        if let Some(s) = cached(&self.inner.settings, tenant) {
            return Ok(s);
        }
        let mut tx = self.inner.db.tenant_read(tenant).await?;
        let s = Arc::new(store::settings(&mut tx).await?.unwrap_or_default());
        remember(&self.inner.settings, tenant.clone(), s.clone());
        Ok(s)
    }

    /// Validates and saves the settings; the custom domains are replaced too.
    pub async fn update_settings(
        &self,
        tenant: &TenantId,
        settings: AssistantSettings,
        domains: Option<Vec<String>>,
        actor: &Actor,
    ) -> Result<Arc<AssistantSettings>> {
        let settings = validate_settings(settings)?;
        let domains = domains.map(validate_domains).transpose()?;
        let mut tx = self.inner.db.tenant(tenant).await?;
        store::put_settings(&mut tx, &settings).await?;
        if let Some(domains) = &domains {
            if !store::set_domains(&mut tx, domains).await? {
                return Err(Error::field("domains", "taken", "One of these domains is used by another business."));
            }
        }
        audit::record(&mut tx, actor, Change::new("assistant.settings_updated", "assistant_settings", None)).await?;
        tx.commit().await?;
        let settings = Arc::new(settings);
        remember(&self.inner.settings, tenant.clone(), settings.clone());
        Ok(settings)
    }

    pub async fn domains(&self, tenant: &TenantId) -> Result<Vec<String>> {
        let mut tx = self.inner.db.tenant_read(tenant).await?;
        Ok(store::domains(&mut tx).await?)
    }

    /// Whether a browser page at `origin` may use the tenant's public chat.
    pub fn origin_allowed(settings: &AssistantSettings, origin: Option<&str>) -> bool {
        match origin {
            // Not a cross-origin browser request (server-to-server, curl, same origin).
            None => true,
            Some(o) => settings.allowed_origins.is_empty() || settings.allowed_origins.iter().any(|a| a == o),
        }
    }

    /// The opening-hours sentence for the brain's prompt and for notices.
    pub(crate) fn hours_notice(tenant: &Tenant, settings: &AssistantSettings) -> Option<String> {
        if settings.opening_hours.is_empty() {
            return None;
        }
        let h = &settings.opening_hours;
        let names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        let days: Vec<String> = (0..7)
            .map(|d| {
                let ranges = h.day(d);
                format!("{} {}", names[d], if ranges.is_empty() { "closed".into() } else { ranges.join(", ") })
            })
            .collect();
        Some(format!("{} ({})", days.join("; "), tenant.time_zone))
    }

    pub(crate) async fn publish(&self, tenant: &TenantId, event: LiveEvent) {
        let conversation = event.conversation_id().clone();
        let inbox_too = !matches!(event, LiveEvent::Delta { .. } | LiveEvent::Typing { .. });
        self.inner.hub.publish(&Topic::Conversation(tenant.clone(), conversation.clone()), event).await;
        if inbox_too {
            self.inner
                .hub
                .publish(&Topic::Inbox(tenant.clone()), LiveEvent::Changed { conversation_id: conversation })
                .await;
        }
    }
}

fn is_color(s: &str) -> bool {
    s.len() == 7 && s.starts_with('#') && s[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_http_url(s: &str) -> bool {
    url::Url::parse(s).is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some())
}

/// Checks every field, naming each one at fault; trims text.
pub fn validate_settings(mut s: AssistantSettings) -> Result<AssistantSettings> {
    let mut v = Validator::new();
    let long = |v: &mut Validator, field: &str, text: &str, max: usize| {
        if text.chars().count() > max {
            v.push(field, "too_long", format!("At most {max} characters."));
        }
    };
    s.persona = s.persona.trim().to_owned();
    s.tone = s.tone.trim().to_owned();
    s.instructions = s.instructions.trim().to_owned();
    s.greeting = s.greeting.trim().to_owned();
    long(&mut v, "persona", &s.persona, 500);
    long(&mut v, "tone", &s.tone, 100);
    long(&mut v, "instructions", &s.instructions, 8_000);
    long(&mut v, "greeting", &s.greeting, 500);
    if s.faq.len() > 200 {
        v.push("faq", "too_many", "At most 200 FAQ entries.");
    }
    for (i, f) in s.faq.iter_mut().enumerate() {
        f.question = f.question.trim().to_owned();
        f.answer = f.answer.trim().to_owned();
        if f.question.is_empty() {
            v.push(&format!("faq[{i}].question"), "required", "Write the question.");
        }
        if f.answer.is_empty() {
            v.push(&format!("faq[{i}].answer"), "required", "Write the answer.");
        }
        long(&mut v, &format!("faq[{i}].answer"), &f.answer, 4_000);
    }
    if !is_color(&s.widget.color) {
        v.push("widget.color", "invalid", "A colour like #4f46e5.");
    }
    if !is_color(&s.widget.text_color) {
        v.push("widget.text_color", "invalid", "A colour like #ffffff.");
    }
    if let Some(logo) = &s.widget.logo_url {
        if logo.trim().is_empty() {
            s.widget.logo_url = None;
        } else if !logo.starts_with("https://") || !is_http_url(logo) {
            v.push("widget.logo_url", "invalid", "An https:// address of an image.");
        }
    }
    if !matches!(s.widget.position.as_str(), "right" | "left") {
        v.push("widget.position", "invalid", "right or left.");
    }
    s.widget.quick_replies.retain(|q| !q.trim().is_empty());
    if s.widget.quick_replies.len() > 6 || s.widget.quick_replies.iter().any(|q| q.chars().count() > 60) {
        v.push("widget.quick_replies", "invalid", "At most 6 quick replies of up to 60 characters.");
    }
    for bad in hours::invalid_ranges(&s.opening_hours) {
        v.push("opening_hours", "invalid", format!("\"{bad}\" is not a range like 09:00-18:00."));
    }
    // Kept as browsers send them in `Origin` (lower-case host, no default port, no slash), so
    // that `https://Studio.example:443/` matches the studio's own pages.
    let mut origins = Vec::new();
    for (i, o) in s.allowed_origins.iter().enumerate().filter(|(_, o)| !o.trim().is_empty()) {
        match url::Url::parse(o.trim()) {
            Ok(u)
                if matches!(u.scheme(), "https" | "http")
                    && u.host().is_some()
                    && u.path() == "/"
                    && u.query().is_none()
                    && u.fragment().is_none() =>
            {
                let origin = u.origin().ascii_serialization();
                if !origins.contains(&origin) {
                    origins.push(origin);
                }
            }
            _ => {
                v.push(&format!("allowed_origins[{i}]"), "invalid", "An origin like https://studio.example (no path).")
            }
        }
    }
    s.allowed_origins = origins;
    v.finish()?;
    Ok(s)
}

fn validate_domains(domains: Vec<String>) -> Result<Vec<String>> {
    let mut v = Validator::new();
    let mut out = Vec::new();
    for (i, d) in domains.iter().enumerate() {
        let d = d.trim().trim_end_matches('.').to_ascii_lowercase();
        if d.is_empty() {
            continue;
        }
        let ok = d.len() <= 253
            && d.contains('.')
            && d.split('.')
                .all(|l| !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        if ok {
            out.push(d);
        } else {
            v.push(&format!("domains[{i}]"), "invalid", "A host name like chat.studio.example.");
        }
    }
    v.finish()?;
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_origins(origins: &[&str]) -> Result<AssistantSettings> {
        validate_settings(AssistantSettings {
            allowed_origins: origins.iter().map(|o| (*o).to_owned()).collect(),
            ..AssistantSettings::default()
        })
    }

    #[test]
    fn allowed_origins_are_kept_as_browsers_send_them() {
        let s = with_origins(&["https://Studio.Example:443/", " http://localhost:8080 ", "", "https://studio.example"])
            .expect("valid");
        assert_eq!(s.allowed_origins, ["https://studio.example", "http://localhost:8080"]);
        assert!(Conversations::origin_allowed(&s, Some("https://studio.example")));
        assert!(Conversations::origin_allowed(&s, Some("http://localhost:8080")));
        assert!(!Conversations::origin_allowed(&s, Some("https://studio.example.evil.test")));
        assert!(!Conversations::origin_allowed(&s, Some("http://studio.example")), "the scheme counts");
        assert!(!Conversations::origin_allowed(&s, Some("null")), "sandboxed frames are not the studio");
        assert!(Conversations::origin_allowed(&s, None), "not a cross-origin browser request");
        let open = with_origins(&[]).expect("valid");
        assert!(Conversations::origin_allowed(&open, Some("https://anywhere.example")));
    }

    #[test]
    fn origins_with_a_path_or_another_scheme_are_named() {
        let Err(Error::Validation(errors)) =
            with_origins(&["https://studio.example/chat", "ftp://studio.example", "https://ok.example", "studio"])
        else {
            panic!("invalid origins pass");
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["allowed_origins[0]", "allowed_origins[1]", "allowed_origins[3]"]);
    }
}
