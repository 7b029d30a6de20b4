//! Test harness: a fresh SQLite file or PostgreSQL database with the knowledge schema, the
//! service with a small deterministic embedder, and a local web server for URL sources.
#![allow(dead_code)]

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use frontdesk_agent::{EmbedKind, Embedder, EmbedderInfo, ProviderError};
use frontdesk_kernel::TenantId;
use frontdesk_knowledge::model::*;
use frontdesk_knowledge::{IngestOutcome, Knowledge, KnowledgeConfig, Upload};
use frontdesk_store::audit::Actor;
use frontdesk_store::testing::TestDb;
use frontdesk_store::Db;
use futures_util::future::BoxFuture;
use std::net::SocketAddr;
use std::sync::Arc;

#[derive(Clone, Copy, Debug)]
pub enum Engine {
    Sqlite,
    Postgres,
}

pub struct Harness {
    pub db: Db,
    pub knowledge: Knowledge,
    test_db: TestDb,
}

/// Words to a fixed direction each, summed and normalised: texts sharing words are close. A
/// real `Embedder` (not a stand-in for our code) that needs no model file.
pub struct WordVectors;

impl Embedder for WordVectors {
    fn info(&self) -> EmbedderInfo {
        EmbedderInfo { model: "test:word-vectors-64".into(), dimensions: 64 }
    }

    fn embed(&self, texts: Vec<String>, _kind: EmbedKind) -> BoxFuture<'_, Result<Vec<Vec<f32>>, ProviderError>> {
        Box::pin(async move {
            Ok(texts
                .iter()
                .map(|t| {
                    let mut v = vec![0f32; 64];
                    for w in frontdesk_knowledge::text::tokens(t) {
                        let mut h =
                            w.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3));
                        for x in v.iter_mut() {
                            h ^= h << 13;
                            h ^= h >> 7;
                            h ^= h << 17;
                            *x += (h >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
                        }
                    }
                    frontdesk_agent::embeddings::normalize(&mut v);
                    v
                })
                .collect())
        })
    }
}

pub async fn harness(
    engine: Engine,
    embedder: Option<Arc<dyn Embedder>>,
    tweak: impl FnOnce(&mut KnowledgeConfig),
) -> Harness {
    let migrations = [frontdesk_store::MIGRATIONS, frontdesk_knowledge::MIGRATIONS].concat();
    let postgres = matches!(engine, Engine::Postgres);
    let test_db = TestDb::create(postgres, "kn", &migrations, |c| c.sqlite_synchronous = "NORMAL".into())
        .await
        .expect("test database");
    let db = test_db.db.clone();
    let mut kc = KnowledgeConfig::default();
    kc.outbound.allow_hosts = vec!["127.0.0.1".into()];
    kc.outbound.timeout = std::time::Duration::from_secs(5);
    tweak(&mut kc);
    let knowledge = Knowledge::new(db.clone(), kc, embedder).expect("service");
    Harness { db, knowledge, test_db }
}

impl Harness {
    pub async fn stop(self) {
        self.test_db.drop_database().await.expect("drop the test database");
    }

    /// Uploads a file and ingests it now.
    pub async fn file(&self, tenant: &TenantId, name: &str, body: &[u8]) -> (Source, IngestOutcome) {
        let upload =
            Upload { filename: name.into(), content_type: None, body: body.to_vec(), title: None, tags: Vec::new() };
        let (source, _) = self.knowledge.upload(tenant, upload, &Actor::system("test")).await.expect("upload");
        let outcome = self.knowledge.ingest(tenant, &source.id, None).await.expect("ingest");
        (self.knowledge.source(tenant, &source.id).await.expect("source"), outcome)
    }

    /// Adds a URL or catalog source and ingests it now.
    pub async fn url(
        &self,
        tenant: &TenantId,
        kind: &str,
        url: &str,
        max_pages: Option<u32>,
    ) -> (Source, IngestOutcome) {
        let req = CreateSourceRequest {
            kind: kind.into(),
            title: None,
            url: Some(url.into()),
            text: None,
            format: None,
            tags: Vec::new(),
            max_pages,
            max_depth: None,
            refresh_minutes: None,
        };
        let source = self.knowledge.create_source(tenant, req, &Actor::system("test")).await.expect("create");
        let outcome = self.knowledge.ingest(tenant, &source.id, None).await.expect("ingest");
        (self.knowledge.source(tenant, &source.id).await.expect("source"), outcome)
    }

