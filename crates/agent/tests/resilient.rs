//! Retries, fallback, streams that fail after their first token, usage per tenant, and a tenant's
//! configuration built into a working provider — all against the stand-in.

mod common;

use common::{ask, bounded, collect, provider};
use frontdesk_agent::testing::{Reply, StandIn};
use frontdesk_agent::{
    ChatProvider, MemoryUsage, Metered, ProviderConfig, ProviderError, Resilient, RetryPolicy, UsageSink,
};
use frontdesk_kernel::crypto::Keyring;
use frontdesk_kernel::TenantId;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn quick() -> RetryPolicy {
    RetryPolicy { max_attempts: 3, base: Duration::from_millis(10), cap: Duration::from_secs(2) }
}

fn resilient(s: &StandIn, fallback_model: Option<&str>) -> Resilient {
    let r = Resilient::new(Arc::new(provider(s, "big-model", None)), quick());
    match fallback_model {
        Some(model) => r.with_fallback(Arc::new(provider(s, model, None))),
        None => r,
    }
}

#[tokio::test]
async fn rate_limited_then_success_honours_retry_after() {
    let s = StandIn::start().await;
    s.push(Reply::RateLimited { retry_after_secs: 1 });
    s.push(Reply::Text("Booked.".into()));
    let started = Instant::now();
    let answer = bounded(resilient(&s, None).complete(ask("book"))).await.unwrap();
    assert_eq!(answer.content, "Booked.");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(1) && waited < Duration::from_secs(4), "{waited:?}");
    assert_eq!(s.received().len(), 2);
}

#[tokio::test]
async fn a_retry_after_beyond_the_cap_goes_straight_to_the_fallback() {
    let s = StandIn::start().await;
    s.always_for_model("big-model", Reply::RateLimited { retry_after_secs: 60 });
    let started = Instant::now();
    let answer = bounded(resilient(&s, Some("small-model")).complete(ask("hi"))).await.unwrap();
    assert_eq!(answer.model, "small-model");
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(s.received().iter().filter(|r| r.model() == "big-model").count(), 1);
}

#[tokio::test]
async fn server_errors_exhaust_retries_then_the_fallback_answers() {
    let s = StandIn::start().await;
    s.always_for_model("big-model", Reply::ServerError);
    let answer = bounded(resilient(&s, Some("small-model")).complete(ask("hi"))).await.unwrap();
    assert_eq!(answer.model, "small-model");
    let models: Vec<String> = s.received().iter().map(|r| r.model().to_owned()).collect();
    assert_eq!(models, ["big-model", "big-model", "big-model", "small-model"]);

    // Without a fallback the last error comes back, after exactly max_attempts tries.
    let s = StandIn::start().await;
    s.always(Reply::ServerError);
    let e = bounded(resilient(&s, None).complete(ask("hi"))).await.unwrap_err();
    assert!(matches!(e, ProviderError::Unavailable(_)), "{e:?}");
    assert_eq!(s.received().len(), 3);
}

#[tokio::test]
async fn a_bad_request_is_neither_retried_nor_sent_to_the_fallback() {
    let s = StandIn::start().await;
    s.push(Reply::Status { status: 400, message: "Invalid 'tools[0].function.name'.".into() });
    let e = bounded(resilient(&s, Some("small-model")).complete(ask("hi"))).await.unwrap_err();
    assert!(matches!(e, ProviderError::BadRequest(_)), "{e:?}");
    assert_eq!(s.received().len(), 1);
}

#[tokio::test]
async fn a_stream_failing_before_its_first_token_is_retried() {
    let s = StandIn::start().await;
    s.push(Reply::ServerError);
    // Headers arrive, then nothing: the idle timeout fires before any token.
    s.push(Reply::HangAfterFirstChunk(String::new()));
    s.push(Reply::Text("Second time lucky.".into()));
    let got = bounded(async { collect(resilient(&s, None).stream(ask("hi")).await.unwrap()).await }).await;
    assert_eq!(got.error, None);
    assert_eq!(got.text, "Second time lucky.");
    assert_eq!(s.received().len(), 3);
}

