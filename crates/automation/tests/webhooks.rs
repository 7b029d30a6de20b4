//! Deliveries end to end: a real SQLite database, the real job worker, a local receiver that
//! checks our signatures with our own `verify`.

mod common;

use common::{config, harness, Receiver};
use frontdesk_automation::model::*;
use frontdesk_automation::signature::{verify, WebhookSecret, DEFAULT_TOLERANCE};
use frontdesk_kernel::Error;
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_event_is_delivered_signed_and_an_uncommitted_one_is_not() {
    let h = harness(config(true, 3), None).await;
    let rx = Receiver::start(&[200]).await;
    let created = h.endpoint(&rx.url, &[]).await;
    assert!(created.secret.starts_with("whsec_"));
    rx.trust(&created.secret);

    // Rolled back: no delivery, no job.
    let mut tx = h.db.tenant(&h.tenant).await.unwrap();
    let ids = frontdesk_automation::publish(&mut tx, "contact.created", json!({"n": 0})).await.unwrap();
    assert_eq!(ids.len(), 1);
    drop(tx);

    let ids = h.publish("contact.created", json!({"contact_id": "con_1"})).await;
    let d = h.settled(&ids[0]).await;
    assert_eq!(d.state, DeliveryState::Succeeded, "{d:?}");
    assert_eq!((d.attempts, d.last_status, d.next_attempt_at), (1, Some(200), None));
    assert!(d.response_ms.is_some());

    tokio::time::sleep(Duration::from_millis(150)).await;
    let got = rx.received();
    assert_eq!(got.len(), 1, "only the committed event arrives");
    assert!(got[0].verified, "our verify accepts our signature");
    assert_eq!(got[0].headers["webhook-id"], d.event_id.as_str());
    assert_eq!(got[0].headers["content-type"], "application/json");
    assert_eq!(got[0].body["type"], "contact.created");
    assert_eq!(got[0].body["data"]["contact_id"], "con_1");
    let listed = h.automation.deliveries(&h.principal, &created.endpoint.id, None, 10).await.unwrap();
    assert_eq!(listed.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_retried_per_the_schedule_until_success() {
    let h = harness(config(true, 4), None).await;
    let rx = Receiver::start(&[500, 500, 200]).await;
    let created = h.endpoint(&rx.url, &[]).await;
    rx.trust(&created.secret);
    let ids = h.publish("booking.created", json!({})).await;
    let d = h.settled(&ids[0]).await;
    assert_eq!(d.state, DeliveryState::Succeeded, "{d:?}");
    assert_eq!(d.attempts, 3);
    assert_eq!(d.last_status, Some(200));
    let got = rx.received();
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|r| r.verified));
    let ids: Vec<_> = got.iter().map(|r| r.headers["webhook-id"].clone()).collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "the same webhook-id on every attempt");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_that_always_fails_ends_failed_and_can_be_replayed() {
    let h = harness(config(true, 3), None).await;
    let rx = Receiver::start(&[503]).await;
    let created = h.endpoint(&rx.url, &[]).await;
    rx.trust(&created.secret);
    let ids = h.publish("booking.cancelled", json!({"id": 7})).await;
    let failed = h.settled(&ids[0]).await;
    assert_eq!(failed.state, DeliveryState::Failed, "{failed:?}");
    assert_eq!((failed.attempts, failed.last_status, failed.next_attempt_at), (3, Some(503), None));
    assert!(failed.last_error.as_deref().unwrap_or("").contains("503"), "{failed:?}");
    assert_eq!(rx.received().len(), 3);

    rx.set_plan(&[200]);
    let replay = h.automation.replay(&h.principal, &failed.id, &h.actor).await.unwrap();
    assert_eq!(replay.replay_of.as_ref(), Some(&failed.id));
    let done = h.settled(&replay.id).await;
    assert_eq!((done.state, done.attempts), (DeliveryState::Succeeded, 1));
    let got = rx.received();
    assert_eq!(got.len(), 4);
    assert_eq!(got[3].headers["webhook-id"], failed.event_id.as_str());
    assert_eq!(got[3].body, got[0].body, "a replay sends the same body");
    // The failed original stays in the log; replaying a queued delivery is refused.
    assert_eq!(h.delivery(&failed.id).await.state, DeliveryState::Failed);
    let again = h.publish("booking.cancelled", json!({})).await;
    let err = h.automation.replay(&h.principal, &again[0], &h.actor).await;
    if let Err(Error::Conflict { code, .. }) = err {
        assert_eq!(code, "delivery_in_progress");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_receive_only_the_event_types_they_filter_on() {
    let h = harness(config(true, 2), None).await;
    let all = Receiver::start(&[200]).await;
    let some = Receiver::start(&[200]).await;
    h.endpoint(&all.url, &[]).await;
    let filtered = h.endpoint(&some.url, &["contact.created"]).await;
    let first = h.publish("contact.created", json!({})).await;
    let second = h.publish("booking.created", json!({})).await;
    assert_eq!((first.len(), second.len()), (2, 1));
    for id in first.iter().chain(&second) {
        assert_eq!(h.settled(id).await.state, DeliveryState::Succeeded);
    }
    assert_eq!(all.received().len(), 2);
    let got = some.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body["type"], "contact.created");

    // A disabled endpoint gets nothing; a deleted one disappears with its log.
    let off = UpdateEndpointRequest { disabled: Some(true), ..Default::default() };
    let updated = h.automation.update_endpoint(&h.principal, &filtered.endpoint.id, off, &h.actor).await.unwrap();
    assert!(updated.disabled_at.is_some());
    assert_eq!(h.publish("contact.created", json!({})).await.len(), 1);
    h.automation.delete_endpoint(&h.principal, &filtered.endpoint.id, &h.actor).await.unwrap();
    assert!(matches!(h.automation.endpoint(&h.principal, &filtered.endpoint.id).await, Err(Error::NotFound)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_destination_is_refused_when_the_policy_forbids_it() {
    // The API side may save a loopback URL (allow_private); the worker's policy forbids it.
    let h = harness(config(true, 3), Some(config(false, 3))).await;
    let rx = Receiver::start(&[200]).await;
    let created = h.endpoint(&rx.url, &[]).await;
    let ids = h.publish("contact.created", json!({})).await;
    let d = h.settled(&ids[0]).await;
    assert_eq!(d.state, DeliveryState::Failed, "{d:?}");
    assert_eq!(d.attempts, 1, "a refused destination is not retried");
    let error = d.last_error.unwrap_or_default();
    assert!(error.contains("forbidden destination 127.0.0.1") && error.contains("loopback"), "{error}");
    assert!(rx.received().is_empty(), "no request reached the server");
    assert_eq!(created.endpoint.url, rx.url);

    // A strict service refuses to save such URLs in the first place.
    let strict = harness(config(false, 3), None).await;
    for (url, code) in [
        (rx.url.as_str(), "https_required"),
        ("https://127.0.0.1/hook", "forbidden_destination"),
        ("https://localhost/hook", "forbidden_destination"),
        ("https://[::ffff:169.254.169.254]/", "forbidden_destination"),
        ("https://user:pw@example.com/", "credentials_in_url"),
    ] {
        let req = CreateEndpointRequest { url: url.into(), description: String::new(), event_types: vec![] };
        match strict.automation.create_endpoint(&strict.principal, req, &strict.actor).await {
            Err(Error::Validation(errors)) => assert_eq!(errors[0].code, code, "{url}"),
            other => panic!("{url} was accepted: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_a_rotation_both_secrets_sign() {
    let h = harness(config(true, 2), None).await;
    let rx = Receiver::start(&[200]).await;
    let created = h.endpoint(&rx.url, &[]).await;
    let rotated = h.automation.rotate_secret(&h.principal, &created.endpoint.id, &h.actor).await.unwrap();
    assert_ne!(rotated.secret, created.secret);
    assert!(rotated.endpoint.previous_secret_until.is_some());
    rx.trust(&rotated.secret);
    let test = h.automation.send_test(&h.principal, &created.endpoint.id, &h.actor).await.unwrap();
    assert_eq!(test.event_type, TEST_EVENT);
    assert_eq!(h.settled(&test.id).await.state, DeliveryState::Succeeded);
    let got = rx.received();
    assert!(got[0].verified);
    let header = got[0].headers["webhook-signature"].to_str().unwrap();
    assert_eq!(header.split(' ').count(), 2, "{header}");
    let body = serde_json::to_vec(&got[0].body).unwrap();
    let old = WebhookSecret::parse(&created.secret).unwrap();
    assert_eq!(verify(&got[0].headers, &body, &[old], DEFAULT_TOLERANCE), Ok(()), "the old secret still verifies");
}