    pub async fn search(&self, tenant: &TenantId, q: &str) -> SearchResults {
        self.knowledge.search(tenant, SearchQuery::new(q)).await.expect("search")
    }

    pub async fn embed(&self, tenant: &TenantId) {
        self.knowledge.embed_pending(tenant, None, &|_, _| {}).await.expect("embed");
    }
}

/// A local site: pages with links, a redirect to a private address, a huge page, catalogs.
pub async fn site() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let html = |body: String| ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
    let app = axum::Router::new()
        .route("/help/", get(move || async move {
            html("<html><head><title>Help</title></head><body><nav><a href='/'>Home</a></nav>\
                  <h1>Help centre</h1><p>Read about <a href='hours.html'>opening hours</a> and \
                  <a href='/help/prices.html'>prices</a>, or the <a href='/blog/news.html'>blog</a>.</p>\
                  <a href='/help/missing.html'>old page</a></body></html>".into())
        }))
        .route("/help/hours.html", get(move || async move {
            html("<h1>Opening hours</h1><p>The studio opens at six in the morning on weekdays.</p>".into())
        }))
        .route("/help/prices.html", get(move || async move {
            html("<h1>Prices</h1><table><tr><th>Plan</th><th>Price</th></tr><tr><td>Basic</td><td>29 euros</td></tr></table>".into())
        }))
        .route("/blog/news.html", get(move || async move { html("<p>Blog text that must not be crawled.</p>".into()) }))
        .route("/broken.html", get(move || async move {
            html("<html><body><h2>Sauna <b>rules<p>Bring a towel</div></span><<table><tr><td>Unclosed cell".into())
        }))
        .route("/to-private", get(move || async move { Redirect::temporary("http://10.0.0.1/secret") }))
        .route("/to-localhost", get(move || async move { Redirect::temporary(&format!("http://localhost:{}/help/", addr.port())) }))
        .route("/to-metadata", get(move || async move { Redirect::temporary("http://169.254.169.254/latest/meta-data/") }))
        .route("/huge.html", get(move || async move { html(format!("<p>{}</p>", "big ".repeat(3_000_000))) }))
        .route("/catalog.json", get(move || async move {
            (
                [(header::CONTENT_TYPE, "application/json")],
                r#"{"products": [
                    {"id": "mat", "name": "Cork yoga mat", "description": "Non-slip cork mat, 4 mm.", "price": 59.9, "currency": "EUR"},
                    {"id": "towel", "name": "", "price": 9, "currency": "EUR"},
                    {"id": "bottle", "name": "Steel bottle", "price": "12.5", "currency": "EUR", "image": "https://cdn.example/b.png"},
                    {"id": "card", "name": "Gift card", "price": 1.234, "currency": "EUR"}
                ]}"#,
            )
                .into_response()
        }))
        .route("/not-json.json", get(move || async move { "this is not json" }))
        .route("/gone", get(move || async move { StatusCode::NOT_FOUND.into_response() }));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// A PDF with one page per text (Helvetica), and a title.
pub fn pdf(title: &str, pages: &[&str]) -> Vec<u8> {
    use lopdf::content::{Content, Operation};
    use lopdf::{dictionary, Document, Object, Stream};
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica" });
    let resources_id = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
    let mut kids = Vec::new();
    for text in pages {
        let mut ops = vec![Operation::new("BT", vec![]), Operation::new("Tf", vec!["F1".into(), 12.into()])];
        let mut y = 760;
        for line in text.lines() {
            ops.push(Operation::new("Td", vec![0.into(), 0.into()]));
            ops.push(Operation::new("Tm", vec![1.into(), 0.into(), 0.into(), 1.into(), 72.into(), y.into()]));
            ops.push(Operation::new("Tj", vec![Object::string_literal(line)]));
            y -= 16;
        }
        ops.push(Operation::new("ET", vec![]));
        let content = Content { operations: ops };
        let content_id = doc.add_object(Stream::new(dictionary! {}, content.encode().expect("encode")));
        let page_id = doc.add_object(dictionary! { "Type" => "Page", "Parent" => pages_id, "Contents" => content_id });
        kids.push(page_id.into());
    }
    let count = kids.len() as i64;
    let pages = dictionary! {
        "Type" => "Pages", "Kids" => kids, "Count" => count, "Resources" => resources_id,
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
    };
    doc.objects.insert(pages_id, Object::Dictionary(pages));
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    let info_id = doc.add_object(dictionary! { "Title" => Object::string_literal(title) });
    doc.trailer.set("Root", catalog_id);
    doc.trailer.set("Info", info_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("save pdf");
    out
}