#[tokio::test]
async fn a_stream_failing_after_its_first_token_is_not_retried() {
    let s = StandIn::start().await;
    s.push(Reply::CloseMidStream("Your class starts at nine".into()));
    s.always(Reply::Text("DUPLICATE".into()));
    let got =
        bounded(async { collect(resilient(&s, Some("small-model")).stream(ask("hi")).await.unwrap()).await }).await;
    assert_eq!(got.text, "Your clas");
    assert!(matches!(got.error, Some(ProviderError::Unavailable(_))), "{:?}", got.error);
    assert!(!got.text.contains("DUPLICATE"));
    assert_eq!(s.received().len(), 1, "neither retried nor sent to the fallback");
}

#[tokio::test]
async fn usage_is_recorded_per_tenant() {
    let s = StandIn::start().await;
    s.always(Reply::Text("See you on Monday.".into()));
    let usage = Arc::new(MemoryUsage::new());
    let metered = Metered::new(Arc::new(resilient(&s, None)), usage.clone());
    let (gym, salon) = (TenantId::new(), TenantId::new());

    let answer = bounded(metered.complete(&gym, "reply", ask("hi"))).await.unwrap();
    let streamed =
        bounded(async { collect(metered.stream(&salon, "routing", ask("hello there")).await.unwrap()).await })
            .await
            .done
            .unwrap();
    let bound = metered.for_tenant(salon.clone(), "summary");
    bounded(bound.complete(ask("sum up"))).await.unwrap();

    let gym_records = usage.for_tenant(&gym);
    assert_eq!(gym_records.len(), 1);
    assert_eq!(gym_records[0].purpose, "reply");
    assert_eq!(gym_records[0].model, "big-model");
    assert_eq!(gym_records[0].prompt_tokens, answer.usage.prompt_tokens);
    assert_eq!(gym_records[0].completion_tokens, 4);
    let salon_records = usage.for_tenant(&salon);
    assert_eq!(salon_records.iter().map(|r| r.purpose.as_str()).collect::<Vec<_>>(), ["routing", "summary"]);
    assert_eq!(salon_records[0].prompt_tokens, streamed.usage.prompt_tokens);
    assert!(salon_records[0].at_ms > 0);

    // A failed call records nothing.
    s.always(Reply::Status { status: 400, message: "no".into() });
    assert!(bounded(metered.complete(&gym, "reply", ask("hi"))).await.is_err());
    assert_eq!(usage.records().len(), 3);
    let _: &dyn UsageSink = &*usage;
}

#[tokio::test]
async fn a_tenant_configuration_builds_a_working_provider() {
    let keys = Keyring::new(&[5u8; 32], &[]).unwrap();
    let (primary, other) = (StandIn::start().await, StandIn::start().await);
    primary.always(Reply::ServerError);
    let config = ProviderConfig {
        base_url: primary.base_url(),
        model: "gpt-4o".into(),
        fallback_base_url: Some(other.base_url()),
        fallback_model: Some("llama3.2".into()),
        api_key_sealed: Some(ProviderConfig::seal_key(&keys, "sk-primary-KEY")),
        fallback_api_key_sealed: Some(ProviderConfig::seal_key(&keys, "sk-fallback-KEY")),
        max_attempts: 2,
        backoff_base_ms: 10,
        ..ProviderConfig::default()
    };
    config.validate().unwrap();
    let answer = bounded(config.build(&keys).unwrap().complete(ask("hi"))).await.unwrap();
    assert_eq!(answer.model, "llama3.2");
    let sent = primary.received();
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|r| r.header("authorization") == Some("Bearer sk-primary-KEY")));
    let fallback_sent = other.received();
    assert_eq!(fallback_sent[0].header("authorization"), Some("Bearer sk-fallback-KEY"), "the primary key stays home");
    assert!(!format!("{config:?}").contains("KEY"));
}
