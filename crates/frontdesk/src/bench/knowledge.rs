//! `frontdesk bench search`: the knowledge base's retrieval quality on the bundled question set
//! (BM25 alone, vectors alone, hybrid; overall, by language and by kind), the fusion's vector
//! weight on each half of the questions, the calibration of the hits' `confidence`, search
//! latency at growing index sizes, and ingestion throughput. Runs on a temporary SQLite
//! database; tenants are the benchmark's own.

use super::{cores, percentile_ms, temp_dir};
use crate::app::{self, AppError};
use crate::config::Config;
use frontdesk_agent::{EmbedKind, Embedder, EmbedderInfo, ProviderError};
use frontdesk_kernel::{Error, TenantId};
use frontdesk_knowledge::cli::ProgressBar;
use frontdesk_knowledge::eval::{self, BenchData, Evaluation, Question, Scores};
use frontdesk_knowledge::model::{SearchMode, SearchQuery};
use frontdesk_knowledge::{Knowledge, KnowledgeConfig, Upload, ANSWERABLE_CONFIDENCE};
use frontdesk_store::audit::Actor;
use futures_util::future::BoxFuture;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MODES: [SearchMode; 3] = [SearchMode::Bm25, SearchMode::Vector, SearchMode::Hybrid];
/// Searches per latency measurement (after a warm-up search that loads the index).
const LATENCY_QUERIES: usize = 300;

pub async fn search(config: &Config, data: Option<PathBuf>, sizes: &str, no_vectors: bool) -> Result<(), AppError> {
    println!("Frontdesk knowledge search benchmark ({} cores)\n", cores());
    let sizes: Vec<usize> = sizes
        .split(',')
        .map(|s| s.trim().parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|_| Error::field("sizes", "invalid", "Give passage counts like 1000,10000,100000."))?;
    let embedder = if no_vectors { None } else { app::embedder(config) };
    let dir = temp_dir("frontdesk-bench-knowledge-");
    let bench_config = Config { data_dir: dir.clone(), database_url: None, ..config.clone() };
    let db = app::open_db(&bench_config).await?;
    let result = async {
        quality(db.clone(), data, embedder.clone()).await?;
        latency(db.clone(), &sizes).await?;
        if let Some(e) = &embedder {
            embedding_speed(e.as_ref()).await?;
        }
        Ok::<_, AppError>(())
    }
    .await;
    db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Imports documents as files of one tenant, ingesting each now; returns passages per second.
async fn import(k: &Knowledge, tenant: &TenantId, docs: Vec<(String, String)>) -> Result<(usize, f64), AppError> {
    let started = Instant::now();
    let mut chunks = 0;
    let bar = ProgressBar::new("ingesting");
    let total = docs.len() as u64;
    for (i, (name, text)) in docs.into_iter().enumerate() {
        let upload =
            Upload { filename: name, content_type: None, body: text.into_bytes(), title: None, tags: Vec::new() };
        let (source, _) = k.upload(tenant, upload, &Actor::system("bench")).await?;
        if let frontdesk_knowledge::IngestOutcome::Updated { chunks: n, .. } =
            k.ingest(tenant, &source.id, None).await?
        {
            chunks += n;
        }
        bar.update(i as u64 + 1, total);
    }
    bar.finish(total, total);
    Ok((chunks, chunks as f64 / started.elapsed().as_secs_f64()))
}

/// Remembers what the model embedded: the vector-weight sweep and the calibration ask the same
/// questions many times, and the model's answer for a text never changes.
struct Memo {
    model: Arc<dyn Embedder>,
    vectors: Mutex<HashMap<(EmbedKind, String), Vec<f32>>>,
}

impl Memo {
    fn recall(&self, kind: EmbedKind, text: &str) -> Option<Vec<f32>> {
        self.vectors.lock().unwrap_or_else(|e| e.into_inner()).get(&(kind, text.to_owned())).cloned()
    }
}

impl Embedder for Memo {
    fn info(&self) -> EmbedderInfo {
        self.model.info()
    }

    fn embed(&self, texts: Vec<String>, kind: EmbedKind) -> BoxFuture<'_, Result<Vec<Vec<f32>>, ProviderError>> {
        Box::pin(async move {
            let mut missing: Vec<String> = texts.iter().filter(|t| self.recall(kind, t).is_none()).cloned().collect();
            missing.dedup();
            if !missing.is_empty() {
                let vectors = self.model.embed(missing.clone(), kind).await?;
                let mut memo = self.vectors.lock().unwrap_or_else(|e| e.into_inner());
                memo.extend(missing.into_iter().map(|t| (kind, t)).zip(vectors));
            }
            texts
                .iter()
                .map(|t| self.recall(kind, t))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| ProviderError::Malformed("the model returned fewer vectors than texts".into()))
        })
    }
}

