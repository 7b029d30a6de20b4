//! Wiring: the only place that knows every capability. Builds the database, the services, the
//! router with its route table and OpenAPI document, and the job registry.

use crate::config::{Config, ConfigError};
use axum::routing::get;
use axum::Router;
use frontdesk_automation::ContactStepError;
use frontdesk_identity::{Identity, IdentityConfig};
use frontdesk_kernel::crypto::Keyring;
use frontdesk_ops::docs::ApiDocs;
use frontdesk_ops::{Ops, WorkerStatus};
use frontdesk_store::jobs::{Job, JobError, JobRegistry};
use frontdesk_store::{migrate, Db, DbConfig, Migration, StoreError};
use frontdesk_web::metrics::HttpMetrics;
use frontdesk_web::pages::{self, Templates, TemplatesBuilder};
use frontdesk_web::ratelimit::{Quota, RateLimiter};
use frontdesk_web::routes::RouteError;
use frontdesk_web::{Limits, Requirement, Routes, WebConfig, WebContext};
use std::sync::Arc;
use std::time::Instant;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("secret key: {0}")]
    Secret(#[from] frontdesk_kernel::crypto::CryptoError),
    #[error("redis: {0}")]
    Redis(String),
    #[error("routes: {0}")]
    Routes(#[from] RouteError),
    #[error("templates: {0}")]
    Templates(#[from] frontdesk_web::pages::TemplateError),
    #[error(transparent)]
    Domain(#[from] frontdesk_kernel::Error),
}

/// Every capability's migrations, in dependency order.
pub fn migrations() -> Vec<Migration> {
    [
        frontdesk_store::MIGRATIONS,
        frontdesk_identity::MIGRATIONS,
        frontdesk_agent::MIGRATIONS,
        frontdesk_conversations::MIGRATIONS,
        frontdesk_insights::MIGRATIONS,
        frontdesk_automation::MIGRATIONS,
        frontdesk_knowledge::MIGRATIONS,
        frontdesk_channels::MIGRATIONS,
        frontdesk_commerce::MIGRATIONS,
    ]
    .concat()
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Frontdesk API",
        description = "The multi-tenant AI front desk. Errors are RFC 9457 problem+json with a stable `code`; \
                       lists page with `limit` and `cursor`; authenticate with `Authorization: Bearer <access token or API key>`.",
        license(name = "AGPL-3.0-or-later")
    ),
    components(schemas(frontdesk_kernel::error::Problem))
)]
struct ApiDoc;

/// Everything `serve` runs.
pub struct App {
    pub router: Router,
    pub db: Db,
    pub identity: Identity,
    pub insights: frontdesk_insights::Insights,
    pub conversations: frontdesk_conversations::Conversations,
    pub knowledge: frontdesk_knowledge::Knowledge,
    pub jobs: JobRegistry,
    pub workers: Arc<WorkerStatus>,
    pub openapi: utoipa::openapi::OpenApi,
    pub route_table: frontdesk_web::RouteTable,
}

pub fn db_config(config: &Config) -> DbConfig {
    let mut db = DbConfig::new(config.database_url());
    db.max_connections = config.database_max_connections;
    db.app_role = config.database_app_role.clone();
    db.sqlite_synchronous = config.sqlite_synchronous.clone();
    db
}

/// Migrates and connects.
pub async fn open_db(config: &Config) -> Result<Db, AppError> {
    let db_config = db_config(config);
    migrate::run(&db_config, &migrations()).await?;
    Ok(Db::connect(&db_config).await?)
}

pub fn keyring(config: &Config) -> Result<Keyring, AppError> {
    let previous: Vec<Vec<u8>> = config.previous_secret_keys.iter().map(|k| k.trim().as_bytes().to_vec()).collect();
    Ok(Keyring::new(&config.master_key()?, &previous)?)
}

pub async fn rate_limiter(config: &Config) -> Result<RateLimiter, AppError> {
    match &config.redis_url {
        Some(url) => RateLimiter::redis(url).await.map_err(|e| AppError::Redis(e.to_string())),
        None => Ok(RateLimiter::in_memory()),
    }
}

pub fn identity_config(config: &Config) -> IdentityConfig {
    IdentityConfig { public_url: config.public_url(), open_signup: config.open_signup, ..IdentityConfig::default() }
}

/// Channels with the operator's provider roots. A root the operator set (a proxy, a test double)
/// may be a private or loopback address; tenants never choose where their messages go.
pub fn channels_config(config: &Config) -> Result<frontdesk_channels::ChannelsConfig, AppError> {
    let mut c = frontdesk_channels::ChannelsConfig::default();
    let invalid = |name: &str| AppError::Domain(frontdesk_kernel::Error::internal(format!("{name} is not a URL")));
    for (name, url, slot) in [
        ("twilio_api_url", &config.twilio_api_url, &mut c.urls.twilio),
        ("whatsapp_api_url", &config.whatsapp_api_url, &mut c.urls.whatsapp_cloud),
        ("telegram_api_url", &config.telegram_api_url, &mut c.urls.telegram),
    ] {
        if let Some(url) = url {
            // A trailing slash makes the root a directory that API paths are joined onto.
            let root = if url.ends_with('/') { url.clone() } else { format!("{url}/") };
            *slot = url::Url::parse(&root).map_err(|_| invalid(name))?;
            c.outbound.allow_private = true;
        }
    }
    Ok(c)
}

/// Commerce with the operator's Stripe root (like the messaging roots: a root the operator set
/// may be private or loopback) and the public URL Stripe's webhooks are sent to.
pub fn commerce_config(config: &Config) -> Result<frontdesk_commerce::CommerceConfig, AppError> {
    let mut c = frontdesk_commerce::CommerceConfig { public_url: config.public_url(), ..Default::default() };
    if let Some(url) = &config.stripe_api_url {
        let root = if url.ends_with('/') { url.clone() } else { format!("{url}/") };
        c.stripe_api_url = url::Url::parse(&root)
            .map_err(|_| AppError::Domain(frontdesk_kernel::Error::internal("stripe_api_url is not a URL")))?;
        c.outbound.allow_private = true;
    }
    Ok(c)
}

/// The identity service on its own (for CLI commands that need no HTTP).
pub async fn identity(config: &Config, db: Db) -> Result<Identity, AppError> {
    Ok(Identity::new(db, keyring(config)?, Arc::new(RateLimiter::in_memory()), identity_config(config)))
}

pub fn templates() -> Result<Templates, AppError> {
    let mut b = TemplatesBuilder::new();
    frontdesk_identity::pages::templates(&mut b);
    frontdesk_ops::pages::templates(&mut b);
    frontdesk_insights::pages::templates(&mut b);
    frontdesk_automation::pages::templates(&mut b);
    frontdesk_automation::workflow_pages::templates(&mut b);
    frontdesk_channels::pages::templates(&mut b);
    frontdesk_commerce::pages::templates(&mut b);
    frontdesk_knowledge::pages::templates(&mut b);
    frontdesk_conversations::pages::templates(&mut b);
    Ok(b.build()?)
}

pub async fn build(config: &Config, db: Db) -> Result<App, AppError> {
    let limiter = Arc::new(rate_limiter(config).await?);
    // Read and derived once: every capability that seals or signs shares the same keyring.
    let keys = keyring(config)?;
    let identity = Identity::new(db.clone(), keys.clone(), limiter.clone(), identity_config(config));
    let http_metrics = Arc::new(HttpMetrics::default());
    let workers = Arc::new(WorkerStatus::default());
    let ops = Ops {
        db: db.clone(),
        http_metrics: http_metrics.clone(),
        started: Instant::now(),
        workers: workers.clone(),
        rate_limiter: limiter.backend_name(),
    };

    // The JSON API: routes and OpenAPI document from the same declarations.
    let knowledge = knowledge(config, db.clone())?;
    let mut insights = frontdesk_insights::Insights::new(db.clone());
    if let Some(writer) = explanation_writer(config)? {
        insights = insights.with_writer(writer);
    }
    let mut automation_config = frontdesk_automation::AutomationConfig::default();
    automation_config.outbound.allow_private = config.webhooks_allow_private;
    let automation = frontdesk_automation::Automation::new(db.clone(), keys.clone(), automation_config)
        .map_err(|e| AppError::Domain(frontdesk_kernel::Error::internal(e)))?;
    let channels = frontdesk_channels::Channels::new(db.clone(), keys.clone(), channels_config(config)?)
        .map_err(|e| AppError::Domain(frontdesk_kernel::Error::internal(e)))?;
    let commerce = frontdesk_commerce::Commerce::new(db.clone(), keys.clone(), commerce_config(config)?)
        .map_err(|e| AppError::Domain(frontdesk_kernel::Error::internal(e)))?;
    let workflows = frontdesk_automation::Workflows::new(automation.clone(), identity.clone())
        .with_contacts(Arc::new(ContactsForWorkflows))
        .with_channels(channels.clone())
        .with_commerce(commerce.clone());
    let platform_model = config.llm_base_url.as_ref().map(|base| frontdesk_agent::ProviderConfig {
        base_url: base.clone(),
        model: config.llm_model.clone(),
        api_key_sealed: config.llm_api_key.as_ref().map(|k| frontdesk_agent::ProviderConfig::seal_key(&keys, k)),
        ..Default::default()
    });
    let model_settings = frontdesk_agent::ModelSettings::new(db.clone(), keys.clone(), platform_model)?;
    let hub = match &config.redis_url {
        Some(url) => frontdesk_conversations::LiveHub::redis(url).await.map_err(|e| AppError::Redis(e.to_string()))?,
        None => frontdesk_conversations::LiveHub::in_process(),
    };
    let assistant = frontdesk_conversations::Assistant::new(model_settings.clone())
        .with_knowledge(Arc::new(KnowledgeForAssistant(knowledge.clone())));
    let conversations =
        frontdesk_conversations::Conversations::new(db.clone(), keys, hub, Arc::new(assistant), identity.clone())
            .with_models(model_settings.clone())
            .with_config(frontdesk_conversations::PipelineConfig {
                turn_attempts: config.chat_turn_attempts,
                turn_lease: std::time::Duration::from_millis(config.chat_turn_lease_ms),
                reply_wait: std::time::Duration::from_millis(config.chat_reply_wait_ms),
                retry_base: std::time::Duration::from_millis(config.chat_retry_base_ms),
            });
    let public_chat = frontdesk_conversations::public::PublicState {
        conversations: conversations.clone(),
        limiter: limiter.clone(),
        limits: frontdesk_conversations::public::PublicLimits {
            per_visitor: Quota::per_minute(config.chat_limit_per_visitor),
            per_ip: Quota::per_minute(config.chat_limit_per_ip),
        },
    };
    let (api, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(frontdesk_identity::http::router(identity.clone()))
        .merge(frontdesk_insights::http::router(insights.clone()))
        .merge(frontdesk_knowledge::router(knowledge.clone()))
        .merge(frontdesk_automation::router(automation.clone()))
        .merge(frontdesk_automation::workflows_router(workflows.clone()))
        .merge(frontdesk_channels::router(channels.clone()))
        .merge(frontdesk_commerce::router(commerce.clone()))
        .merge(frontdesk_agent::http::router(model_settings.clone()))
        .merge(frontdesk_conversations::http::router(conversations.clone(), identity.clone()))
        .merge(frontdesk_conversations::public::router(public_chat))
        .merge(frontdesk_ops::http::router(ops.clone()))
        .split_for_parts();
    let mut route_table = frontdesk_web::RouteTable::default();
    route_table.add_openapi(&mut openapi)?;

    // Pages, docs and assets.
    let docs = Arc::new(ApiDocs::new(&openapi));
    let (pages_router, page_table) = frontdesk_identity::pages::routes(identity.clone())
        .merge(frontdesk_ops::pages::routes(ops.clone()))
        .merge(frontdesk_insights::pages::routes(insights.clone()))
        .merge(frontdesk_knowledge::pages::routes(knowledge.clone()))
        .merge(frontdesk_automation::pages::routes(automation.clone()))
        .merge(frontdesk_automation::workflow_pages::routes(workflows.clone()))
        .merge(frontdesk_channels::pages::routes(channels.clone()))
        .merge(frontdesk_commerce::pages::routes(commerce.clone()))
        .merge(frontdesk_conversations::pages::routes(conversations.clone(), identity.clone(), model_settings))
        .merge(frontdesk_ops::docs::routes(docs))
        .merge(Routes::new().get("/assets/{file}", Requirement::Public, get(pages::serve_asset)))
        .into_parts()?;
    route_table.merge(page_table)?;

    let web = Arc::new(WebContext {
        config: WebConfig {
            public_url: config.public_url(),
            trust_proxy: config.trust_proxy,
            cors_origins: config.cors_origins.clone(),
            limits: Limits {
                per_ip: Quota::per_minute(config.rate_limit_per_ip),
                per_user: Quota::per_minute(config.rate_limit_per_user),
                per_api_key: Quota::per_minute(config.rate_limit_per_api_key),
                per_tenant: Quota::per_minute(config.rate_limit_per_tenant),
            },
        },
        db: db.clone(),
        routes: route_table.clone(),
        authenticator: Arc::new(identity.clone()),
        limiter,
        metrics: http_metrics,
    });
    let templates = Arc::new(templates()?);
    let router = frontdesk_web::compose(api.merge(pages_router), web).layer(axum::Extension(templates));

    let mut jobs = JobRegistry::new();
    let mailer = match &config.smtp_url {
        Some(url) => Some(
            frontdesk_identity::mailer::Mailer::new(url, &config.smtp_from)
                .map_err(|e| AppError::Domain(frontdesk_kernel::Error::internal(e)))?,
        ),
        None => None,
    };
    frontdesk_identity::jobs::register(&mut jobs, identity.clone(), mailer);
    frontdesk_insights::jobs::register(&mut jobs, insights.clone());
    frontdesk_insights::jobs::register_business(&mut jobs, business_feed(&db, insights.clone()));
    frontdesk_knowledge::register_jobs(&mut jobs, knowledge.clone());
    frontdesk_conversations::jobs::register(&mut jobs, conversations.clone());
    frontdesk_automation::register_jobs(&mut jobs, automation.clone());
    frontdesk_automation::register_workflow_jobs(&mut jobs, workflows.clone());
    frontdesk_channels::register_jobs(&mut jobs, channels);
    frontdesk_commerce::register_jobs(&mut jobs, commerce);
    frontdesk_store::events::register(
        &db,
        &mut jobs,
        vec![Arc::new(WebhookForwarder { automation }), Arc::new(frontdesk_automation::WorkflowSubscriber(workflows))],
    );
    jobs.register_recurring(
        "store.purge_idempotency_keys",
        std::time::Duration::from_secs(3600),
        |job: Job| async move {
            let db = job.db.ok_or_else(|| JobError::Permanent("no database handle".into()))?;
            let mut tx = db.system().await?;
            frontdesk_store::idempotency::purge_expired(&mut tx).await?;
            tx.commit().await?;
            Ok(())
        },
    );

    Ok(App { router, db, identity, insights, conversations, knowledge, jobs, workers, openapi, route_table })
}

/// The sentence-embedding model the configuration names (`None`: full-text search only).
pub fn embedder(config: &Config) -> Option<Arc<dyn frontdesk_agent::Embedder>> {
    match config.embedding_provider.as_str() {
        "embedded" => {
            let store = frontdesk_engine::ModelStore::new(config.model_dir());
            Some(Arc::new(frontdesk_engine::EmbeddedEmbedder::on_demand(store)))
        }
        "openai" => {
            let base = config.embedding_base_url.as_deref()?;
            let key = config.embedding_api_key.clone().map(frontdesk_agent::ApiKey::new);
            match frontdesk_agent::openai::OpenAiEmbeddings::new(
                base,
                config.embedding_model.clone(),
                config.embedding_dimensions,
                key,
                frontdesk_agent::Timeouts::default(),
            ) {
                Ok(e) => Some(Arc::new(e)),
                Err(e) => {
                    tracing::error!(error = %e, "embedding endpoint unusable; knowledge search uses full text only");
                    None
                }
            }
        }
        _ => None,
    }
}

/// The knowledge base service with the configured embedder and fetch policy.
pub fn knowledge(config: &Config, db: Db) -> Result<frontdesk_knowledge::Knowledge, AppError> {
    let mut k = frontdesk_knowledge::KnowledgeConfig::default();
    k.outbound.allow_private = config.knowledge_allow_private;
    k.index_budget_bytes = config.knowledge_index_budget_mb as usize * 1024 * 1024;
    frontdesk_knowledge::Knowledge::new(db, k, embedder(config))
        .map_err(|e| AppError::Domain(frontdesk_kernel::Error::internal(e)))
}

/// The platform's language model for wording explanations, when one is configured.
fn explanation_writer(config: &Config) -> Result<Option<frontdesk_insights::ExplanationWriter>, AppError> {
    let Some(base) = &config.llm_base_url else { return Ok(None) };
    let key = config.llm_api_key.clone().map(frontdesk_agent::ApiKey::new);
    let provider = frontdesk_agent::OpenAiCompatible::new(base, config.llm_model.clone(), key, Default::default())
        .map_err(|e| AppError::Domain(frontdesk_kernel::Error::internal(e)))?;
    let resilient = frontdesk_agent::Resilient::new(Arc::new(provider), frontdesk_agent::RetryPolicy::default());
    Ok(Some(frontdesk_insights::ExplanationWriter::new(Arc::new(resilient))))
}

/// Frontdesk's own metrics per tenant, from the capabilities that count them: conversations
/// (messages, conversations, handoffs), the agent (AI calls and tokens), channels (messages
/// sent and failed) and commerce (revenue, failed payments).
pub fn business_feed(db: &Db, insights: frontdesk_insights::Insights) -> frontdesk_insights::BusinessFeed {
    frontdesk_insights::BusinessFeed::new(
        insights,
        vec![
            Arc::new(ConversationMetrics(db.clone())),
            Arc::new(AiUsageMetrics(db.clone())),
            Arc::new(ChannelMetrics(db.clone())),
            Arc::new(PaymentMetrics(db.clone())),
        ],
    )
}

/// Conversations' counts as business metrics.
struct ConversationMetrics(Db);

impl frontdesk_insights::BusinessMetrics for ConversationMetrics {
    fn metrics(&self) -> &'static [&'static str] {
        frontdesk_conversations::metrics::METRICS
    }

    fn active_tenants(&self, since_ms: i64) -> frontdesk_insights::SourceFuture<'_, Vec<frontdesk_kernel::TenantId>> {
        Box::pin(frontdesk_conversations::metrics::active_tenants(&self.0, since_ms))
    }

    fn collect<'a>(
        &'a self,
        tenant: &'a frontdesk_kernel::TenantId,
        w: frontdesk_insights::Window,
    ) -> frontdesk_insights::SourceFuture<'a, Vec<frontdesk_insights::Count>> {
        Box::pin(frontdesk_conversations::metrics::counts(&self.0, tenant, w.from_ms, w.to_ms, w.bucket_ms))
    }
}

