//! `frontdesk_web::outbound` against a local server: private destinations, redirects, limits.

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use frontdesk_web::outbound::*;
use std::time::Duration;
use url::Url;

async fn server() -> String {
    async fn redirect_to(target: String) -> impl IntoResponse {
        (StatusCode::FOUND, [(header::LOCATION, target)])
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let port = addr.port();
    let app = axum::Router::new()
        .route("/ok", get(|| async { "hello" }))
        .route("/big", get(|| async { vec![b'x'; 10_000] }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                "late"
            }),
        )
        .route("/to-localhost", get(move || redirect_to(format!("http://localhost:{port}/ok"))))
        .route("/to-metadata", get(|| redirect_to("http://169.254.169.254/latest/meta-data/".into())))
        .route("/to-self", get(move || redirect_to(format!("http://127.0.0.1:{port}/ok"))))
        .route("/loop", get(|| redirect_to("/loop".into())));
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    format!("http://{addr}")
}

fn policy(allow_private: bool) -> OutboundPolicy {
    OutboundPolicy { allow_private, timeout: Duration::from_secs(2), ..OutboundPolicy::default() }
}

async fn get_with(p: &OutboundPolicy, url: &str) -> Result<OutboundResponse, OutboundError> {
    let client = safe_client(p).unwrap();
    send(&client, p, OutboundRequest::get(Url::parse(url).unwrap())).await
}

fn is_forbidden(r: &Result<OutboundResponse, OutboundError>, host: &str) -> bool {
    matches!(r, Err(OutboundError::Forbidden { host: h, .. }) if h == host)
}

#[tokio::test]
async fn loopback_is_refused_by_default_and_allowed_with_allow_private() {
    let base = server().await;
    let refused = get_with(&policy(false), &format!("{base}/ok")).await;
    assert!(is_forbidden(&refused, "127.0.0.1"), "{refused:?}");
    assert!(refused.unwrap_err().to_string().contains("loopback"));
    let ok = get_with(&policy(true), &format!("{base}/ok")).await.unwrap();
    assert_eq!((ok.status, ok.body.as_slice(), ok.redirects), (StatusCode::OK, &b"hello"[..], 0));
    let url = Url::parse(&format!("{base}/ok")).unwrap();
    assert!(check_destination(&url, &policy(false)).await.is_err());
    assert_eq!(check_destination(&url, &policy(true)).await.unwrap().len(), 1);
}

/// The first hop is allowed by name through `allow_hosts` (the server must live on loopback in
/// a test); the redirect's target is another loopback name, which the policy still forbids.
#[tokio::test]
async fn every_redirect_hop_is_checked() {
    let base = server().await;
    let exempt = OutboundPolicy { allow_hosts: vec!["127.0.0.1".into()], ..policy(false) };
    let r = get_with(&exempt, &format!("{base}/to-localhost")).await;
    assert!(is_forbidden(&r, "localhost"), "{r:?}");
    let r = get_with(&exempt, &format!("{base}/to-metadata")).await;
    assert!(matches!(&r, Err(OutboundError::Forbidden { reason, .. }) if reason.contains("metadata")), "{r:?}");
    let followed = get_with(&exempt, &format!("{base}/to-self")).await.unwrap();
    assert_eq!((followed.status, followed.redirects), (StatusCode::OK, 1));
    assert!(followed.url.as_str().ends_with("/ok"));
    let no_redirects = OutboundPolicy { max_redirects: 0, ..exempt.clone() };
    let r = get_with(&no_redirects, &format!("{base}/to-self")).await;
    assert_eq!(r.unwrap_err(), OutboundError::TooManyRedirects(0));
    let r = get_with(&exempt, &format!("{base}/loop")).await;
    assert_eq!(r.unwrap_err(), OutboundError::TooManyRedirects(5));
}

/// Bypassing `check_destination` (as a DNS rebind between check and connect would) still
/// cannot connect: the client's resolver refuses private answers at connect time.
#[tokio::test]
async fn the_client_itself_refuses_private_addresses_at_connect_time() {
    let base = server().await;
    let port = Url::parse(&base).unwrap().port().unwrap();
    let client = safe_client(&policy(false)).unwrap();
    let err = client.get(format!("http://localhost:{port}/ok")).send().await.unwrap_err();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        text.push_str(&format!(" / {s}"));
        source = s.source();
    }
    assert!(text.contains("forbidden destination localhost"), "{text}");
}

#[tokio::test]
async fn body_size_and_time_are_bounded() {
    let base = server().await;
    let small = OutboundPolicy { max_body_bytes: 1000, ..policy(true) };
    assert_eq!(get_with(&small, &format!("{base}/big")).await.unwrap_err(), OutboundError::TooLarge(1000));
    let big = get_with(&policy(true), &format!("{base}/big")).await.unwrap();
    assert_eq!(big.body.len(), 10_000);
    let quick = OutboundPolicy { timeout: Duration::from_millis(200), ..policy(true) };
    assert_eq!(get_with(&quick, &format!("{base}/slow")).await.unwrap_err(), OutboundError::Timeout);
    let err = get_with(&policy(true), &format!("{base}/missing")).await.unwrap().error_for_status().unwrap_err();
    assert_eq!(err, OutboundError::Http(StatusCode::NOT_FOUND));
    let ftp = get_with(&policy(true), "ftp://example.com/x").await;
    assert!(matches!(ftp, Err(OutboundError::InvalidUrl(_))));
}
