//! Ingestion of every source type against a real database and a local web server: files
//! (Markdown, text, HTML, PDF, malformed and huge ones), pages and site sections, redirects to
//! private addresses, catalogs with bad items, FAQ entries; re-ingesting unchanged content.

mod common;

use common::{harness, pdf, site, Engine};
use frontdesk_kernel::TenantId;
use frontdesk_knowledge::model::*;
use frontdesk_knowledge::{IngestOutcome, Upload};
use frontdesk_store::audit::Actor;

#[tokio::test]
async fn markdown_text_and_html_files_are_searchable_with_citations() {
    let h = harness(Engine::Sqlite, None, |_| {}).await;
    let t = TenantId::new();
    let md = "# Studio guide\n\n## Prices\n\n| Plan | Price |\n|---|---|\n| Basic | 29 euros |\n\n## Showers\n\nTowels are free for members.\n";
    let (src, outcome) = h.file(&t, "guide.md", md.as_bytes()).await;
    assert_eq!(outcome, IngestOutcome::Updated { documents: 1, chunks: 2 });
    assert_eq!((src.status, src.version, src.chunks), (SourceStatus::Ready, 1, 2));
    assert_eq!(src.title, "guide.md");
    h.file(&t, "notes.txt", b"Parking is behind the building.\n\nBikes go in the yard.").await;
    h.file(
        &t,
        "page.html",
        b"<title>Sauna</title><nav>Menu</nav><h1>Sauna</h1><p>The sauna is hot.</p><script>evil()</script>",
    )
    .await;

    let r = h.search(&t, "how much is the basic plan").await;
    assert_eq!(r.mode, SearchMode::Bm25);
    assert!(r.mode_reason.as_deref().is_some_and(|m| m.contains("no embedding model")), "{:?}", r.mode_reason);
    let top = &r.results[0];
    assert_eq!(top.citation.locator, "guide.md");
    assert_eq!(top.citation.document_title, "Studio guide");
    assert_eq!(top.citation.section, "Studio guide › Prices");
    assert!(top.passage.contains("Basic | 29 euros"), "{}", top.passage);
    assert_eq!(h.search(&t, "where can I park").await.results[0].citation.locator, "notes.txt");
    let sauna = h.search(&t, "sauna").await;
    assert_eq!(sauna.results[0].citation.document_title, "Sauna");
    assert!(h.search(&t, "menu evil").await.results.is_empty(), "navigation and scripts are dropped");
    h.stop().await;
}

#[tokio::test]
async fn unchanged_content_is_a_no_op_and_a_change_is_a_new_version() {
    let h = harness(Engine::Sqlite, None, |_| {}).await;
    let t = TenantId::new();
    let (first, _) = h.file(&t, "faq.md", b"# FAQ\n\nWe open at six.").await;
    let generation = h.knowledge.index(&t).await.expect("index").generation;
    let (again, outcome) = h.file(&t, "faq.md", b"# FAQ\n\nWe open at six.").await;
    assert_eq!(outcome, IngestOutcome::Unchanged);
    assert_eq!((again.id.clone(), again.version), (first.id.clone(), 1));
    assert_eq!(h.knowledge.index(&t).await.expect("index").generation, generation, "nothing to reload");
    let (changed, outcome) = h.file(&t, "faq.md", b"# FAQ\n\nWe open at seven.").await;
    assert!(matches!(outcome, IngestOutcome::Updated { .. }));
    assert_eq!((changed.id, changed.version), (first.id, 2));
    assert!(h.search(&t, "seven").await.results[0].passage.contains("seven"));
    assert!(h.search(&t, "six").await.results.is_empty(), "the old version is gone");
    h.stop().await;
}

#[tokio::test]
async fn pdfs_are_read_page_by_page_and_broken_ones_fail_clearly() {
    let h = harness(Engine::Sqlite, None, |_| {}).await;
    let t = TenantId::new();
    let file = pdf("House rules", &["Welcome to the studio.", "Lockers must be emptied every evening."]);
    let (src, outcome) = h.file(&t, "rules.pdf", &file).await;
    assert!(matches!(outcome, IngestOutcome::Updated { documents: 1, .. }), "{outcome:?} {:?}", src.error);
    let r = h.search(&t, "lockers emptied").await;
    assert_eq!(r.results[0].citation.section, "p. 2");
    assert_eq!(r.results[0].citation.document_title, "House rules");

    let mut truncated = file.clone();
    truncated.truncate(file.len() / 3);
    let (bad, outcome) = h.file(&t, "broken.pdf", &truncated).await;
    assert!(matches!(outcome, IngestOutcome::Failed { transient: false, .. }), "{outcome:?}");
    assert_eq!(bad.status, SourceStatus::Failed);
    assert!(bad.error.as_deref().is_some_and(|e| e.contains("PDF")), "{:?}", bad.error);
    let (garbage, _) = h.file(&t, "garbage.pdf", b"%PDF-1.7\n\x00\x01\x02 not really").await;
    assert_eq!(garbage.status, SourceStatus::Failed);
    h.stop().await;
}

