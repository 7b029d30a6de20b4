//! A tenant's model settings (its own OpenAI-compatible endpoint, key sealed at rest) and its
//! token usage, stored per tenant. Tenants without settings use the platform's default model.
//!
//! Every chat turn asks for the tenant's model, so the built model is cached per tenant (see
//! [`PROVIDER_TTL`]): a change made on this replica applies at once, on other replicas within
//! the TTL.

use crate::config::ProviderConfig;
use crate::provider::ChatProvider;
use crate::usage::{Metered, UsageRecord, UsageSink};
use frontdesk_kernel::crypto::Keyring;
use frontdesk_kernel::time::now_ms;
use frontdesk_kernel::{Error, Result, TenantId};
use frontdesk_store::audit::{self, Actor, Change};
use frontdesk_store::{Db, Row, StoreError, TenantTx, Tx};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use utoipa::ToSchema;

/// How long a tenant's built model stays cached. Changes made through this replica invalidate
/// it at once; this bounds how long another replica keeps using the previous settings.
pub const PROVIDER_TTL: Duration = Duration::from_secs(10);
/// Most tenants whose models are cached (bounds memory; beyond it, expired entries go first).
const PROVIDER_CACHE_MAX: usize = 10_000;

/// What a tenant sees of its model settings: never a key.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ModelSettingsView {
    /// `tenant` (its own endpoint), `platform` (the operator's default) or `none`.
    pub source: &'static str,
    pub base_url: Option<String>,
    pub model: Option<String>,
    pub fallback_model: Option<String>,
    pub fallback_base_url: Option<String>,
    pub has_api_key: bool,
    pub has_fallback_api_key: bool,
    /// Timeouts and retries of each model call (absent when no model is configured).
    pub limits: Option<ModelLimits>,
}

/// A change of the tenant's model endpoint.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct UpdateModelSettings {
    pub base_url: String,
    pub model: String,
    pub fallback_model: Option<String>,
    pub fallback_base_url: Option<String>,
    /// A new key; absent keeps the stored one; empty removes it.
    pub api_key: Option<String>,
    /// A new key for the fallback endpoint (same rules).
    pub fallback_api_key: Option<String>,
}

/// Timeouts and retries of each model call. In a change, absent fields keep the stored value:
/// a slow local model needs longer timeouts, a quick switch to the fallback shorter ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ModelLimits {
    /// How long to wait for the answer to start (ms).
    pub first_byte_timeout_ms: Option<u64>,
    /// Longest silence between two streamed chunks (ms).
    pub idle_timeout_ms: Option<u64>,
    /// Longest whole call (ms).
    pub total_timeout_ms: Option<u64>,
    /// Tries per model, the first included (1–10).
    pub max_attempts: Option<u32>,
    /// First pause between tries (ms); it doubles up to `backoff_cap_ms`.
    pub backoff_base_ms: Option<u64>,
    pub backoff_cap_ms: Option<u64>,
}

impl ModelLimits {
    fn of(c: &ProviderConfig) -> Self {
        Self {
            first_byte_timeout_ms: Some(c.first_byte_timeout_ms),
            idle_timeout_ms: Some(c.idle_timeout_ms),
            total_timeout_ms: Some(c.total_timeout_ms),
            max_attempts: Some(c.max_attempts),
            backoff_base_ms: Some(c.backoff_base_ms),
            backoff_cap_ms: Some(c.backoff_cap_ms),
        }
    }
}

/// Tokens per day and model.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UsageDay {
    /// `2026-11-24` (UTC).
    pub day: String,
    pub model: String,
    pub calls: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
}

#[derive(Clone)]
pub struct ModelSettings {
    db: Db,
    keys: Keyring,
    http: reqwest::Client,
    platform: Option<ProviderConfig>,
    usage: Arc<DbUsage>,
    cache: Arc<ProviderCache>,
}

/// When a tenant's model was built, and the model (`None`: no model configured for it).
type CachedProvider = (Instant, Option<Arc<dyn ChatProvider>>);

/// A tenant's model as last built, by tenant.
#[derive(Default)]
struct ProviderCache {
    entries: Mutex<HashMap<TenantId, CachedProvider>>,
    /// Bumped by every invalidation: a model built from settings read before a change is not
    /// cached after it.
    generation: AtomicU64,
}

impl ProviderCache {
    fn get(&self, tenant: &TenantId) -> Option<Option<Arc<dyn ChatProvider>>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(tenant).filter(|(at, _)| at.elapsed() < PROVIDER_TTL).map(|(_, p)| p.clone())
    }

    fn put(&self, tenant: &TenantId, generation: u64, provider: Option<Arc<dyn ChatProvider>>) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= PROVIDER_CACHE_MAX {
            entries.retain(|_, (at, _)| at.elapsed() < PROVIDER_TTL);
            if entries.len() >= PROVIDER_CACHE_MAX {
                entries.clear();
            }
        }
        entries.insert(tenant.clone(), (Instant::now(), provider));
    }

    fn invalidate(&self, tenant: &TenantId) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.remove(tenant);
    }
}

