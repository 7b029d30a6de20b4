//! Search across tenants and replicas on SQLite and PostgreSQL: no query returns another
//! tenant's passage; a deletion on one replica is gone from the other's next search; a new
//! replica rebuilds from the database without re-embedding; hybrid search says what it used.

mod common;

use common::{harness, Engine, WordVectors};
use frontdesk_agent::{EmbedKind, Embedder, EmbedderInfo, ProviderError};
use frontdesk_kernel::TenantId;
use frontdesk_knowledge::model::*;
use frontdesk_knowledge::{Knowledge, KnowledgeConfig};
use frontdesk_store::audit::Actor;
use futures_util::future::BoxFuture;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::Engine::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(super::Engine::Postgres).await;
            }
        }
    };
}

/// Counts the passages it embeds.
struct Counting(AtomicUsize);

impl Embedder for Counting {
    fn info(&self) -> EmbedderInfo {
        WordVectors.info()
    }

    fn embed(&self, texts: Vec<String>, kind: EmbedKind) -> BoxFuture<'_, Result<Vec<Vec<f32>>, ProviderError>> {
        if kind == EmbedKind::Passage {
            self.0.fetch_add(texts.len(), Ordering::SeqCst);
        }
        WordVectors.embed(texts, kind)
    }
}

const GUIDE: &str = "# {name} guide\n\n## Opening hours\n\nWe open at six every morning, {name} welcomes you.\n\n\
                     ## Prices\n\nThe monthly membership costs 29 euros.\n";

both!(tenants_only_ever_see_their_own_passages);
async fn tenants_only_ever_see_their_own_passages(engine: Engine) {
    let h = harness(engine, Some(Arc::new(WordVectors)), |_| {}).await;
    let (a, b) = (TenantId::new(), TenantId::new());
    let (sa, _) = h.file(&a, "guide.md", GUIDE.replace("{name}", "Alpha").as_bytes()).await;
    let (sb, _) = h.file(&b, "guide.md", GUIDE.replace("{name}", "Beta").as_bytes()).await;
    h.embed(&a).await;
    h.embed(&b).await;
    for q in ["when do you open", "membership price", "Alpha", "Beta guide", "six morning welcomes"] {
        for mode in [SearchMode::Bm25, SearchMode::Vector, SearchMode::Hybrid] {
            for (tenant, own, other) in [(&a, &sa, "Beta"), (&b, &sb, "Alpha")] {
                let query = SearchQuery { mode: Some(mode), limit: Some(50), ..SearchQuery::new(q) };
                let r = h.knowledge.search(tenant, query).await.expect("search");
                assert_eq!(r.mode, mode, "{q}: {:?}", r.mode_reason);
                for hit in &r.results {
                    assert_eq!(hit.citation.source_id, own.id, "{q} ({mode:?}) found another tenant's source");
                    assert!(
                        !hit.passage.contains(other) && !hit.citation.document_title.contains(other),
                        "{q}: {hit:?}"
                    );
                }
            }
        }
    }
    // Another tenant's source id as a filter finds nothing, and cannot be deleted.
    let query = SearchQuery { source_ids: vec![sb.id.clone()], ..SearchQuery::new("open") };
    assert!(h.knowledge.search(&a, query).await.expect("search").results.is_empty());
    let err = h.knowledge.delete_source(&a, &sb.id, &Actor::system("test")).await.unwrap_err();
    assert_eq!(err.code(), "not_found");
    assert!(!h.search(&b, "open").await.results.is_empty());
    h.stop().await;
}

