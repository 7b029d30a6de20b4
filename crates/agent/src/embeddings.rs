//! Sentence embeddings: one [`Embedder`] interface for the knowledge base's vector search and the
//! agent's intent matching, whatever computes them (an OpenAI-compatible `/v1/embeddings`
//! endpoint, or the embedded engine that needs no key and no server).

use crate::provider::ProviderError;
use futures_util::future::BoxFuture;

/// What a text is, for models that embed queries and passages differently (e5 prefixes them
/// with `query: ` and `passage: `).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmbedKind {
    /// A question or search phrase.
    Query,
    /// A stored passage (a knowledge-base chunk, an FAQ entry, an example).
    Passage,
}

/// Which model produced a vector. Vectors of different models (or dimensions) never mix: an
/// index records the `EmbedderInfo` it was built with and rebuilds when it changes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmbedderInfo {
    /// A stable name such as `embedded:multilingual-e5-small-q4` or `openai:text-embedding-3-small`.
    pub model: String,
    /// Length of every vector.
    pub dimensions: usize,
}

/// Turns texts into L2-normalised vectors of [`EmbedderInfo::dimensions`] floats (so a dot
/// product is the cosine similarity). Object-safe: callers hold an `Arc<dyn Embedder>`.
pub trait Embedder: Send + Sync {
    /// The model and its vector length.
    fn info(&self) -> EmbedderInfo;

    /// One vector per text, in order. CPU-bound implementations run off the async runtime.
    fn embed(&self, texts: Vec<String>, kind: EmbedKind) -> BoxFuture<'_, Result<Vec<Vec<f32>>, ProviderError>>;
}

/// Scales `v` to unit length in place (a zero vector stays zero).
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// Dot product of two vectors of the same length (the cosine similarity of unit vectors).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalized_vectors_dot_to_cosine() {
        let mut a = vec![3.0, 4.0];
        normalize(&mut a);
        assert!((a[0] - 0.6).abs() < 1e-6 && (a[1] - 0.8).abs() < 1e-6);
        assert!((dot(&a, &a) - 1.0).abs() < 1e-6);
        let mut zero = vec![0.0, 0.0];
        normalize(&mut zero);
        assert_eq!(zero, vec![0.0, 0.0]);
    }
}
