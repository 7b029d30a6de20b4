//! Configuration: built-in defaults, then an optional TOML file, then environment variables
//! (`FRONTDESK_*`, `DATABASE_URL`, `REDIS_URL`), then command-line flags; then [`Config::validate`].
//! Nothing is required on a fresh machine: the defaults run the embedded mode in `./frontdesk-data`.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Directory for the SQLite database, the generated secret key and other local state.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; default: SQLite in the data directory.
    pub database_url: Option<String>,
    /// PostgreSQL pool size (SQLite: number of reader connections).
    pub database_max_connections: u32,
    /// PostgreSQL role the server acts as (row-level security applies to it).
    pub database_app_role: String,
    /// Shared rate limits and live fan-out (SSE) across replicas.
    pub redis_url: Option<String>,
    /// Where users reach this server; default `http://<listen>`.
    pub public_url: Option<String>,
    /// Master secret (32+ bytes). Default: generated once into `<data_dir>/secret.key`.
    /// Every replica of one deployment must share it.
    pub secret_key: Option<String>,
    /// Earlier master secrets, still accepted to open values sealed before a rotation.
    pub previous_secret_keys: Vec<String>,
    /// `json` (default) or `pretty`.
    pub log_format: String,
    /// tracing filter, e.g. `info,frontdesk=debug`.
    pub log_level: String,
    /// Run background job workers in this process.
    pub workers: bool,
    /// Jobs run at once by this process.
    pub worker_concurrency: usize,
    /// Origins allowed to call the API from browsers (CORS).
    pub cors_origins: Vec<String>,
    /// Trust `X-Forwarded-For` (only behind your own proxy).
    pub trust_proxy: bool,
    /// Anyone may sign up a business.
    pub open_signup: bool,
    /// Requests per minute per client address.
    pub rate_limit_per_ip: u32,
    /// Requests per minute per signed-in user.
    pub rate_limit_per_user: u32,
    /// Requests per minute per API key.
    pub rate_limit_per_api_key: u32,
    /// Requests per minute per tenant.
    pub rate_limit_per_tenant: u32,
    /// Web chat messages per minute per visitor.
    pub chat_limit_per_visitor: u32,
    /// Web chat messages per minute per client address and tenant.
    pub chat_limit_per_ip: u32,
    /// Attempts at answering a chat turn before the customer is handed to staff.
    pub chat_turn_attempts: u32,
    /// Pause before a failed chat turn is tried again (ms; the job queue's backoff follows).
    pub chat_retry_base_ms: u64,
    /// Longest a synchronous `/chat` request waits for its reply before answering "pending" (ms).
    pub chat_reply_wait_ms: u64,
    /// Lease of a chat turn run in place: after a crash, a worker takes the turn over after this (ms).
    pub chat_turn_lease_ms: u64,
    /// SQLite durability: `FULL` (every commit on disk before we answer) or `NORMAL`.
    pub sqlite_synchronous: String,
    /// Let webhooks reach private, loopback and link-local addresses (and plain http://): only
    /// for local development and tests.
    pub webhooks_allow_private: bool,
    /// An OpenAI-compatible endpoint (`https://api.openai.com/v1`, `http://127.0.0.1:11434/v1`)
    /// used platform-wide where a tenant has none of its own (today: wording anomaly explanations).
    pub llm_base_url: Option<String>,
    pub llm_model: String,
    pub llm_api_key: Option<String>,
    /// Mail server for outgoing e-mail (`smtp://user:pass@host:587?tls=required`, `smtps://…`);
    /// without one, e-mail is held in the outbox (visible in the dashboard).
    pub smtp_url: Option<String>,
    /// The sender of outgoing e-mail.
    pub smtp_from: String,
    /// The messaging providers' API roots (defaults: `https://api.twilio.com/`,
    /// `https://graph.facebook.com/v21.0/`, `https://api.telegram.org/`). Set them only for a
    /// proxy or a test double; a root set here may be a private or loopback address.
    pub twilio_api_url: Option<String>,
    pub whatsapp_api_url: Option<String>,
    pub telegram_api_url: Option<String>,
    /// Stripe's API root (default `https://api.stripe.com/`), for a proxy or a test double
    /// only, like the messaging roots.
    pub stripe_api_url: Option<String>,
    /// Sentence embeddings for knowledge search: `embedded` (the in-process e5 model, fetched
    /// into `model_dir` on first use), `openai` (an OpenAI-compatible `/v1/embeddings` endpoint:
    /// `embedding_base_url`, `embedding_model`, `embedding_api_key`, `embedding_dimensions`) or
    /// `off` (full-text search only).
    pub embedding_provider: String,
    pub embedding_base_url: Option<String>,
    pub embedding_model: String,
    pub embedding_api_key: Option<String>,
    pub embedding_dimensions: usize,
    /// Where the embedded model file is kept; default `~/.cache/frontdesk/models` (shared by
    /// every data directory of the user), else `<data_dir>/models`.
    pub model_dir: Option<PathBuf>,
    /// Let knowledge sources fetch private, loopback and link-local addresses: only for local
    /// development and tests.
    pub knowledge_allow_private: bool,
    /// Memory for all tenants' in-memory search indexes together (MB).
    pub knowledge_index_budget_mb: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("frontdesk-data"),
            database_url: None,
            database_max_connections: 16,
            database_app_role: "frontdesk_app".into(),
            redis_url: None,
            public_url: None,
            secret_key: None,
            previous_secret_keys: Vec::new(),
            log_format: "json".into(),
            log_level: "info,sqlx=warn,tower_http=warn".into(),
            workers: true,
            worker_concurrency: 16,
            cors_origins: Vec::new(),
            trust_proxy: false,
            open_signup: true,
            rate_limit_per_ip: 600,
            rate_limit_per_user: 600,
            rate_limit_per_api_key: 1200,
            rate_limit_per_tenant: 6000,
            chat_limit_per_visitor: 20,
            chat_limit_per_ip: 120,
            chat_turn_attempts: 4,
            chat_retry_base_ms: 5_000,
            chat_reply_wait_ms: 30_000,
            chat_turn_lease_ms: 90_000,
            sqlite_synchronous: "FULL".into(),
            webhooks_allow_private: false,
            llm_base_url: None,
            llm_model: "gpt-4o-mini".into(),
            llm_api_key: None,
            smtp_url: None,
            smtp_from: "Frontdesk <no-reply@frontdesk.localhost>".into(),
            twilio_api_url: None,
            whatsapp_api_url: None,
            telegram_api_url: None,
            stripe_api_url: None,
            embedding_provider: "embedded".into(),
            embedding_base_url: None,
            embedding_model: "text-embedding-3-small".into(),
            embedding_api_key: None,
            embedding_dimensions: 1536,
            model_dir: None,
            knowledge_allow_private: false,
            knowledge_index_budget_mb: 256,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {name}: {message}")]
    Env { name: String, message: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
    #[error("secret key file {path}: {source}")]
    SecretFile { path: PathBuf, source: std::io::Error },
}