#[tokio::test]
async fn unsupported_empty_and_huge_uploads_are_refused() {
    let h = harness(Engine::Sqlite, None, |c| c.max_upload_bytes = 64 * 1024).await;
    let t = TenantId::new();
    let upload = |name: &str, body: Vec<u8>| Upload {
        filename: name.into(),
        content_type: None,
        body,
        title: None,
        tags: vec![],
    };
    let actor = Actor::system("test");
    let err = h.knowledge.upload(&t, upload("photo.png", b"\x89PNG\r\n".to_vec()), &actor).await.unwrap_err();
    assert_eq!(err.code(), "unsupported_format");
    let err = h.knowledge.upload(&t, upload("big.txt", vec![b'a'; 65 * 1024]), &actor).await.unwrap_err();
    assert_eq!(err.code(), "payload_too_large");
    let err = h.knowledge.upload(&t, upload("empty.md", Vec::new()), &actor).await.unwrap_err();
    assert_eq!(err.code(), "validation");
    let (src, outcome) = h.file(&t, "blank.md", b"   \n\n  ").await;
    assert!(matches!(outcome, IngestOutcome::Failed { .. }));
    assert!(src.error.as_deref().is_some_and(|e| e.contains("no text")), "{:?}", src.error);
    h.stop().await;
}

#[tokio::test]
async fn a_site_section_is_crawled_within_scope() {
    let addr = site().await;
    let h = harness(Engine::Sqlite, None, |_| {}).await;
    let t = TenantId::new();
    let (src, outcome) = h.url(&t, "url", &format!("http://127.0.0.1:{}/help/", addr.port()), Some(10)).await;
    assert_eq!(outcome, IngestOutcome::Updated { documents: 3, chunks: 3 }, "{:?}", src.warnings);
    assert_eq!(src.progress, Progress { done: 4, total: 4 }, "pages tried, the missing one included");
    assert!(src.warnings.iter().any(|w| w.contains("missing.html") && w.contains("404")), "{:?}", src.warnings);
    let r = h.search(&t, "when does the studio open").await;
    assert!(r.results[0].citation.locator.ends_with("/help/hours.html"), "{:?}", r.results[0].citation);
    assert!(h.search(&t, "crawled").await.results.is_empty(), "links outside the section are not followed");
    let (single, _) = h.url(&t, "url", &format!("http://127.0.0.1:{}/help/prices.html", addr.port()), None).await;
    assert_eq!(single.documents, 1);
    h.stop().await;
}

#[tokio::test]
async fn malformed_html_pages_still_yield_their_text() {
    let addr = site().await;
    let h = harness(Engine::Sqlite, None, |_| {}).await;
    let t = TenantId::new();
    let (src, _) = h.url(&t, "url", &format!("http://127.0.0.1:{}/broken.html", addr.port()), None).await;
    assert_eq!(src.status, SourceStatus::Ready, "{:?}", src.error);
    assert!(!h.search(&t, "towel").await.results.is_empty());
    h.stop().await;
}

#[tokio::test]
async fn redirects_to_private_addresses_and_huge_pages_are_refused() {
    let addr = site().await;
    let h = harness(Engine::Sqlite, None, |c| c.outbound.max_body_bytes = 1024 * 1024).await;
    let t = TenantId::new();
    for (path, expect) in [
        ("/to-private", "10.0.0.1"),
        ("/to-localhost", "localhost"),
        ("/to-metadata", "169.254.169.254"),
        ("/huge.html", "larger than"),
        ("/gone", "404"),
    ] {
        let (src, outcome) = h.url(&t, "url", &format!("http://127.0.0.1:{}{path}", addr.port()), None).await;
        assert_eq!(src.status, SourceStatus::Failed, "{path}");
        let error = src.error.clone().unwrap_or_default();
        assert!(error.contains(expect), "{path}: {error}");
        assert!(matches!(outcome, IngestOutcome::Failed { transient: false, .. }), "{path}: {outcome:?}");
    }
    // Saving a private URL is refused before anything is fetched.
    let req = CreateSourceRequest {
        kind: "url".into(),
        title: None,
        url: Some("http://192.168.1.10/admin".into()),
        text: None,
        format: None,
        tags: vec![],
        max_pages: None,
        max_depth: None,
        refresh_minutes: None,
    };
    let err = h.knowledge.create_source(&t, req, &Actor::system("test")).await.unwrap_err();
    assert_eq!(err.code(), "validation");
    assert!(err.to_string().contains("private network"), "{err}");
    h.stop().await;
}