/// The agent's model usage as business metrics (tenants come from the conversations source).
struct AiUsageMetrics(Db);

impl frontdesk_insights::BusinessMetrics for AiUsageMetrics {
    fn metrics(&self) -> &'static [&'static str] {
        frontdesk_agent::metrics::METRICS
    }

    fn collect<'a>(
        &'a self,
        tenant: &'a frontdesk_kernel::TenantId,
        w: frontdesk_insights::Window,
    ) -> frontdesk_insights::SourceFuture<'a, Vec<frontdesk_insights::Count>> {
        Box::pin(frontdesk_agent::metrics::counts(&self.0, tenant, w.from_ms, w.to_ms, w.bucket_ms))
    }
}

/// Outbound channel messages sent and failed as business metrics.
struct ChannelMetrics(Db);

impl frontdesk_insights::BusinessMetrics for ChannelMetrics {
    fn metrics(&self) -> &'static [&'static str] {
        frontdesk_channels::metrics::METRICS
    }

    fn active_tenants(&self, since_ms: i64) -> frontdesk_insights::SourceFuture<'_, Vec<frontdesk_kernel::TenantId>> {
        Box::pin(frontdesk_channels::metrics::active_tenants(&self.0, since_ms))
    }

    fn collect<'a>(
        &'a self,
        tenant: &'a frontdesk_kernel::TenantId,
        w: frontdesk_insights::Window,
    ) -> frontdesk_insights::SourceFuture<'a, Vec<frontdesk_insights::Count>> {
        Box::pin(frontdesk_channels::metrics::counts(&self.0, tenant, w.from_ms, w.to_ms, w.bucket_ms))
    }
}