impl Config {
    /// Defaults, then `file` (if given), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut config = match file {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
                toml::from_str(&text).map_err(|e| ConfigError::Parse { path: path.into(), message: e.to_string() })?
            }
            None => Config::default(),
        };
        config.apply_env(|name| std::env::var(name).ok())?;
        Ok(config)
    }

    /// Applies `FRONTDESK_*`, `DATABASE_URL` and `REDIS_URL` from `get`.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn parse<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            v.trim().parse().map_err(|e: T::Err| ConfigError::Env { name: name.into(), message: e.to_string() })
        }
        fn list(v: &str) -> Vec<String> {
            v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
        }
        let non_empty = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        if let Some(v) = non_empty("FRONTDESK_LISTEN") {
            self.listen = parse("FRONTDESK_LISTEN", &v)?;
        }
        if let Some(v) = non_empty("FRONTDESK_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = non_empty("DATABASE_URL").or_else(|| non_empty("FRONTDESK_DATABASE_URL")) {
            self.database_url = Some(v);
        }
        if let Some(v) = non_empty("FRONTDESK_DATABASE_MAX_CONNECTIONS") {
            self.database_max_connections = parse("FRONTDESK_DATABASE_MAX_CONNECTIONS", &v)?;
        }
        if let Some(v) = get("FRONTDESK_DATABASE_APP_ROLE") {
            self.database_app_role = v;
        }
        if let Some(v) = non_empty("REDIS_URL").or_else(|| non_empty("FRONTDESK_REDIS_URL")) {
            self.redis_url = Some(v);
        }
        if let Some(v) = non_empty("FRONTDESK_PUBLIC_URL") {
            self.public_url = Some(v);
        }
        if let Some(v) = non_empty("FRONTDESK_SECRET_KEY") {
            self.secret_key = Some(v);
        }
        if let Some(v) = non_empty("FRONTDESK_PREVIOUS_SECRET_KEYS") {
            self.previous_secret_keys = list(&v);
        }
        if let Some(v) = non_empty("FRONTDESK_LOG_FORMAT") {
            self.log_format = v;
        }
        if let Some(v) = non_empty("FRONTDESK_LOG").or_else(|| non_empty("RUST_LOG")) {
            self.log_level = v;
        }
        if let Some(v) = non_empty("FRONTDESK_WORKERS") {
            self.workers = parse("FRONTDESK_WORKERS", &v)?;
        }
        if let Some(v) = non_empty("FRONTDESK_WORKER_CONCURRENCY") {
            self.worker_concurrency = parse("FRONTDESK_WORKER_CONCURRENCY", &v)?;
        }
        if let Some(v) = non_empty("FRONTDESK_CORS_ORIGINS") {
            self.cors_origins = list(&v);
        }
        if let Some(v) = non_empty("FRONTDESK_TRUST_PROXY") {
            self.trust_proxy = parse("FRONTDESK_TRUST_PROXY", &v)?;
        }
        if let Some(v) = non_empty("FRONTDESK_OPEN_SIGNUP") {
            self.open_signup = parse("FRONTDESK_OPEN_SIGNUP", &v)?;
        }
        for (name, slot) in [
            ("FRONTDESK_RATE_LIMIT_PER_IP", &mut self.rate_limit_per_ip),
            ("FRONTDESK_RATE_LIMIT_PER_USER", &mut self.rate_limit_per_user),
            ("FRONTDESK_RATE_LIMIT_PER_API_KEY", &mut self.rate_limit_per_api_key),
            ("FRONTDESK_RATE_LIMIT_PER_TENANT", &mut self.rate_limit_per_tenant),
            ("FRONTDESK_CHAT_LIMIT_PER_VISITOR", &mut self.chat_limit_per_visitor),
            ("FRONTDESK_CHAT_LIMIT_PER_IP", &mut self.chat_limit_per_ip),
            ("FRONTDESK_CHAT_TURN_ATTEMPTS", &mut self.chat_turn_attempts),
        ] {
            if let Some(v) = non_empty(name) {
                *slot = parse(name, &v)?;
            }
        }
        for (name, slot) in [
            ("FRONTDESK_CHAT_RETRY_BASE_MS", &mut self.chat_retry_base_ms),
            ("FRONTDESK_CHAT_REPLY_WAIT_MS", &mut self.chat_reply_wait_ms),
            ("FRONTDESK_CHAT_TURN_LEASE_MS", &mut self.chat_turn_lease_ms),
        ] {
            if let Some(v) = non_empty(name) {
                *slot = parse(name, &v)?;
            }
        }
        if let Some(v) = non_empty("FRONTDESK_WEBHOOKS_ALLOW_PRIVATE") {
            self.webhooks_allow_private = parse("FRONTDESK_WEBHOOKS_ALLOW_PRIVATE", &v)?;
        }
        if let Some(v) = non_empty("FRONTDESK_LLM_BASE_URL") {
            self.llm_base_url = Some(v);
        }
        if let Some(v) = non_empty("FRONTDESK_LLM_MODEL") {
            self.llm_model = v;
        }
        if let Some(v) = non_empty("FRONTDESK_LLM_API_KEY") {
            self.llm_api_key = Some(v);
        }
        if let Some(v) = non_empty("FRONTDESK_SMTP_URL") {
            self.smtp_url = Some(v);
        }
        if let Some(v) = non_empty("FRONTDESK_SMTP_FROM") {
            self.smtp_from = v;
        }
        for (name, slot) in [
            ("FRONTDESK_TWILIO_API_URL", &mut self.twilio_api_url),
            ("FRONTDESK_WHATSAPP_API_URL", &mut self.whatsapp_api_url),
            ("FRONTDESK_TELEGRAM_API_URL", &mut self.telegram_api_url),
            ("FRONTDESK_STRIPE_API_URL", &mut self.stripe_api_url),
        ] {
            if let Some(v) = non_empty(name) {
                *slot = Some(v);
            }
        }
        if let Some(v) = non_empty("FRONTDESK_EMBEDDING_PROVIDER") {
            self.embedding_provider = v.trim().to_ascii_lowercase();
        }
        if let Some(v) = non_empty("FRONTDESK_EMBEDDING_BASE_URL") {
            self.embedding_base_url = Some(v);
        }
        if let Some(v) = non_empty("FRONTDESK_EMBEDDING_MODEL") {
            self.embedding_model = v;
        }
        if let Some(v) = non_empty("FRONTDESK_EMBEDDING_API_KEY") {
            self.embedding_api_key = Some(v);
        }
        if let Some(v) = non_empty("FRONTDESK_EMBEDDING_DIMENSIONS") {
            self.embedding_dimensions = parse("FRONTDESK_EMBEDDING_DIMENSIONS", &v)?;
        }
        if let Some(v) = non_empty("FRONTDESK_MODEL_DIR") {
            self.model_dir = Some(PathBuf::from(v));
        }
        if let Some(v) = non_empty("FRONTDESK_KNOWLEDGE_ALLOW_PRIVATE") {
            self.knowledge_allow_private = parse("FRONTDESK_KNOWLEDGE_ALLOW_PRIVATE", &v)?;
        }
        if let Some(v) = non_empty("FRONTDESK_KNOWLEDGE_INDEX_BUDGET_MB") {
            self.knowledge_index_budget_mb = parse("FRONTDESK_KNOWLEDGE_INDEX_BUDGET_MB", &v)?;
        }
        if let Some(v) = non_empty("FRONTDESK_SQLITE_SYNCHRONOUS") {
            self.sqlite_synchronous = v;
        }
        Ok(())
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.database_url {
            if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(ConfigError::Invalid("database_url must start with sqlite: or postgres://".into()));
            }
        }
        if let Some(url) = &self.redis_url {
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                return Err(ConfigError::Invalid("redis_url must start with redis:// or rediss://".into()));
            }
        }
        if let Some(url) = &self.public_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::Invalid("public_url must start with http:// or https://".into()));
            }
        }
        if let Some(url) = &self.llm_base_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::Invalid("llm_base_url must start with http:// or https://".into()));
            }
        }
        for (name, url) in [
            ("twilio_api_url", &self.twilio_api_url),
            ("whatsapp_api_url", &self.whatsapp_api_url),
            ("telegram_api_url", &self.telegram_api_url),
            ("stripe_api_url", &self.stripe_api_url),
        ] {
            if let Some(url) = url {
                let ok = url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
                if !ok {
                    return Err(ConfigError::Invalid(format!("{name} must be an http:// or https:// URL")));
                }
            }
        }
        match self.embedding_provider.as_str() {
            "embedded" | "off" => {}
            "openai" => match &self.embedding_base_url {
                Some(url) if url.starts_with("http://") || url.starts_with("https://") => {}
                _ => {
                    return Err(ConfigError::Invalid(
                        "embedding_provider openai needs embedding_base_url (http:// or https://)".into(),
                    ))
                }
            },
            _ => return Err(ConfigError::Invalid("embedding_provider is embedded, openai or off".into())),
        }
        if !(1..=8192).contains(&self.embedding_dimensions) {
            return Err(ConfigError::Invalid("embedding_dimensions is between 1 and 8192".into()));
        }
        if self.knowledge_index_budget_mb == 0 {
            return Err(ConfigError::Invalid("knowledge_index_budget_mb must be at least 1".into()));
        }
        if !matches!(self.log_format.as_str(), "json" | "pretty") {
            return Err(ConfigError::Invalid("log_format is json or pretty".into()));
        }
        if self.worker_concurrency == 0 || self.worker_concurrency > 1024 {
            return Err(ConfigError::Invalid("worker_concurrency is between 1 and 1024".into()));
        }
        for (name, v) in [
            ("rate_limit_per_ip", self.rate_limit_per_ip),
            ("rate_limit_per_user", self.rate_limit_per_user),
            ("rate_limit_per_api_key", self.rate_limit_per_api_key),
            ("rate_limit_per_tenant", self.rate_limit_per_tenant),
            ("chat_limit_per_visitor", self.chat_limit_per_visitor),
            ("chat_limit_per_ip", self.chat_limit_per_ip),
            ("chat_turn_attempts", self.chat_turn_attempts),
        ] {
            if v == 0 {
                return Err(ConfigError::Invalid(format!("{name} must be at least 1")));
            }
        }
        if self.chat_turn_lease_ms == 0 {
            return Err(ConfigError::Invalid("chat_turn_lease_ms must be at least 1".into()));
        }
        Ok(())
    }

    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", self.data_dir.join("frontdesk.db").display()))
    }

    /// Where the embedded model is kept: a per-user cache, so that every data directory (and
    /// every test) shares one download.
    pub fn model_dir(&self) -> PathBuf {
        if let Some(dir) = &self.model_dir {
            return dir.clone();
        }
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
        match cache {
            Some(c) if c.is_absolute() => c.join("frontdesk").join("models"),
            _ => self.data_dir.join("models"),
        }
    }

    pub fn public_url(&self) -> String {
        self.public_url.clone().unwrap_or_else(|| format!("http://{}", self.listen)).trim_end_matches('/').to_owned()
    }

    /// The master secret: configured, or generated once into the data directory (mode 0600).
    pub fn master_key(&self) -> Result<Vec<u8>, ConfigError> {
        if let Some(k) = &self.secret_key {
            return Ok(k.trim().as_bytes().to_vec());
        }
        let path = self.data_dir.join("secret.key");
        match std::fs::read_to_string(&path) {
            Ok(k) => Ok(k.trim().as_bytes().to_vec()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(&self.data_dir)
                    .map_err(|source| ConfigError::SecretFile { path: path.clone(), source })?;
                let key = frontdesk_kernel::crypto::random_token(48);
                write_private(&path, &key).map_err(|source| ConfigError::SecretFile { path: path.clone(), source })?;
                Ok(key.into_bytes())
            }
            Err(source) => Err(ConfigError::SecretFile { path, source }),
        }
    }
}

