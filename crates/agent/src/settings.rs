//! A tenant's model settings (its own OpenAI-compatible endpoint, key sealed at rest) and its
//! token usage, stored per tenant. Tenants without settings use the platform's default model.

use crate::config::ProviderConfig;
use crate::usage::{Metered, UsageRecord, UsageSink};
use frontdesk_kernel::crypto::Keyring;
use frontdesk_kernel::time::now_ms;
use frontdesk_kernel::{Error, Result, TenantId};
use frontdesk_store::audit::{self, Actor, Change};
use frontdesk_store::{Db, Row, StoreError, Tx};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;

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
}

impl ModelSettings {
    /// `platform` is the operator's default model (its key sealed with `keys`).
    pub fn new(db: Db, keys: Keyring, platform: Option<ProviderConfig>) -> Result<Self> {
        let http = crate::OpenAiCompatible::http_client(std::time::Duration::from_secs(5)).map_err(Error::internal)?;
        Ok(Self { db, keys, http, platform })
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
        })
    }

    pub async fn update(
        &self,
        tenant: &TenantId,
        req: UpdateModelSettings,
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
        Ok(())
    }

    /// The tenant's model (its own, else the platform's), metering usage into the database;
    /// `None` when neither is configured.
    pub async fn provider(&self, tenant: &TenantId) -> Result<Option<Metered>> {
        let cfg = match self.stored(tenant).await? {
            Some(c) => c,
            None => match &self.platform {
                Some(c) => c.clone(),
                None => return Ok(None),
            },
        };
        let provider = cfg.build_with_client(&self.keys, &self.http)?;
        Ok(Some(Metered::new(Arc::new(provider), Arc::new(DbUsage { db: self.db.clone() }))))
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

/// Usage written to `llm_usage` of the call's tenant.
pub struct DbUsage {
    pub db: Db,
}

impl UsageSink for DbUsage {
    fn record(&self, r: UsageRecord) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let mut tx = self.db.tenant(&r.tenant_id).await?;
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
            tx.commit().await?;
            Ok(())
        })
    }
}
