//! [`OpenAiEmbeddings`]: sentence vectors from an OpenAI-compatible `POST {base_url}/embeddings`
//! (OpenAI, vLLM, Ollama, the llama.cpp server).
//!
//! Texts go out in batches of at most [`OpenAiEmbeddings::max_batch`] inputs, one request after
//! another; each answer's `data[i].embedding` is put back in order by its `index` and scaled to
//! unit length. Every vector must have the configured length: an index records the
//! [`EmbedderInfo`] it was built with, so a model answering with another length is an error, not
//! a silent mix. Empty (or blank) texts are not sent — OpenAI refuses them — and get a zero
//! vector, which is similar to nothing. These models embed queries and passages alike, so the
//! [`EmbedKind`] is not used.

use super::{read_body, retry_after, scrub, transport, wire, ApiKey, Timeouts};
use crate::embeddings::{normalize, EmbedKind, Embedder, EmbedderInfo};
use crate::provider::ProviderError;
use futures_util::future::BoxFuture;
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use std::fmt;
use tokio::time::timeout;

/// Inputs per request unless configured otherwise (OpenAI accepts up to 2048; smaller batches
/// keep each answer well below the 8 MB body limit even at 3072 dimensions).
pub const DEFAULT_MAX_BATCH: usize = 64;

/// Embeddings from one model behind an OpenAI-compatible endpoint.
#[derive(Clone)]
pub struct OpenAiEmbeddings {
    http: reqwest::Client,
    endpoint: String,
    model: String,
    dimensions: usize,
    key: Option<ApiKey>,
    timeouts: Timeouts,
    max_batch: usize,
}

impl fmt::Debug for OpenAiEmbeddings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiEmbeddings")
            .field("endpoint", &self.endpoint)
            .field("model", &self.model)
            .field("dimensions", &self.dimensions)
            .field("key", &self.key.as_ref().map(|_| "redacted"))
            .field("max_batch", &self.max_batch)
            .finish()
    }
}

#[derive(Serialize)]
struct Request<'a> {
    model: &'a str,
    input: &'a [String],
    encoding_format: &'static str,
}

#[derive(Deserialize)]
struct Response {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    index: usize,
    embedding: Vec<f32>,
}

impl OpenAiEmbeddings {
    /// `model` at `base_url` (like `https://api.openai.com/v1`), whose vectors have `dimensions`
    /// floats; `key` is `None` for servers that need none. Each request is bounded by
    /// `timeouts.total` (and the connection by `timeouts.connect`).
    pub fn new(
        base_url: &str,
        model: impl Into<String>,
        dimensions: usize,
        key: Option<ApiKey>,
        timeouts: Timeouts,
    ) -> Result<Self, ProviderError> {
        let http = super::OpenAiCompatible::http_client(timeouts.connect)?;
        Ok(Self::with_client(http, base_url, model, dimensions, key, timeouts))
    }

    /// The same on a shared HTTP client.
    pub fn with_client(
        http: reqwest::Client,
        base_url: &str,
        model: impl Into<String>,
        dimensions: usize,
        key: Option<ApiKey>,
        timeouts: Timeouts,
    ) -> Self {
        let endpoint = format!("{}/embeddings", base_url.trim_end_matches('/'));
        Self { http, endpoint, model: model.into(), dimensions, key, timeouts, max_batch: DEFAULT_MAX_BATCH }
    }