impl ModelSettings {
    /// `platform` is the operator's default model (its key sealed with `keys`).
    pub fn new(db: Db, keys: Keyring, platform: Option<ProviderConfig>) -> Result<Self> {
        let http = crate::OpenAiCompatible::http_client(std::time::Duration::from_secs(5)).map_err(Error::internal)?;
        let usage = Arc::new(DbUsage { db: db.clone() });
        Ok(Self { db, keys, http, platform, usage, cache: Arc::default() })
    }

    async fn stored(&self, tenant: &TenantId) -> Result<Option<ProviderConfig>> {
        let mut tx = self.db.tenant_read(tenant).await?;
        let row = frontdesk_store::query("SELECT config FROM llm_settings WHERE tenant_id = $1")
            .bind(tenant.as_str())
            .fetch_optional(tx.conn())
            .await
            .map_err(StoreError::from)?;
        row.map(|r| {
            let text: String = r.try_get("config").map_err(StoreError::from)?;
            serde_json::from_str::<ProviderConfig>(&text).map_err(Error::internal)
        })
        .transpose()
    }

    pub async fn view(&self, tenant: &TenantId) -> Result<ModelSettingsView> {
        let (source, cfg) = match self.stored(tenant).await? {
            Some(c) => ("tenant", Some(c)),
            None => match &self.platform {
                Some(c) => ("platform", Some(c.clone())),
                None => ("none", None),
            },
        };
        Ok(ModelSettingsView {
            source,
            base_url: cfg.as_ref().map(|c| c.base_url.clone()),
            model: cfg.as_ref().map(|c| c.model.clone()),
            fallback_model: cfg.as_ref().and_then(|c| c.fallback_model.clone()),
            fallback_base_url: cfg.as_ref().and_then(|c| c.fallback_base_url.clone()),
            // The platform's key is the operator's: a tenant only learns that one exists.
            has_api_key: cfg.as_ref().is_some_and(|c| c.api_key_sealed.is_some()),
            has_fallback_api_key: cfg.as_ref().is_some_and(|c| c.fallback_api_key_sealed.is_some()),
            limits: cfg.as_ref().map(ModelLimits::of),
        })
    }

    pub async fn update(
        &self,
        tenant: &TenantId,
        req: UpdateModelSettings,
        actor: &Actor,
    ) -> Result<ModelSettingsView> {
        self.update_with_limits(tenant, req, ModelLimits::default(), actor).await
    }

    /// [`ModelSettings::update`], also changing the timeouts and retries that `limits` names.
    pub async fn update_with_limits(
        &self,
        tenant: &TenantId,
        req: UpdateModelSettings,
        limits: ModelLimits,
        actor: &Actor,
    ) -> Result<ModelSettingsView> {
        let current = self.stored(tenant).await?.unwrap_or_default();
        let seal = |new: &Option<String>, old: Option<String>| match new.as_deref().map(str::trim) {
            None => old,
            Some("") => None,
            Some(key) => Some(ProviderConfig::seal_key(&self.keys, key)),
        };
        let cfg = ProviderConfig {
            base_url: req.base_url.trim().to_owned(),
            model: req.model.trim().to_owned(),
            fallback_model: req.fallback_model.map(|m| m.trim().to_owned()).filter(|m| !m.is_empty()),
            fallback_base_url: req.fallback_base_url.map(|u| u.trim().to_owned()).filter(|u| !u.is_empty()),
            api_key_sealed: seal(&req.api_key, current.api_key_sealed.clone()),
            fallback_api_key_sealed: seal(&req.fallback_api_key, current.fallback_api_key_sealed.clone()),
            first_byte_timeout_ms: limits.first_byte_timeout_ms.unwrap_or(current.first_byte_timeout_ms),
            idle_timeout_ms: limits.idle_timeout_ms.unwrap_or(current.idle_timeout_ms),
            total_timeout_ms: limits.total_timeout_ms.unwrap_or(current.total_timeout_ms),
            max_attempts: limits.max_attempts.unwrap_or(current.max_attempts),
            backoff_base_ms: limits.backoff_base_ms.unwrap_or(current.backoff_base_ms),
            backoff_cap_ms: limits.backoff_cap_ms.unwrap_or(current.backoff_cap_ms),
            ..current
        };
        cfg.validate()?;
        let mut tx = self.db.tenant(tenant).await?;
        frontdesk_store::query(
            "INSERT INTO llm_settings (tenant_id, config, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (tenant_id) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at",
        )
        .bind(tenant.as_str())
        .bind(serde_json::to_string(&cfg).map_err(Error::internal)?)
        .bind(now_ms())
        .execute(tx.conn())
        .await
        .map_err(StoreError::from)?;
        let details =
            serde_json::json!({"base_url": cfg.base_url, "model": cfg.model, "key_changed": req.api_key.is_some()});
        audit::record(&mut tx, actor, Change::new("llm_settings.changed", "llm_settings", None).details(details))
            .await?;
        tx.commit().await?;
        self.cache.invalidate(tenant);
        self.view(tenant).await
    }

