//! [`EmbeddedEmbedder`]: the agent's [`Embedder`] interface on the in-process e5 model, with no
//! key and no server. Inference runs on tokio's blocking pool, never on the async workers.

use crate::model::E5Model;
use crate::store::ModelStore;
use frontdesk_agent::{EmbedKind, Embedder, EmbedderInfo, ProviderError};
use futures_util::future::BoxFuture;
use std::sync::Arc;
use tokio::sync::OnceCell;

/// The stable name of the embedded model's vectors.
pub const MODEL_NAME: &str = "embedded:multilingual-e5-small-q4";
/// Length of its vectors.
pub const DIMENSIONS: usize = 384;

enum Source {
    Ready(Arc<E5Model>),
    /// Fetched (when missing) and loaded by the first call that needs it.
    OnDemand {
        store: ModelStore,
        model: OnceCell<Arc<E5Model>>,
    },
}

/// Embeds with the in-process multilingual-e5-small model.
pub struct EmbeddedEmbedder {
    source: Source,
}

impl std::fmt::Debug for EmbeddedEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.source {
            Source::Ready(_) => "ready",
            Source::OnDemand { model, .. } if model.initialized() => "ready",
            Source::OnDemand { .. } => "not loaded yet",
        };
        f.debug_struct("EmbeddedEmbedder").field("model", &MODEL_NAME).field("state", &state).finish()
    }
}

impl EmbeddedEmbedder {
    /// On a model already loaded.
    pub fn new(model: Arc<E5Model>) -> Self {
        Self { source: Source::Ready(model) }
    }

    /// Loads the model from `store` on first use, downloading it first if it is missing.
    /// Concurrent first calls share one download and one load; a failure is returned to the
    /// waiting calls and the next call tries again.
    pub fn on_demand(store: ModelStore) -> Self {
        Self { source: Source::OnDemand { store, model: OnceCell::new() } }
    }

    /// The loaded model, fetching and loading it first if needed.
    pub async fn model(&self) -> Result<Arc<E5Model>, ProviderError> {
        match &self.source {
            Source::Ready(model) => Ok(model.clone()),
            Source::OnDemand { store, model } => model.get_or_try_init(|| load(store)).await.cloned(),
        }
    }
}

async fn load(store: &ModelStore) -> Result<Arc<E5Model>, ProviderError> {
    let path = store.ensure().await.map_err(|e| ProviderError::Unavailable(format!("embedded model: {e}")))?;
    let model = tokio::task::spawn_blocking(move || E5Model::load(path))
        .await
        .map_err(join_error)?
        .map_err(|e| ProviderError::Unavailable(format!("embedded model: {e}")))?;
    // Vectors are announced (`info`) before the model is loaded: the file must agree.
    if model.dimensions() != DIMENSIONS {
        return Err(ProviderError::Unavailable(format!(
            "embedded model: the file has {} dimensions, expected {DIMENSIONS}",
            model.dimensions()
        )));
    }
    Ok(Arc::new(model))
}

fn join_error(e: tokio::task::JoinError) -> ProviderError {
    if e.is_cancelled() {
        ProviderError::Cancelled
    } else {
        tracing::error!(error = %e, "the embedding engine panicked");
        ProviderError::Unavailable("the embedding engine failed".into())
    }
}

impl Embedder for EmbeddedEmbedder {
    fn info(&self) -> EmbedderInfo {
        let dimensions = match &self.source {
            Source::Ready(model) => model.dimensions(),
            Source::OnDemand { .. } => DIMENSIONS,
        };
        EmbedderInfo { model: MODEL_NAME.to_owned(), dimensions }
    }

    fn embed(&self, texts: Vec<String>, kind: EmbedKind) -> BoxFuture<'_, Result<Vec<Vec<f32>>, ProviderError>> {
        Box::pin(async move {
            if texts.is_empty() {
                return Ok(Vec::new());
            }
            let model = self.model().await?;
            tokio::task::spawn_blocking(move || model.embed_batch(&texts, kind)).await.map_err(join_error)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiny_model;

    #[tokio::test]
    async fn embeds_on_the_blocking_pool_with_the_models_vectors() {
        let model = Arc::new(E5Model::from_bytes(&tiny_model::bytes()).unwrap());
        let embedder = EmbeddedEmbedder::new(model.clone());
        assert_eq!(embedder.info(), EmbedderInfo { model: MODEL_NAME.into(), dimensions: tiny_model::HIDDEN });
        let texts = vec!["hello".to_owned(), "a b".to_owned()];
        let vectors = embedder.embed(texts.clone(), EmbedKind::Passage).await.unwrap();
        assert_eq!(vectors, model.embed_batch(&texts, EmbedKind::Passage));
    }

    #[tokio::test]
    async fn a_model_file_of_another_width_is_refused() {
        let path = std::env::temp_dir().join(format!("frontdesk-engine-tiny-{}.bin", std::process::id()));
        std::fs::write(&path, tiny_model::bytes()).unwrap();
        let embedder = EmbeddedEmbedder::on_demand(ModelStore::explicit(&path));
        assert_eq!(embedder.info().dimensions, DIMENSIONS);
        let err = embedder.embed(vec!["hello".into()], EmbedKind::Query).await.unwrap_err();
        let _ = std::fs::remove_file(&path);
        assert!(matches!(&err, ProviderError::Unavailable(m) if m.contains("32 dimensions")), "{err:?}");
    }
}
