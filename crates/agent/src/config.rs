//! A tenant's model configuration: endpoint, model, fallback, timeouts, retries, and the API key
//! sealed at rest (AES-256-GCM through the [`Keyring`], purpose [`API_KEY_PURPOSE`]).
//!
//! The primary key is only ever sent to the primary endpoint: a fallback on another endpoint
//! uses its own key (`fallback_api_key_sealed`, or none).

use crate::openai::{ApiKey, OpenAiCompatible, Timeouts};
use crate::provider::ChatProvider;
use crate::resilient::{Resilient, RetryPolicy};
use frontdesk_kernel::crypto::Keyring;
use frontdesk_kernel::error::Validator;
use frontdesk_kernel::Error;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The keyring purpose that seals model API keys.
pub const API_KEY_PURPOSE: &str = "llm-api-key";

const MAX_TIMEOUT_MS: u64 = 10 * 60 * 1000;
const MAX_ATTEMPTS: u32 = 10;

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProviderConfig {
    /// `https://api.openai.com/v1`, `http://127.0.0.1:11434/v1`, …
    pub base_url: String,
    pub model: String,
    /// Tried when the primary keeps failing; defaults to `model` when only the URL differs.
    pub fallback_model: Option<String>,
    /// Another endpoint for the fallback; defaults to `base_url`.
    pub fallback_base_url: Option<String>,
    /// The primary's key, sealed ([`ProviderConfig::seal_key`]). `None` for keyless servers.
    pub api_key_sealed: Option<String>,
    /// The key for `fallback_base_url`, sealed. Unused when the fallback is on the primary endpoint.
    pub fallback_api_key_sealed: Option<String>,
    pub connect_timeout_ms: u64,
    pub first_byte_timeout_ms: u64,
    pub idle_timeout_ms: u64,
    pub total_timeout_ms: u64,
    /// Tries per provider, the first included.
    pub max_attempts: u32,
    pub backoff_base_ms: u64,
    pub backoff_cap_ms: u64,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        let t = Timeouts::default();
        let r = RetryPolicy::default();
        Self {
            base_url: String::new(),
            model: String::new(),
            fallback_model: None,
            fallback_base_url: None,
            api_key_sealed: None,
            fallback_api_key_sealed: None,
            connect_timeout_ms: t.connect.as_millis() as u64,
            first_byte_timeout_ms: t.first_byte.as_millis() as u64,
            idle_timeout_ms: t.idle.as_millis() as u64,
            total_timeout_ms: t.total.as_millis() as u64,
            max_attempts: r.max_attempts,
            backoff_base_ms: r.base.as_millis() as u64,
            backoff_cap_ms: r.cap.as_millis() as u64,
        }
    }
}

impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sealed = |k: &Option<String>| k.as_ref().map(|_| "sealed");
        f.debug_struct("ProviderConfig")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("fallback_model", &self.fallback_model)
            .field("fallback_base_url", &self.fallback_base_url)
            .field("api_key", &sealed(&self.api_key_sealed))
            .field("fallback_api_key", &sealed(&self.fallback_api_key_sealed))
            .field("timeouts", &self.timeouts())
            .field("retry", &self.retry_policy())
            .finish()
    }
}

fn check_url(v: &mut Validator, field: &str, value: &str) {
    match reqwest::Url::parse(value.trim()) {
        Err(_) => v.push(field, "invalid_url", "Enter a full URL such as https://api.openai.com/v1."),
        Ok(url) if !matches!(url.scheme(), "http" | "https") => v.push(field, "invalid_url", "Use http or https."),
        Ok(url) if url.host_str().is_none_or(str::is_empty) => v.push(field, "invalid_url", "The URL needs a host."),
        Ok(url) if !url.username().is_empty() || url.password().is_some() => {
            v.push(field, "invalid_url", "Put credentials in the API key, not in the URL.")
        }
        Ok(_) => {}
    }
}

fn check_model(v: &mut Validator, field: &str, value: &str) {
    let value = value.trim();
    if value.is_empty() {
        v.push(field, "required", "Name the model.");
    } else if value.len() > 200 {
        v.push(field, "too_long", "A model name has at most 200 characters.");
    }
}

impl ProviderConfig {
    /// Seals an API key for storage in `api_key_sealed` / `fallback_api_key_sealed`.
    pub fn seal_key(keys: &Keyring, api_key: &str) -> String {
        keys.seal(API_KEY_PURPOSE, api_key.trim().as_bytes())
    }