    /// Removes the tenant's own endpoint (the platform default applies again).
    pub async fn reset(&self, tenant: &TenantId, actor: &Actor) -> Result<()> {
        let mut tx = self.db.tenant(tenant).await?;
        frontdesk_store::query("DELETE FROM llm_settings WHERE tenant_id = $1")
            .bind(tenant.as_str())
            .execute(tx.conn())
            .await
            .map_err(StoreError::from)?;
        audit::record(&mut tx, actor, Change::new("llm_settings.reset", "llm_settings", None)).await?;
        tx.commit().await?;
        self.cache.invalidate(tenant);
        Ok(())
    }

    /// The tenant's model (its own, else the platform's), metering usage into the database;
    /// `None` when neither is configured. Cached per tenant (see the module docs).
    pub async fn provider(&self, tenant: &TenantId) -> Result<Option<Metered>> {
        let provider = match self.cache.get(tenant) {
            Some(cached) => cached,
            None => {
                let generation = self.cache.generation.load(Ordering::Acquire);
                let built = self.build(tenant).await?;
                self.cache.put(tenant, generation, built.clone());
                built
            }
        };
        Ok(provider.map(|p| Metered::new(p, self.usage.clone())))
    }

    async fn build(&self, tenant: &TenantId) -> Result<Option<Arc<dyn ChatProvider>>> {
        let cfg = match self.stored(tenant).await? {
            Some(c) => c,
            None => match &self.platform {
                Some(c) => c.clone(),
                None => return Ok(None),
            },
        };
        Ok(Some(Arc::new(cfg.build_with_client(&self.keys, &self.http)?)))
    }

    /// Tokens per UTC day and model in `[from, to)`.
    pub async fn usage(&self, tenant: &TenantId, from: i64, to: i64) -> Result<Vec<UsageDay>> {
        let mut tx = self.db.tenant_read(tenant).await?;
        let rows = frontdesk_store::query(
            "SELECT at / 86400000 AS day, model, COUNT(*) AS calls, CAST(SUM(prompt_tokens) AS BIGINT) AS prompt, CAST(SUM(completion_tokens) AS BIGINT) AS completion
             FROM llm_usage WHERE tenant_id = $1 AND at >= $2 AND at < $3 GROUP BY at / 86400000, model ORDER BY 1, 2",
        )
        .bind(tenant.as_str())
        .bind(from)
        .bind(to)
        .fetch_all(tx.conn())
        .await
        .map_err(StoreError::from)?;
        let mut days = Vec::with_capacity(rows.len());
        for r in &rows {
            let get = |col: &str| r.try_get::<i64, _>(col).map_err(StoreError::from);
            let day = get("day")?;
            days.push(UsageDay {
                day: jiff::Timestamp::from_second(day * 86400)
                    .map(|t| t.to_string()[..10].to_owned())
                    .unwrap_or_default(),
                model: r.try_get("model").map_err(StoreError::from)?,
                calls: get("calls")?,
                prompt_tokens: get("prompt")?,
                completion_tokens: get("completion")?,
            });
        }
        Ok(days)
    }
}

/// Usage written to `llm_usage` of the call's tenant, one transaction per call.
pub struct DbUsage {
    pub db: Db,
}

impl UsageSink for DbUsage {
    fn record(&self, r: UsageRecord) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let mut tx = self.db.tenant(&r.tenant_id).await?;
            store_usage(&mut tx, std::slice::from_ref(&r)).await?;
            tx.commit().await?;
            Ok(())
        })
    }
}

/// Writes usage records (of the transaction's tenant) inside the caller's transaction: how the
/// records of [`crate::usage::deferred`] calls are stored with what the calls produced.
pub async fn store_usage(tx: &mut TenantTx, records: &[UsageRecord]) -> Result<()> {
    for r in records {
        if &r.tenant_id != tx.tenant() {
            return Err(Error::internal("usage record of another tenant"));
        }
        frontdesk_store::query(
            "INSERT INTO llm_usage (tenant_id, id, at, model, purpose, prompt_tokens, completion_tokens)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(r.tenant_id.as_str())
        .bind(format!("use_{}", frontdesk_kernel::id::new_body()))
        .bind(r.at_ms)
        .bind(&r.model)
        .bind(&r.purpose)
        .bind(r.prompt_tokens as i64)
        .bind(r.completion_tokens as i64)
        .execute(tx.conn())
        .await
        .map_err(StoreError::from)?;
    }
    Ok(())
}