    /// At most `max_batch` inputs per request (at least 1).
    pub fn with_max_batch(mut self, max_batch: usize) -> Self {
        self.max_batch = max_batch.max(1);
        self
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn max_batch(&self) -> usize {
        self.max_batch
    }

    fn scrub(&self, text: String) -> String {
        scrub(self.key.as_ref(), text)
    }

    /// One request: the vectors of `texts` (none empty), in order, normalised.
    async fn request(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ProviderError> {
        let body = serde_json::to_vec(&Request { model: &self.model, input: texts, encoding_format: "float" })
            .map_err(|e| ProviderError::BadRequest(format!("embeddings request: {e}")))?;
        let mut call = self
            .http
            .post(&self.endpoint)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .body(body);
        if let Some(key) = &self.key {
            let mut value =
                HeaderValue::from_str(&format!("Bearer {}", key.reveal())).map_err(|_| ProviderError::Auth)?;
            value.set_sensitive(true);
            call = call.header(AUTHORIZATION, value);
        }
        let response = call.send().await.map_err(|e| self.scrubbed(transport(e)))?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = retry_after(response.headers());
            let body = read_body(response).await.unwrap_or_default();
            let message = self.scrub(wire::error_message(&body).unwrap_or_else(|| format!("HTTP {}", status.as_u16())));
            return Err(match status {
                StatusCode::TOO_MANY_REQUESTS => ProviderError::RateLimited { retry_after },
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => ProviderError::Auth,
                StatusCode::REQUEST_TIMEOUT => ProviderError::Timeout,
                s if s.is_server_error() => ProviderError::Unavailable(format!("HTTP {}: {message}", s.as_u16())),
                s => ProviderError::BadRequest(format!("HTTP {}: {message}", s.as_u16())),
            });
        }
        let body = read_body(response).await.map_err(|e| self.scrubbed(e))?;
        self.parse(&body, texts.len()).map_err(|m| ProviderError::Malformed(self.scrub(m)))
    }

    fn scrubbed(&self, e: ProviderError) -> ProviderError {
        match e {
            ProviderError::Unavailable(m) => ProviderError::Unavailable(self.scrub(m)),
            ProviderError::Malformed(m) => ProviderError::Malformed(self.scrub(m)),
            other => other,
        }
    }

    /// The answer's vectors in input order: exactly one per input, each `dimensions` long.
    fn parse(&self, body: &[u8], inputs: usize) -> Result<Vec<Vec<f32>>, String> {
        let answer: Response = serde_json::from_slice(body).map_err(|e| format!("embeddings answer: {e}"))?;
        let mut vectors: Vec<Option<Vec<f32>>> = vec![None; inputs];
        for item in answer.data {
            let slot =
                vectors.get_mut(item.index).ok_or_else(|| format!("embedding index {} out of range", item.index))?;
            if item.embedding.len() != self.dimensions {
                return Err(format!("an embedding of {} values, expected {}", item.embedding.len(), self.dimensions));
            }
            if slot.replace(item.embedding).is_some() {
                return Err(format!("embedding index {} repeated", item.index));
            }
        }
        vectors
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                let mut v = v.ok_or_else(|| format!("no embedding for input {i}"))?;
                if v.iter().any(|x| !x.is_finite()) {
                    return Err(format!("embedding {i} is not finite"));
                }
                normalize(&mut v);
                Ok(v)
            })
            .collect()
    }
}

impl Embedder for OpenAiEmbeddings {
    fn info(&self) -> EmbedderInfo {
        EmbedderInfo { model: format!("openai:{}", self.model), dimensions: self.dimensions }
    }

    fn embed(&self, texts: Vec<String>, _kind: EmbedKind) -> BoxFuture<'_, Result<Vec<Vec<f32>>, ProviderError>> {
        Box::pin(async move {
            let mut out = vec![vec![0f32; self.dimensions]; texts.len()];
            let sent: Vec<usize> = (0..texts.len()).filter(|&i| !texts[i].trim().is_empty()).collect();
            for positions in sent.chunks(self.max_batch) {
                let batch: Vec<String> = positions.iter().map(|&i| texts[i].clone()).collect();
                let vectors =
                    timeout(self.timeouts.total, self.request(&batch)).await.map_err(|_| ProviderError::Timeout)??;
                for (&i, v) in positions.iter().zip(vectors) {
                    out[i] = v;
                }
            }
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn embeddings(dimensions: usize) -> OpenAiEmbeddings {
        OpenAiEmbeddings::with_client(
            reqwest::Client::new(),
            "http://127.0.0.1:1/v1/",
            "m",
            dimensions,
            None,
            Timeouts::default(),
        )
    }

    #[test]
    fn answers_are_ordered_by_index_and_normalised() {
        let e = embeddings(2);
        assert_eq!(e.endpoint(), "http://127.0.0.1:1/v1/embeddings");
        let body = br#"{"object":"list","data":[
            {"object":"embedding","index":1,"embedding":[0.0,2.0]},
            {"object":"embedding","index":0,"embedding":[3.0,4.0]}],"model":"m","usage":{"prompt_tokens":2,"total_tokens":2}}"#;
        assert_eq!(e.parse(body, 2).unwrap(), vec![vec![0.6, 0.8], vec![0.0, 1.0]]);
    }

    #[test]
    fn incomplete_or_inconsistent_answers_are_malformed() {
        let e = embeddings(2);
        let cases: [(&[u8], &str); 5] = [
            (br#"{"data":[{"index":0,"embedding":[1.0,0.0]}]}"#, "no embedding for input 1"),
            (br#"{"data":[{"index":0,"embedding":[1.0]},{"index":1,"embedding":[1.0,0.0]}]}"#, "expected 2"),
            (br#"{"data":[{"index":0,"embedding":[1,0]},{"index":0,"embedding":[1,0]}]}"#, "repeated"),
            (br#"{"data":[{"index":0,"embedding":[1,0]},{"index":5,"embedding":[1,0]}]}"#, "out of range"),
            (br#"{"data":"nope"}"#, "embeddings answer"),
        ];
        for (body, expected) in cases {
            let err = e.parse(body, 2).unwrap_err();
            assert!(err.contains(expected), "{err}");
        }
    }
}