/// One business of the question set, indexed as its own tenant.
struct Business<'a> {
    name: &'a str,
    tenant: TenantId,
}

/// Which half of the question set a question is in (alternating in file order): the fusion's
/// weight is chosen on the first half and checked on the second.
fn half(set: &BenchData, q: &Question) -> usize {
    set.questions.iter().position(|x| x.id == q.id).unwrap_or(0) % 2
}

/// The top `RANK_K` results of one search, judged.
async fn judged(k: &Knowledge, tenant: &TenantId, q: &Question, mode: SearchMode) -> Result<eval::Judged, AppError> {
    let query = SearchQuery { limit: Some(eval::RANK_K as u32), mode: Some(mode), ..SearchQuery::new(&q.question) };
    let results = k.search(tenant, query).await?;
    if results.mode != mode {
        let why = format!("{} search ran as {:?}: {:?}", mode.as_str(), results.mode, results.mode_reason);
        return Err(Error::internal(why).into());
    }
    let ranked = results.results.iter().map(|h| (h.citation.locator.as_str(), h.passage.as_str()));
    Ok(eval::judge(q, ranked))
}

fn row(s: &Scores) -> String {
    format!("{:.3} {:.3} {:.3}", s.recall_at_5, s.mrr_at_10, s.ndcg_at_10)
}