#[tokio::test]
async fn catalogs_keep_good_items_and_report_bad_ones() {
    let addr = site().await;
    let h = harness(Engine::Sqlite, None, |_| {}).await;
    let t = TenantId::new();
    let url = format!("http://127.0.0.1:{}/catalog.json", addr.port());
    let (src, outcome) = h.url(&t, "catalog", &url, None).await;
    assert_eq!(outcome, IngestOutcome::Updated { documents: 2, chunks: 2 });
    assert_eq!(src.refresh_every_minutes, Some(1440), "catalogs refresh daily by default");
    assert!(src.next_refresh_at.is_some());
    assert_eq!(src.warnings.len(), 2, "{:?}", src.warnings);
    assert!(src.warnings[0].contains("item 1 (id towel): name is missing"), "{:?}", src.warnings);
    assert!(src.warnings[1].contains("decimals"), "{:?}", src.warnings);
    let r = h.search(&t, "cork mat price").await;
    assert_eq!(r.results[0].citation.document_title, "Cork yoga mat");
    assert!(r.results[0].passage.contains("Price: 59.90 EUR"), "{}", r.results[0].passage);
    assert_eq!(r.results[0].citation.locator, format!("{url}#mat"));
    // A refresh of the same catalog changes nothing.
    assert_eq!(h.knowledge.ingest(&t, &src.id, None).await.expect("refresh"), IngestOutcome::Unchanged);
    let (bad, _) = h.url(&t, "catalog", &format!("http://127.0.0.1:{}/not-json.json", addr.port()), None).await;
    assert_eq!(bad.status, SourceStatus::Failed);
    assert!(bad.error.as_deref().is_some_and(|e| e.contains("not valid JSON")), "{:?}", bad.error);
    h.stop().await;
}

#[tokio::test]
async fn faq_entries_are_searchable_at_once_and_gaps_become_faq() {
    let h = harness(Engine::Sqlite, None, |_| {}).await;
    let t = TenantId::new();
    let actor = Actor::system("test");
    let entry = h
        .knowledge
        .create_faq(
            &t,
            FaqRequest { question: "Can I bring my dog?".into(), answer: "Dogs wait outside.".into() },
            &actor,
        )
        .await
        .expect("faq");
    let r = h.search(&t, "dog").await;
    assert_eq!(r.results[0].citation.section, "Can I bring my dog?");
    assert_eq!(r.results[0].citation.source_kind, SourceKind::Faq);
    h.knowledge
        .update_faq(
            &t,
            &entry.id,
            FaqRequest { question: "Can I bring my cat?".into(), answer: "Cats wait outside.".into() },
            &actor,
        )
        .await
        .expect("update");
    assert!(h.search(&t, "dog").await.results.is_empty());
    assert_eq!(h.search(&t, "cat").await.results.len(), 1);

    let g1 = h.knowledge.record_gap(&t, "Do you have parking?", Some("cnv_1".into())).await.expect("gap");
    let g2 = h.knowledge.record_gap(&t, "do you have PARKING", None).await.expect("gap");
    assert_eq!((g1.id.clone(), g2.asked), (g2.id.clone(), 2));
    assert_eq!(g2.conversation_ref.as_deref(), Some("cnv_1"));
    let faq = h
        .knowledge
        .accept_gap(&t, &g1.id, AcceptGapRequest { question: None, answer: "Yes, behind the building.".into() }, &actor)
        .await
        .expect("accept");
    assert_eq!(faq.question, "Do you have parking?");
    assert!(h.knowledge.gaps(&t, GapStatus::Open, 10).await.expect("gaps").is_empty());
    assert_eq!(h.search(&t, "parking").await.results[0].passage, "Yes, behind the building.");
    h.knowledge.delete_faq(&t, &faq.id, &actor).await.expect("delete");
    assert!(h.search(&t, "parking").await.results.is_empty());
    let faq_source = h.knowledge.sources(&t, None, 10).await.expect("sources");
    assert_eq!(faq_source[0].chunks, 1, "counts follow the entries");
    h.stop().await;
}
