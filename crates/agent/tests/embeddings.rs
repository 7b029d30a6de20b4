//! `OpenAiEmbeddings` against the stand-in's `/v1/embeddings`: batching, order, normalisation,
//! what we send, and how each failure is reported.

mod common;

use common::{bounded, short_timeouts};
use frontdesk_agent::embeddings::{dot, normalize};
use frontdesk_agent::openai::OpenAiEmbeddings;
use frontdesk_agent::testing::{EmbeddingShape, Reply, StandIn};
use frontdesk_agent::{ApiKey, EmbedKind, Embedder, ProviderError};
use serde_json::json;
use std::time::Duration;

fn embeddings(s: &StandIn, dimensions: usize, key: Option<&str>) -> OpenAiEmbeddings {
    OpenAiEmbeddings::new(&s.base_url(), "text-embedding-3-small", dimensions, key.map(ApiKey::new), short_timeouts())
        .unwrap()
}

fn texts(items: &[&str]) -> Vec<String> {
    items.iter().map(|t| t.to_string()).collect()
}

fn expected(text: &str, dimensions: usize) -> Vec<f32> {
    let mut v = StandIn::embedding_of(text, dimensions);
    normalize(&mut v);
    v
}

#[tokio::test]
async fn batches_keep_order_and_come_back_normalised() {
    let s = StandIn::start().await;
    s.set_embedding_shape(EmbeddingShape { dimensions: 8, reverse_order: true });
    let e = embeddings(&s, 8, Some("sk-test-key")).with_max_batch(3);
    assert_eq!(e.info().model, "openai:text-embedding-3-small");
    assert_eq!(e.info().dimensions, 8);
    let input = texts(&["opening hours", "Öffnungszeiten", "", "price list", "  ", "parking", "sauna", "towels"]);
    let vectors = bounded(e.embed(input.clone(), EmbedKind::Query)).await.unwrap();
    assert_eq!(vectors.len(), input.len());
    for (text, v) in input.iter().zip(&vectors) {
        if text.trim().is_empty() {
            assert_eq!(v, &vec![0.0; 8], "blank texts are not sent and match nothing");
        } else {
            assert_eq!(v, &expected(text, 8), "{text}");
            assert!((dot(v, v) - 1.0).abs() < 1e-5);
        }
    }
    // Six texts to send, three per request.
    let sent = s.received();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].path, "/v1/embeddings");
    assert_eq!(
        sent[0].body,
        json!({"model": "text-embedding-3-small", "input": ["opening hours", "Öffnungszeiten", "price list"],
            "encoding_format": "float"})
    );
    assert_eq!(sent[1].body["input"], json!(["parking", "sauna", "towels"]));
    assert_eq!(sent[0].header("authorization"), Some("Bearer sk-test-key"));
    assert_eq!(sent[0].header("content-type"), Some("application/json"));

    assert!(bounded(e.embed(Vec::new(), EmbedKind::Passage)).await.unwrap().is_empty());
    assert_eq!(s.received().len(), 2, "nothing to embed, nothing sent");
}

#[tokio::test]
async fn provider_failures_map_to_provider_errors() {
    let s = StandIn::start().await;
    let e = embeddings(&s, 8, Some("sk-secret-123"));
    let one = || texts(&["hello"]);

    s.push(Reply::RateLimited { retry_after_secs: 2 });
    let err = bounded(e.embed(one(), EmbedKind::Query)).await.unwrap_err();
    assert_eq!(err, ProviderError::RateLimited { retry_after: Some(Duration::from_secs(2)) });

    s.push(Reply::ServerError);
    assert!(
        matches!(bounded(e.embed(one(), EmbedKind::Query)).await, Err(ProviderError::Unavailable(m)) if m.contains("500"))
    );

    s.push(Reply::Status { status: 401, message: "Incorrect API key provided: sk-secret-123".into() });
    assert_eq!(bounded(e.embed(one(), EmbedKind::Query)).await, Err(ProviderError::Auth));

    s.push(Reply::Status { status: 400, message: "This model does not exist (key sk-secret-123)".into() });
    match bounded(e.embed(one(), EmbedKind::Query)).await {
        Err(ProviderError::BadRequest(m)) => {
            assert!(m.contains("does not exist") && !m.contains("sk-secret-123"), "{m}");
        }
        other => panic!("{other:?}"),
    }

    s.push(Reply::Malformed);
    assert!(matches!(bounded(e.embed(one(), EmbedKind::Query)).await, Err(ProviderError::Malformed(_))));

    // Slower than the total timeout (2 s).
    s.push(Reply::Delayed { by: Duration::from_secs(5), then: Box::new(Reply::Text(String::new())) });
    assert_eq!(bounded(e.embed(one(), EmbedKind::Query)).await, Err(ProviderError::Timeout));

    s.push(Reply::CloseMidStream(String::new()));
    assert!(matches!(bounded(e.embed(one(), EmbedKind::Query)).await, Err(ProviderError::Unavailable(_))));
}

#[tokio::test]
async fn vectors_of_another_length_are_refused() {
    let s = StandIn::start().await;
    s.set_embedding_shape(EmbeddingShape { dimensions: 4, reverse_order: false });
    let err = bounded(embeddings(&s, 8, None).embed(texts(&["hello"]), EmbedKind::Passage)).await.unwrap_err();
    assert!(matches!(&err, ProviderError::Malformed(m) if m.contains("expected 8")), "{err:?}");
    assert_eq!(s.received()[0].header("authorization"), None);
}

#[tokio::test]
async fn a_failing_batch_fails_the_whole_call() {
    let s = StandIn::start().await;
    let e = embeddings(&s, 8, None).with_max_batch(2);
    s.push(Reply::Text(String::new()));
    s.push(Reply::ServerError);
    let err = bounded(e.embed(texts(&["a", "b", "c"]), EmbedKind::Query)).await.unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(s.received().len(), 2);
}