/// Revenue and failed payments (from Stripe's events) as business metrics.
struct PaymentMetrics(Db);

impl frontdesk_insights::BusinessMetrics for PaymentMetrics {
    fn metrics(&self) -> &'static [&'static str] {
        frontdesk_commerce::metrics::METRICS
    }

    fn active_tenants(&self, since_ms: i64) -> frontdesk_insights::SourceFuture<'_, Vec<frontdesk_kernel::TenantId>> {
        Box::pin(frontdesk_commerce::metrics::active_tenants(&self.0, since_ms))
    }

    fn collect<'a>(
        &'a self,
        tenant: &'a frontdesk_kernel::TenantId,
        w: frontdesk_insights::Window,
    ) -> frontdesk_insights::SourceFuture<'a, Vec<frontdesk_insights::Count>> {
        Box::pin(frontdesk_commerce::metrics::counts(&self.0, tenant, w.from_ms, w.to_ms, w.bucket_ms))
    }
}

/// Workflow steps on contacts (tags, follow-up tasks), carried out by conversations.
struct ContactsForWorkflows;

fn contact_step_error(e: frontdesk_conversations::service::contact_actions::ContactActionError) -> ContactStepError {
    use frontdesk_conversations::service::contact_actions::ContactActionError as E;
    match e {
        E::NoContact(_) | E::Invalid(_) => ContactStepError::Permanent(e.to_string()),
        E::Store(_) | E::Other(_) => ContactStepError::Transient(e.to_string()),
    }
}