async fn quality(
    db: frontdesk_store::Db,
    data: Option<PathBuf>,
    embedder: Option<Arc<dyn Embedder>>,
) -> Result<(), AppError> {
    let dir = data.unwrap_or_else(|| PathBuf::from(eval::BENCHDATA_DIR));
    let set = tokio::task::spawn_blocking(move || BenchData::load(&dir))
        .await
        .map_err(Error::internal)?
        .map_err(|e| Error::bad_request("benchdata", e.to_string()))?;
    let embedder: Option<Arc<dyn Embedder>> =
        embedder.map(|model| Arc::new(Memo { model, vectors: Mutex::new(HashMap::new()) }) as Arc<dyn Embedder>);
    let k = Knowledge::new(db.clone(), KnowledgeConfig::default(), embedder.clone()).map_err(Error::internal)?;
    let modes: Vec<SearchMode> = if embedder.is_some() { MODES.to_vec() } else { vec![SearchMode::Bm25] };
    let mut evaluations: Vec<Evaluation> = modes.iter().map(|_| Evaluation::default()).collect();
    let mut halves: Vec<[Evaluation; 2]> = modes.iter().map(|_| Default::default()).collect();
    let mut all_passages: Vec<(String, String)> = Vec::new();
    let mut businesses = Vec::new();
    println!("Retrieval quality: {} documents, {} questions", set.docs.len(), set.questions.len());
    for name in set.businesses() {
        let tenant = TenantId::new();
        let docs: Vec<(String, String)> = set.docs_of(name).map(|d| (d.path.clone(), d.text.clone())).collect();
        let (chunks, _) = import(&k, &tenant, docs).await?;
        if embedder.is_some() {
            let bar = ProgressBar::new(format!("embedding {name}"));
            let report = k.embed_pending(&tenant, None, &|d, t| bar.update(d, t)).await?;
            bar.finish(report.embedded, report.embedded);
        }
        all_passages.extend(k.all_passages(&tenant).await?);
        println!("  {name}: {chunks} passages");
        for q in set.questions_of(name) {
            for (i, mode) in modes.iter().enumerate() {
                let j = judged(&k, &tenant, q, *mode).await?;
                evaluations[i].record(q, &j);
                halves[i][half(&set, q)].record(q, &j);
            }
        }
        businesses.push(Business { name, tenant });
    }
    let unreachable = set.unreachable(all_passages.iter().map(|(d, t)| (d.as_str(), t.as_str())));
    if !unreachable.is_empty() {
        let list: Vec<String> = unreachable.iter().map(|(q, d)| format!("{q} ({d})")).collect();
        println!("  passages cut by the chunker (no method can find them): {}", list.join(", "));
    }
    println!("\n{:<28} {:>9} {:>8} {:>8}", "method", "Recall@5", "MRR@10", "nDCG@10");
    for (mode, e) in modes.iter().zip(&evaluations) {
        let s = e.overall();
        println!("{:<28} {:>9.3} {:>8.3} {:>8.3}", mode.as_str(), s.recall_at_5, s.mrr_at_10, s.ndcg_at_10);
    }
    let header: String = modes.iter().map(|m| format!("{:<20}", m.as_str())).collect();
    println!("\nBreakdown (Recall@5 MRR@10 nDCG@10)\n{:<28} {header}", "");
    let lines = |of: &dyn Fn(&Evaluation) -> Vec<(String, Scores)>| {
        let columns: Vec<Vec<(String, Scores)>> = evaluations.iter().map(of).collect();
        for (i, (label, s)) in columns[0].iter().enumerate() {
            let cells: String = columns.iter().map(|c| format!("{:<20}", row(&c[i].1))).collect();
            println!("  {:<26} {cells}", format!("{label} ({})", s.questions));
        }
    };
    lines(&|e| e.by_lang().into_iter().map(|(l, s)| (l.to_string(), s)).collect());
    lines(&|e| e.by_kind().into_iter().map(|(k, s)| (k.to_string(), s)).collect());
    for (i, h) in ["first", "second"].iter().enumerate() {
        let cells: String = halves.iter().map(|e| format!("{:<20}", row(&e[i].overall()))).collect();
        println!("  {:<26} {cells}", format!("{h} half ({})", halves[0][i].overall().questions));
    }
    let Some(embedder) = embedder else {
        println!("(vectors and hybrid skipped: no embedding model; set embedding_provider = \"embedded\")\n");
        return Ok(());
    };
    let (bm25, vector, hybrid) = (evaluations[0].overall(), evaluations[1].overall(), evaluations[2].overall());
    let beats = |a: &Scores, b: &Scores| {
        a.recall_at_5 > b.recall_at_5 && a.mrr_at_10 > b.mrr_at_10 && a.ndcg_at_10 > b.ndcg_at_10
    };
    println!(
        "hybrid beats BM25 and vectors on all three metrics: {}",
        if beats(&hybrid, &bm25) && beats(&hybrid, &vector) { "yes" } else { "NO" }
    );
    sweep(&db, &set, &businesses, &embedder).await?;
    calibration(&k, &set, &businesses).await?;
    Ok(())
}