#[cfg(unix)]
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(content.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    std::fs::write(path, content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_defaults_and_bad_values_are_named() {
        let mut c = Config::default();
        c.apply_env(|n| match n {
            "FRONTDESK_LISTEN" => Some("0.0.0.0:9000".into()),
            "DATABASE_URL" => Some("postgres://u@h/db".into()),
            "FRONTDESK_CORS_ORIGINS" => Some("https://a.example, https://b.example".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.database_url(), "postgres://u@h/db");
        assert_eq!(c.cors_origins.len(), 2);
        let err = Config::default().apply_env(|n| (n == "FRONTDESK_WORKERS").then(|| "maybe".into())).unwrap_err();
        assert!(err.to_string().contains("FRONTDESK_WORKERS"));
        assert!(Config { redis_url: Some("http://x".into()), ..Config::default() }.validate().is_err());
        assert!(Config::default().validate().is_ok());
    }

    #[test]
    fn chat_pipeline_knobs() {
        let mut c = Config::default();
        c.apply_env(|n| match n {
            "FRONTDESK_CHAT_TURN_ATTEMPTS" => Some("2".into()),
            "FRONTDESK_CHAT_RETRY_BASE_MS" => Some("250".into()),
            "FRONTDESK_CHAT_TURN_LEASE_MS" => Some("5000".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!((c.chat_turn_attempts, c.chat_retry_base_ms, c.chat_turn_lease_ms), (2, 250, 5000));
        assert_eq!(c.chat_reply_wait_ms, 30_000);
        assert!(Config { chat_turn_attempts: 0, ..Config::default() }.validate().is_err());
        assert!(Config { chat_turn_lease_ms: 0, ..Config::default() }.validate().is_err());
    }

    #[test]
    fn file_rejects_unknown_keys() {
        let err = toml::from_str::<Config>("listn = \"1.2.3.4:1\"").unwrap_err();
        assert!(err.to_string().contains("listn"));
    }
}