impl frontdesk_automation::ContactActions for ContactsForWorkflows {
    fn tag_contact<'a>(
        &'a self,
        tx: &'a mut frontdesk_store::TenantTx,
        contact_id: &'a str,
        tags: &'a [String],
        actor: &'a frontdesk_store::audit::Actor,
    ) -> frontdesk_automation::ContactFuture<'a> {
        Box::pin(async move {
            let added = frontdesk_conversations::service::contact_actions::add_tags(tx, contact_id, tags, actor)
                .await
                .map_err(contact_step_error)?;
            Ok(if added.is_empty() {
                format!("{contact_id} already had these tags")
            } else {
                format!("tagged {contact_id} with {}", added.join(", "))
            })
        })
    }

    fn create_follow_up<'a>(
        &'a self,
        tx: &'a mut frontdesk_store::TenantTx,
        task: frontdesk_automation::FollowUpRequest,
        actor: &'a frontdesk_store::audit::Actor,
    ) -> frontdesk_automation::ContactFuture<'a> {
        Box::pin(async move {
            let follow_up = frontdesk_conversations::service::contact_actions::FollowUp {
                title: task.title,
                notes: task.notes,
                due_in_hours: task.due_in_hours,
                assignee_email: task.assignee_email,
                contact_id: task.contact_id,
                conversation_id: task.conversation_id,
            };
            let made = frontdesk_conversations::service::contact_actions::create_follow_up(tx, follow_up, actor)
                .await
                .map_err(contact_step_error)?;
            Ok(match &made.contact_id {
                Some(contact) => format!("created task {} for {contact}", made.id),
                None => format!("created task {}", made.id),
            })
        })
    }
}