both!(deletion_reaches_every_replica_and_new_replicas_rebuild);
async fn deletion_reaches_every_replica_and_new_replicas_rebuild(engine: Engine) {
    let counting = Arc::new(Counting(AtomicUsize::new(0)));
    let h = harness(engine, Some(counting.clone()), |_| {}).await;
    let t = TenantId::new();
    let (guide, _) = h.file(&t, "guide.md", GUIDE.replace("{name}", "Gamma").as_bytes()).await;
    h.file(&t, "sauna.md", b"# Sauna\n\nThe sauna opens in the evening.").await;
    h.embed(&t).await;
    let embedded = counting.0.load(Ordering::SeqCst);
    assert_eq!(embedded, 3);
    // A second replica: its own service and index over the same database.
    let replica = Knowledge::new(h.db.clone(), KnowledgeConfig::default(), Some(counting.clone())).expect("replica");
    let r = replica.search(&t, SearchQuery::new("membership costs")).await.expect("search");
    assert_eq!(r.mode, SearchMode::Hybrid, "{:?}", r.mode_reason);
    assert_eq!(r.mode_reason, None);
    assert_eq!(r.results[0].citation.source_id, guide.id);
    assert_eq!(counting.0.load(Ordering::SeqCst), embedded, "rebuilding from the database embeds nothing");
    let index = replica.index(&t).await.expect("index");
    assert_eq!((index.chunks(), index.vectors()), (3, 3));

    h.knowledge.delete_source(&t, &guide.id, &Actor::system("test")).await.expect("delete");
    let after = replica.search(&t, SearchQuery::new("membership costs opening hours")).await.expect("search");
    assert!(after.results.iter().all(|hit| hit.citation.source_id != guide.id), "{after:?}");
    let index = replica.index(&t).await.expect("index");
    assert_eq!(index.chunks(), 1, "the deleted source's segment is gone; the other is reused");
    h.stop().await;
}

both!(filters_modes_and_reasons);
async fn filters_modes_and_reasons(engine: Engine) {
    let h = harness(engine, Some(Arc::new(WordVectors)), |_| {}).await;
    let t = TenantId::new();
    let actor = Actor::system("test");
    let (guide, _) = h.file(&t, "guide.md", GUIDE.replace("{name}", "Delta").as_bytes()).await;
    let (sauna, _) = h.file(&t, "sauna.md", b"# Sauna\n\nThe sauna opens in the evening.").await;
    let r = h.search(&t, "opens").await;
    assert_eq!(r.mode, SearchMode::Bm25, "nothing embedded yet");
    assert!(r.mode_reason.as_deref().is_some_and(|m| m.contains("waiting to be embedded")), "{:?}", r.mode_reason);
    h.embed(&t).await;
    let r = h.search(&t, "opens").await;
    assert_eq!(r.mode, SearchMode::Hybrid);
    assert!(r.results.iter().any(|x| x.bm25_score.is_some() && x.vector_score.is_some()), "{r:?}");
    let update = UpdateSourceRequest { tags: Some(vec!["Wellness".into()]), ..Default::default() };
    h.knowledge.update_source(&t, &sauna.id, update, &actor).await.expect("tag");
    let tagged = SearchQuery { tags: vec!["wellness".into()], ..SearchQuery::new("opens evening morning") };
    let r = h.knowledge.search(&t, tagged).await.expect("search");
    assert!(!r.results.is_empty() && r.results.iter().all(|x| x.citation.source_id == sauna.id), "{r:?}");
    let only = SearchQuery { source_ids: vec![guide.id.clone()], ..SearchQuery::new("opens evening morning") };
    let r = h.knowledge.search(&t, only).await.expect("search");
    assert!(!r.results.is_empty() && r.results.iter().all(|x| x.citation.source_id == guide.id));
    let err = h.knowledge.search(&t, SearchQuery::new("   ")).await.unwrap_err();
    assert_eq!(err.code(), "validation");
    h.stop().await;
}

#[tokio::test]
async fn indexes_are_evicted_under_the_memory_budget() {
    let h = harness(Engine::Sqlite, None, |_| {}).await;
    let tenants: Vec<TenantId> = (0..4).map(|_| TenantId::new()).collect();
    for t in &tenants {
        h.file(t, "guide.md", GUIDE.replace("{name}", "Epsilon").as_bytes()).await;
    }
    let one = h.knowledge.index(&tenants[0]).await.expect("index").bytes();
    let small =
        Knowledge::new(h.db.clone(), KnowledgeConfig { index_budget_bytes: one * 2, ..Default::default() }, None)
            .expect("service");
    for t in &tenants {
        assert!(!small.search(t, SearchQuery::new("open")).await.expect("search").results.is_empty());
    }
    let stats = small.cache_stats();
    assert_eq!(stats.tenants, 2, "{stats:?}");
    assert!(stats.bytes <= stats.budget);
    h.stop().await;
}