    pub fn timeouts(&self) -> Timeouts {
        Timeouts {
            connect: Duration::from_millis(self.connect_timeout_ms),
            first_byte: Duration::from_millis(self.first_byte_timeout_ms),
            idle: Duration::from_millis(self.idle_timeout_ms),
            total: Duration::from_millis(self.total_timeout_ms),
        }
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.max_attempts,
            base: Duration::from_millis(self.backoff_base_ms),
            cap: Duration::from_millis(self.backoff_cap_ms),
        }
    }

    /// All field errors at once, as [`Error::Validation`].
    pub fn validate(&self) -> Result<(), Error> {
        let mut v = Validator::new();
        check_url(&mut v, "base_url", &self.base_url);
        check_model(&mut v, "model", &self.model);
        if let Some(url) = &self.fallback_base_url {
            check_url(&mut v, "fallback_base_url", url);
        }
        if let Some(model) = &self.fallback_model {
            check_model(&mut v, "fallback_model", model);
        }
        if self.fallback_api_key_sealed.is_some() && self.fallback_base_url.is_none() {
            v.push("fallback_api_key_sealed", "unused", "A fallback key needs a fallback_base_url.");
        }
        for (field, ms) in [
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("first_byte_timeout_ms", self.first_byte_timeout_ms),
            ("idle_timeout_ms", self.idle_timeout_ms),
            ("total_timeout_ms", self.total_timeout_ms),
            ("backoff_cap_ms", self.backoff_cap_ms),
        ] {
            if ms == 0 || ms > MAX_TIMEOUT_MS {
                v.push(field, "out_of_range", format!("Between 1 and {MAX_TIMEOUT_MS} ms."));
            }
        }
        if self.backoff_base_ms > self.backoff_cap_ms {
            v.push("backoff_base_ms", "out_of_range", "At most backoff_cap_ms.");
        }
        if !(1..=MAX_ATTEMPTS).contains(&self.max_attempts) {
            v.push("max_attempts", "out_of_range", format!("Between 1 and {MAX_ATTEMPTS}."));
        }
        v.finish()
    }

    /// The tenant's provider with its own HTTP client.
    pub fn build(&self, keys: &Keyring) -> Result<Resilient, Error> {
        let http = OpenAiCompatible::http_client(self.timeouts().connect).map_err(Error::internal)?;
        self.build_with_client(keys, &http)
    }

    /// The tenant's provider on a shared HTTP client (one connection pool for all tenants).
    pub fn build_with_client(&self, keys: &Keyring, http: &reqwest::Client) -> Result<Resilient, Error> {
        self.validate()?;
        let timeouts = self.timeouts();
        let key = open(keys, self.api_key_sealed.as_deref())?;
        let base_url = self.base_url.trim();
        let primary = OpenAiCompatible::with_client(http.clone(), base_url, self.model.trim(), key.clone(), timeouts);
        let mut resilient = Resilient::new(Arc::new(primary), self.retry_policy());
        let fallback_url = self.fallback_base_url.as_deref().map(str::trim).filter(|u| *u != base_url);
        let fallback_model = self.fallback_model.as_deref().unwrap_or(&self.model).trim();
        if fallback_url.is_some() || fallback_model != self.model.trim() {
            let fallback_key = match fallback_url {
                Some(_) => open(keys, self.fallback_api_key_sealed.as_deref())?,
                None => key,
            };
            let url = fallback_url.unwrap_or(base_url);
            let fallback: Arc<dyn ChatProvider> =
                Arc::new(OpenAiCompatible::with_client(http.clone(), url, fallback_model, fallback_key, timeouts));
            resilient = resilient.with_fallback(fallback);
        }
        Ok(resilient)
    }
}

fn open(keys: &Keyring, sealed: Option<&str>) -> Result<Option<ApiKey>, Error> {
    let Some(sealed) = sealed.filter(|s| !s.is_empty()) else { return Ok(None) };
    let bytes = keys.open(API_KEY_PURPOSE, sealed).map_err(|e| Error::internal(format!("model API key: {e}")))?;
    let key = String::from_utf8(bytes).map_err(|_| Error::internal("model API key is not text"))?;
    Ok(Some(ApiKey::new(key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(e: Error) -> Vec<String> {
        match e {
            Error::Validation(errors) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn validation_names_each_field() {
        let bad = ProviderConfig {
            base_url: "ftp://example.com".into(),
            fallback_base_url: Some("https://user:pw@example.com/v1".into()),
            fallback_model: Some(" ".into()),
            max_attempts: 0,
            idle_timeout_ms: 0,
            ..ProviderConfig::default()
        };
        assert_eq!(
            fields(bad.validate().unwrap_err()),
            ["base_url", "model", "fallback_base_url", "fallback_model", "idle_timeout_ms", "max_attempts"]
        );
        let good = ProviderConfig {
            base_url: "http://127.0.0.1:11434/v1".into(),
            model: "llama3.2".into(),
            ..ProviderConfig::default()
        };
        good.validate().unwrap();
        assert!(fields(ProviderConfig { base_url: "not a url".into(), ..good }.validate().unwrap_err())
            .contains(&"base_url".to_owned()));
    }

    #[test]
    fn keys_are_sealed_and_never_printed() {
        let keys = Keyring::new(&[3u8; 32], &[]).unwrap();
        let sealed = ProviderConfig::seal_key(&keys, "sk-live-abcdef");
        let config = ProviderConfig {
            base_url: "https://api.openai.com/v1".into(),
            model: "gpt-4o-mini".into(),
            fallback_model: Some("gpt-4o-mini-small".into()),
            api_key_sealed: Some(sealed.clone()),
            ..ProviderConfig::default()
        };
        let printed = format!("{config:?} {:?}", config.build(&keys).unwrap());
        assert!(!printed.contains("sk-live") && !printed.contains(&sealed), "{printed}");
        assert!(config.build(&keys).unwrap().has_fallback());
        // A key sealed for another purpose does not open.
        let wrong = ProviderConfig { api_key_sealed: Some(keys.seal("stripe", b"sk-live")), ..config.clone() };
        assert_eq!(wrong.build(&keys).unwrap_err().status().as_u16(), 500);
        // Same endpoint and model: no pointless fallback.
        let single = ProviderConfig { fallback_model: None, ..config };
        assert!(!single.build(&keys).unwrap().has_fallback());
    }
}