/// The knowledge base as the assistant consults it: the best passages with their citation, and
/// the questions it could not answer (suggested FAQ entries).
struct KnowledgeForAssistant(frontdesk_knowledge::Knowledge);

impl frontdesk_conversations::KnowledgeSource for KnowledgeForAssistant {
    fn search<'a>(
        &'a self,
        tenant: &'a frontdesk_kernel::TenantId,
        query: &'a str,
        limit: usize,
    ) -> futures_util::future::BoxFuture<'a, Vec<frontdesk_conversations::Passage>> {
        Box::pin(async move {
            let mut q = frontdesk_knowledge::model::SearchQuery::new(query);
            q.limit = Some(limit.clamp(1, 20) as u32);
            match self.0.search(tenant, q).await {
                Ok(found) => found
                    .results
                    .into_iter()
                    .map(|hit| frontdesk_conversations::Passage {
                        text: hit.passage,
                        title: hit.citation.document_title,
                        section: Some(hit.citation.section).filter(|s| !s.is_empty()),
                        source: Some(hit.citation.locator).filter(|s| !s.is_empty()),
                        confidence: f64::from(hit.confidence),
                        answers: hit.confidence >= frontdesk_knowledge::ANSWERABLE_CONFIDENCE,
                    })
                    .collect(),
                Err(e) => {
                    // The customer still gets an answer (or a human); the search is not worth failing the turn.
                    tracing::warn!(tenant_id = %tenant, error = %e, "knowledge search failed during a turn");
                    Vec::new()
                }
            }
        })
    }

    fn record_gap<'a>(
        &'a self,
        tenant: &'a frontdesk_kernel::TenantId,
        question: &'a str,
        conversation: &'a str,
    ) -> futures_util::future::BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Err(e) = self.0.record_gap(tenant, question, Some(conversation.to_owned())).await {
                tracing::debug!(tenant_id = %tenant, error = %e, "knowledge gap not recorded");
            }
        })
    }
}

/// Forwards every domain event to the tenant's webhook endpoints (those whose filter matches).
struct WebhookForwarder {
    automation: frontdesk_automation::Automation,
}

impl frontdesk_store::events::Subscriber for WebhookForwarder {
    fn name(&self) -> &'static str {
        "webhooks"
    }

    /// Only tenants with an enabled endpoint get a delivery (which filters by event type).
    fn wants<'a>(
        &'a self,
        tx: &'a mut frontdesk_store::TenantTx,
        _event: &'a frontdesk_store::events::DomainEvent,
    ) -> futures_util::future::BoxFuture<'a, frontdesk_store::StoreResult<bool>> {
        Box::pin(frontdesk_automation::store::any_enabled_endpoint(tx))
    }

    fn handle<'a>(
        &'a self,
        tenant: &'a frontdesk_kernel::TenantId,
        event: &'a frontdesk_store::events::DomainEvent,
    ) -> futures_util::future::BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            let mut tx = self.automation.db().tenant(tenant).await?;
            frontdesk_automation::publish(&mut tx, &event.kind, event.data.clone())
                .await
                .map_err(|e| JobError::Transient(e.to_string()))?;
            tx.commit().await?;
            Ok(())
        })
    }
}