/// The fused score's vector weight α from 0 (BM25) to 1 (vectors) on each half of the questions.
async fn sweep(
    db: &frontdesk_store::Db,
    set: &BenchData,
    businesses: &[Business<'_>],
    embedder: &Arc<dyn Embedder>,
) -> Result<(), AppError> {
    let configured = {
        let c = KnowledgeConfig::default();
        c.vector_weight / (c.bm25_weight + c.vector_weight)
    };
    println!("\nVector weight α of the hybrid score (Recall@5 MRR@10 nDCG@10; * = configured)");
    println!("  {:<6} {:<20}{:<20}{:<20}", "α", "first half", "second half", "all");
    for step in 0..=10 {
        let alpha = step as f32 / 10.0;
        let config = KnowledgeConfig { bm25_weight: 1.0 - alpha, vector_weight: alpha, ..KnowledgeConfig::default() };
        let k = Knowledge::new(db.clone(), config, Some(embedder.clone())).map_err(Error::internal)?;
        let (mut halves, mut all) = (<[Evaluation; 2]>::default(), Evaluation::default());
        for b in businesses {
            for q in set.questions_of(b.name) {
                let j = judged(&k, &b.tenant, q, SearchMode::Hybrid).await?;
                halves[half(set, q)].record(q, &j);
                all.record(q, &j);
            }
        }
        let mark = if (alpha - configured).abs() < 1e-3 { "*" } else { "" };
        println!(
            "  {:<6} {:<20}{:<20}{:<20}",
            format!("{alpha:.1}{mark}"),
            row(&halves[0].overall()),
            row(&halves[1].overall()),
            row(&all.overall())
        );
    }
    Ok(())
}

/// How well the top hit's `confidence` tells answerable questions from unanswerable ones.
/// Positives: a question's top hit in its own business is relevant. Negatives: its top hit is
/// not, and every question asked against the other business (that has no answer).
async fn calibration(k: &Knowledge, set: &BenchData, businesses: &[Business<'_>]) -> Result<(), AppError> {
    for mode in [SearchMode::Hybrid, SearchMode::Bm25] {
        let mut points: Vec<(f32, bool, usize)> = Vec::new();
        for b in businesses {
            for q in &set.questions {
                let query = SearchQuery { limit: Some(1), mode: Some(mode), ..SearchQuery::new(&q.question) };
                let results = k.search(&b.tenant, query).await?;
                let Some(top) = results.results.first() else {
                    points.push((0.0, false, half(set, q)));
                    continue;
                };
                let answered = q.business() == Some(b.name) && q.is_relevant(&top.citation.locator, &top.passage);
                points.push((top.confidence, answered, half(set, q)));
            }
        }
        print_calibration(mode, &points);
    }
    Ok(())
}

/// Precision, recall and F1 of "answerable" at `threshold`.
fn f1_at(points: &[(f32, bool, usize)], threshold: f32) -> (f64, f64, f64) {
    let tp = points.iter().filter(|p| p.0 >= threshold && p.1).count() as f64;
    let fp = points.iter().filter(|p| p.0 >= threshold && !p.1).count() as f64;
    let missed = points.iter().filter(|p| p.0 < threshold && p.1).count() as f64;
    let precision = if tp + fp > 0.0 { tp / (tp + fp) } else { 0.0 };
    let recall = if tp + missed > 0.0 { tp / (tp + missed) } else { 0.0 };
    let f1 = if tp > 0.0 { 2.0 * tp / (2.0 * tp + fp + missed) } else { 0.0 };
    (precision, recall, f1)
}

fn print_calibration(mode: SearchMode, points: &[(f32, bool, usize)]) {
    let positives = points.iter().filter(|p| p.1).count();
    println!(
        "\nConfidence of the top {} hit: {} questions x {} indexes, {positives} answerable",
        mode.as_str(),
        points.len() / 2,
        2
    );
    println!("  {:<12} {:>5} {:>12} {:>10}", "confidence", "hits", "mean conf.", "answered");
    for bin in 0..10 {
        let (lo, hi) = (bin as f32 / 10.0, (bin + 1) as f32 / 10.0);
        let inside: Vec<_> = points.iter().filter(|p| p.0 >= lo && (p.0 < hi || bin == 9)).collect();
        if inside.is_empty() {
            continue;
        }
        let n = inside.len() as f64;
        let mean = inside.iter().map(|p| f64::from(p.0)).sum::<f64>() / n;
        let rate = inside.iter().filter(|p| p.1).count() as f64 / n;
        println!("  {:<12} {:>5} {:>12.2} {:>10.2}", format!("{lo:.1}-{hi:.1}"), inside.len(), mean, rate);
    }
    let brier = points.iter().map(|p| (f64::from(p.0) - f64::from(u8::from(p.1))).powi(2)).sum::<f64>()
        / points.len().max(1) as f64;
    let best = (1..100).map(|t| t as f32 / 100.0).map(|t| (t, f1_at(points, t).2)).fold((0.0, 0.0), |best, (t, f)| {
        if f > best.1 + 1e-12 {
            (t, f)
        } else {
            best
        }
    });
    let (p, r, f) = f1_at(points, ANSWERABLE_CONFIDENCE);
    println!("  Brier score {brier:.3}; best F1 {:.3} at threshold {:.2}", best.1, best.0);
    println!("  at ANSWERABLE_CONFIDENCE = {ANSWERABLE_CONFIDENCE}: precision {p:.3} recall {r:.3} F1 {f:.3}");
    for h in 0..2 {
        let part: Vec<_> = points.iter().copied().filter(|p| p.2 == h).collect();
        let (p, r, f) = f1_at(&part, ANSWERABLE_CONFIDENCE);
        let name = if h == 0 { "first" } else { "second" };
        println!("    {name} half: precision {p:.3} recall {r:.3} F1 {f:.3}");
    }
}

/// A fast stand-in embedder for latency at scale: each word hashed to a fixed random direction,
/// summed and normalised. Its vectors have the real model's length, so the vector search does
/// the same work; quality figures never use it.
struct HashedWords;

impl Embedder for HashedWords {
    fn info(&self) -> EmbedderInfo {
        EmbedderInfo { model: "bench:hashed-words-384".into(), dimensions: 384 }
    }

    fn embed(&self, texts: Vec<String>, _kind: EmbedKind) -> BoxFuture<'_, Result<Vec<Vec<f32>>, ProviderError>> {
        Box::pin(async move {
            Ok(texts
                .iter()
                .map(|t| {
                    let mut v = vec![0f32; 384];
                    for w in t.split_whitespace() {
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

/// A synthetic document: `sections` headed paragraphs of ~110 words from a fixed vocabulary
/// (one passage each).
fn synthetic_doc(seed: &mut u64, vocabulary: &[String], sections: usize) -> String {
    let mut next = || {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    };
    let mut doc = String::new();
    for s in 0..sections {
        doc.push_str(&format!("## Section {s} {}\n\n", vocabulary[(next() % vocabulary.len() as u64) as usize]));
        let words: Vec<&str> = (0..110)
            .map(|_| {
                // Zipf-like: low ranks far more often, as in real text.
                let r = (next() % 1_000_000) as f64 / 1_000_000.0;
                vocabulary[((r * r * r) * vocabulary.len() as f64) as usize].as_str()
            })
            .collect();
        doc.push_str(&words.join(" "));
        doc.push_str(".\n\n");
    }
    doc
}

async fn latency(db: frontdesk_store::Db, sizes: &[usize]) -> Result<(), AppError> {
    let config = KnowledgeConfig { index_budget_bytes: 2 * 1024 * 1024 * 1024, ..KnowledgeConfig::default() };
    let k = Knowledge::new(db, config, Some(Arc::new(HashedWords))).map_err(Error::internal)?;
    let vocabulary: Vec<String> = (0..20_000).map(|i| format!("w{}x{}", i * 7919 % 100_003, i % 97)).collect();
    println!(
        "\nSearch latency ({LATENCY_QUERIES} searches of 3 words each, 5 results, passages read back from SQLite)"
    );
    println!("Synthetic passages of ~110 words; stand-in 384-dim vectors (hashed words), so vector and hybrid");
    println!("times exclude embedding the question: add the model's time below.");
    println!(
        "{:>8} {:>9} {:>9} {:>7} {:>8} {:>17} {:>17} {:>17}",
        "passages", "ingest/s", "index MB", "load s", "first s", "bm25 p50/p99", "vector p50/p99", "hybrid p50/p99"
    );
    let mut seed = 0x9E3779B97F4A7C15u64;
    for &size in sizes {
        let tenant = TenantId::new();
        let per_doc = 100;
        let docs: Vec<(String, String)> = (0..size.div_ceil(per_doc))
            .map(|i| (format!("doc-{i}.md"), synthetic_doc(&mut seed, &vocabulary, per_doc)))
            .collect();
        let (chunks, rate) = import(&k, &tenant, docs).await?;
        let bar = ProgressBar::new("vectors");
        k.embed_pending(&tenant, None, &|d, t| bar.update(d, t)).await?;
        bar.finish(chunks as u64, chunks as u64);
        let started = Instant::now();
        let index = k.index(&tenant).await?;
        let load = started.elapsed();
        // The first search also merges the tenant's vocabulary (once per index generation).
        let started = Instant::now();
        k.search(&tenant, SearchQuery { limit: Some(5), mode: Some(SearchMode::Bm25), ..SearchQuery::new("warm up") })
            .await?;
        let first = started.elapsed();
        let mut figures = Vec::new();
        for mode in MODES {
            let mut times: Vec<Duration> = Vec::with_capacity(LATENCY_QUERIES);
            for i in 0..LATENCY_QUERIES {
                let q: Vec<&str> = (0..3).map(|j| vocabulary[(i * 31 + j * 977) % 3000].as_str()).collect();
                let t = Instant::now();
                let r = k
                    .search(&tenant, SearchQuery { limit: Some(5), mode: Some(mode), ..SearchQuery::new(q.join(" ")) })
                    .await?;
                times.push(t.elapsed());
                if r.mode != mode {
                    return Err(Error::internal(format!("ran as {:?}: {:?}", r.mode, r.mode_reason)).into());
                }
            }
            times.sort_unstable();
            figures.push(format!("{:.2}/{:.2} ms", percentile_ms(&times, 0.5), percentile_ms(&times, 0.99)));
        }
        println!(
            "{:>8} {:>9.0} {:>9.1} {:>7.2} {:>8.2} {:>17} {:>17} {:>17}",
            index.chunks(),
            rate,
            index.bytes() as f64 / 1e6,
            load.as_secs_f64(),
            first.as_secs_f64(),
            figures[0],
            figures[1],
            figures[2]
        );
        k.forget_index(&tenant);
    }
    println!("(ingest/s: passages per second through upload, extraction, chunking and the database write;");
    println!(" load s: building the index from the database; first s: the first search, which merges the");
    println!(" tenant's vocabulary; index MB: the cache's estimate, an upper bound)\n");
    Ok(())
}

/// How fast the configured model embeds passages and questions.
async fn embedding_speed(embedder: &dyn Embedder) -> Result<(), AppError> {
    let passages: Vec<String> = (0..64)
        .map(|i| {
            format!("Passage {i}: our studio opens at six on weekdays; members bring a towel and book classes online.")
        })
        .collect();
    let started = Instant::now();
    embedder.embed(passages, EmbedKind::Passage).await.map_err(Error::internal)?;
    let rate = 64.0 / started.elapsed().as_secs_f64();
    let mut times = Vec::new();
    for i in 0..20 {
        let t = Instant::now();
        embedder
            .embed(vec![format!("when do you open on sunday {i}")], EmbedKind::Query)
            .await
            .map_err(Error::internal)?;
        times.push(t.elapsed());
    }
    times.sort_unstable();
    println!(
        "Embedding ({}): {rate:.1} passages/s; a question {:.1} ms p50, {:.1} ms p99 (added to hybrid search)",
        embedder.info().model,
        percentile_ms(&times, 0.5),
        percentile_ms(&times, 0.99)
    );
    Ok(())
}
