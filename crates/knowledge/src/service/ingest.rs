//! Ingestion of one source (the job): read its documents (the stored file, the crawled pages,
//! the catalog, the FAQ), and unless their content hash is the one already indexed, chunk them
//! and replace the source's passages in one transaction. Vectors of unchanged passages are
//! kept; the others wait for the embedding job. A failure is recorded on the source, whose
//! previous version stays searchable.

use super::sources::enqueue_ingest;
use super::{sha256_hex, Knowledge};
use crate::chunk::{chunk, ChunkConfig};
use crate::extract::{self, catalog, Block, ExtractError, Extracted, Format};
use crate::fetch::{self, Scope, ACCEPT_JSON, ACCEPT_PAGES};
use crate::model::*;
use crate::store::{self, ChunkRow, DocumentRow, Finished, SourceRecord};
use crate::text::{detect, Language};
use frontdesk_kernel::time::now_ms;
use frontdesk_kernel::{Error, Result, TenantId};
use frontdesk_store::StoreError;
use std::collections::{HashSet, VecDeque};
use std::time::Instant;
use url::Url;

/// Passages one source may have at most.
const MAX_CHUNKS_PER_SOURCE: usize = 50_000;

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    /// The source was deleted meanwhile.
    Gone,
    /// A scheduled refresh whose schedule has moved.
    Skipped,
    /// Same content as indexed: nothing changed but the refresh time.
    Unchanged,
    Updated {
        documents: usize,
        chunks: usize,
    },
    /// Recorded on the source; `transient` failures are worth another try.
    Failed {
        error: String,
        transient: bool,
    },
}

/// One document, ready to chunk.
pub(crate) struct Doc {
    /// A fixed id (FAQ entries); new documents get a fresh one.
    pub id: Option<DocumentId>,
    pub locator: String,
    pub title: String,
    pub blocks: Vec<Block>,
}

struct Gathered {
    docs: Vec<Doc>,
    warnings: Vec<String>,
}

struct GatherError {
    message: String,
    transient: bool,
}

impl GatherError {
    fn permanent(message: impl Into<String>) -> Self {
        Self { message: message.into(), transient: false }
    }
}

impl From<Error> for GatherError {
    fn from(e: Error) -> Self {
        Self { message: e.to_string(), transient: true }
    }
}

/// A document (and chunk config) fingerprint: equal hashes mean nothing to re-index.
fn content_hash(docs: &[Doc], config: ChunkConfig) -> String {
    let mut parts: Vec<String> = vec![format!("chunking:{}:{}", config.max_words, config.overlap_words)];
    for d in docs {
        parts.push(d.locator.clone());
        parts.push(d.title.clone());
        for b in &d.blocks {
            parts.push(format!("{b:?}"));
        }
    }
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    sha256_hex(&refs)
}

/// A document's passages.
struct Chunked {
    id: DocumentId,
    locator: String,
    title: String,
    language: Language,
    chunks: Vec<ChunkRow>,
}

/// Chunks every document (CPU-bound). Chunk language: detected per passage, else the document's.
fn chunk_all(docs: Vec<Doc>, config: ChunkConfig) -> (Vec<Chunked>, bool) {
    let mut out = Vec::with_capacity(docs.len());
    let mut total = 0usize;
    let mut truncated = false;
    for d in docs {
        let all: String = d.blocks.iter().map(Block::text).collect::<Vec<_>>().join("\n");
        let doc_lang = detect(&all);
        let id = d.id.unwrap_or_default();
        let mut rows = Vec::new();
        for (ordinal, c) in chunk(&d.blocks, config).into_iter().enumerate() {
            if total >= MAX_CHUNKS_PER_SOURCE {
                truncated = true;
                break;
            }
            total += 1;
            let lang = match detect(&c.text) {
                Language::Unknown => doc_lang,
                l => l,
            };
            rows.push(ChunkRow {
                id: ChunkId::new(),
                document_id: id.clone(),
                ordinal: ordinal as i64,
                text_hash: sha256_hex(&[&d.title, &c.section, &c.text]),
                section: c.section,
                body: c.text,
                language: lang.code().to_owned(),
                embedding: None,
            });
        }
        if !rows.is_empty() {
            out.push(Chunked { id, locator: d.locator, title: d.title, language: doc_lang, chunks: rows });
        }
    }
    (out, truncated)
}

impl Knowledge {
    /// Runs the ingestion of one source (what the job does; the CLI calls it directly).
    pub async fn ingest(&self, tenant: &TenantId, id: &SourceId, scheduled_for: Option<i64>) -> Result<IngestOutcome> {
        let rec = {
            let mut tx = self.write(tenant).await?;
            let rec = match store::source(&mut tx, id).await {
                Ok(r) => r,
                Err(StoreError::NotFound) => return Ok(IngestOutcome::Gone),
                Err(e) => return Err(e.into()),
            };
            if scheduled_for.is_some() && rec.source.next_refresh_at != scheduled_for {
                return Ok(IngestOutcome::Skipped);
            }
            store::set_status(
                &mut tx,
                id,
                SourceStatus::Processing,
                rec.source.error.as_deref(),
                Progress { done: 0, total: 0 },
            )
            .await?;
            tx.commit().await?;
            rec
        };
        let started = Instant::now();
        let next_refresh_at = rec.refresh_every_secs.map(|s| now_ms() + s * 1000);
        let gathered = match self.gather(tenant, &rec).await {
            Ok(g) => g,
            Err(e) => {
                let mut tx = self.write(tenant).await?;
                store::fail(&mut tx, id, &e.message, next_refresh_at).await?;
                if let Some(at) = next_refresh_at {
                    enqueue_ingest(&mut tx, id, Some(at)).await?;
                }
                tx.commit().await?;
                tracing::info!(tenant_id = %tenant, source_id = %id, error = %e.message, "knowledge source failed");
                return Ok(IngestOutcome::Failed { error: e.message, transient: e.transient });
            }
        };
        let config = self.inner.config.chunking.normalized();
        let hash = content_hash(&gathered.docs, config);
        let mut warnings = gathered.warnings;
        warnings.truncate(100);
        if rec.content_hash.as_deref() == Some(hash.as_str()) {
            let mut tx = self.write(tenant).await?;
            let f = Finished { content_hash: &hash, changed: None, warnings: &warnings, next_refresh_at };
            store::finish(&mut tx, id, &f).await?;
            if let Some(at) = next_refresh_at {
                enqueue_ingest(&mut tx, id, Some(at)).await?;
            }
            tx.commit().await?;
            return Ok(IngestOutcome::Unchanged);
        }
        let (mut documents, truncated) =
            tokio::task::spawn_blocking(move || chunk_all(gathered.docs, config)).await.map_err(Error::internal)?;
        if truncated {
            warnings.push(format!("only the first {MAX_CHUNKS_PER_SOURCE} passages were indexed"));
        }
        // Passages whose text did not change keep their vectors.
        let mut embedded = 0i64;
        if let Some(info) = self.embedder_info() {
            let mut tx = self.read(tenant).await?;
            let mut existing = store::existing_vectors(&mut tx, id, &info.model).await?;
            drop(tx);
            for c in documents.iter_mut().flat_map(|d| d.chunks.iter_mut()) {
                if let Some(v) = existing.remove(&c.text_hash) {
                    c.embedding = Some((info.model.clone(), v));
                    embedded += 1;
                }
            }
        }
        let n_docs = documents.len();
        let n_chunks: usize = documents.iter().map(|d| d.chunks.len()).sum();
        let mut tx = self.write(tenant).await?;
        // The source may have been deleted while we read it.
        if matches!(store::source(&mut tx, id).await, Err(StoreError::NotFound)) {
            return Ok(IngestOutcome::Gone);
        }
        store::delete_content(&mut tx, id.as_str()).await?;
        let mut rows = Vec::with_capacity(n_chunks);
        for d in documents {
            let row = DocumentRow {
                id: &d.id,
                source_id: id,
                locator: &d.locator,
                title: &d.title,
                language: d.language.code(),
                chunks: d.chunks.len() as i64,
            };
            store::insert_document(&mut tx, &row).await?;
            rows.extend(d.chunks);
        }
        store::insert_chunks(&mut tx, id, &rows).await?;
        let f = Finished {
            content_hash: &hash,
            changed: Some((n_docs as i64, n_chunks as i64, embedded)),
            warnings: &warnings,
            next_refresh_at,
        };
        store::finish(&mut tx, id, &f).await?;
        store::bump_generation(&mut tx).await?;
        if (embedded as usize) < n_chunks {
            store::set_vectors_model(&mut tx, None).await?;
            self.enqueue_embedding(&mut tx).await?;
        }
        if let Some(at) = next_refresh_at {
            enqueue_ingest(&mut tx, id, Some(at)).await?;
        }
        tx.commit().await?;
        tracing::info!(tenant_id = %tenant, source_id = %id, documents = n_docs, chunks = n_chunks,
            reused_vectors = embedded, elapsed_ms = started.elapsed().as_millis() as u64, "knowledge source indexed");
        Ok(IngestOutcome::Updated { documents: n_docs, chunks: n_chunks })
    }

    async fn gather(&self, tenant: &TenantId, rec: &SourceRecord) -> std::result::Result<Gathered, GatherError> {
        let s = &rec.source;
        match s.kind {
            SourceKind::File => {
                let blob = {
                    let mut tx = self.read(tenant).await?;
                    store::blob(&mut tx, &s.id).await.map_err(Error::from)?
                };
                let (content_type, body) =
                    blob.ok_or_else(|| GatherError::permanent("the uploaded file is missing"))?;
                let format = extract::detect_format(Some(&s.origin), Some(&content_type), &body)
                    .map_err(|e| GatherError::permanent(e.to_string()))?;
                let extracted =
                    extract_blocking(format, body, None).await?.map_err(|e| GatherError::permanent(e.to_string()))?;
                let title =
                    if s.title != s.origin { s.title.clone() } else { extracted.title.unwrap_or(s.title.clone()) };
                Ok(Gathered {
                    warnings: extracted.warnings,
                    docs: vec![Doc { id: None, locator: s.origin.clone(), title, blocks: extracted.blocks }],
                })
            }
            SourceKind::Url => self.crawl(tenant, rec).await,
            SourceKind::Catalog => self.catalog(&s.origin).await,
            SourceKind::Faq => {
                let entries = {
                    let mut tx = self.read(tenant).await?;
                    store::list_faq(&mut tx, None, 100_000).await.map_err(Error::from)?
                };
                Ok(Gathered { docs: entries.iter().map(super::faq::faq_doc).collect(), warnings: Vec::new() })
            }
        }
    }

    async fn catalog(&self, origin: &str) -> std::result::Result<Gathered, GatherError> {
        let url = Url::parse(origin).map_err(|e| GatherError::permanent(format!("invalid URL: {e}")))?;
        let fetched = self
            .inner
            .fetcher
            .get(&url, ACCEPT_JSON)
            .await
            .map_err(|e| GatherError { message: fetch::describe(&e), transient: fetch::is_transient(&e) })?;
        let body = fetched.body;
        let (items, problems) = tokio::task::spawn_blocking(move || catalog::parse(&body))
            .await
            .map_err(Error::internal)?
            .map_err(|e| GatherError::permanent(e.to_string()))?;
        let warnings = problems
            .iter()
            .map(|p| match &p.id {
                Some(id) => format!("item {} (id {id}): {}", p.index, p.reason),
                None => format!("item {}: {}", p.index, p.reason),
            })
            .collect();
        let docs = items
            .iter()
            .map(|item| Doc {
                id: None,
                locator: item.url.clone().unwrap_or_else(|| format!("{origin}#{}", item.id)),
                title: item.name.clone(),
                blocks: item.blocks(),
            })
            .collect();
        Ok(Gathered { docs, warnings })
    }

    /// Reads a page, or a site section breadth-first within its scope, up to the source's page
    /// and depth limits and the crawl's time limit. A failing first page fails the source; a
    /// failing later page is a warning.
    async fn crawl(&self, tenant: &TenantId, rec: &SourceRecord) -> std::result::Result<Gathered, GatherError> {
        let s = &rec.source;
        let start = Url::parse(&s.origin).map_err(|e| GatherError::permanent(format!("invalid URL: {e}")))?;
        let scope = Scope::of(&start);
        let max_pages = s.options.max_pages.unwrap_or(1).clamp(1, self.inner.config.max_pages) as usize;
        let max_depth = s.options.max_depth.unwrap_or(2);
        let deadline = Instant::now() + self.inner.config.crawl_time;
        let mut queue = VecDeque::from([(start.clone(), 0u32)]);
        let mut seen: HashSet<String> = HashSet::from([start.to_string()]);
        let mut docs = Vec::new();
        let mut warnings = Vec::new();
        let mut first = true;
        while let Some((url, depth)) = queue.pop_front() {
            if docs.len() >= max_pages {
                break;
            }
            if Instant::now() > deadline {
                warnings.push(format!("stopped after {} pages: the crawl took too long", docs.len()));
                break;
            }
            let page = self.page(&url, &scope, first).await;
            let was_first = std::mem::replace(&mut first, false);
            let (final_url, extracted) = match page {
                Ok(p) => p,
                Err(e) if was_first => return Err(e),
                Err(e) => {
                    warnings.push(format!("{url}: {}", e.message));
                    continue;
                }
            };
            seen.insert(final_url.to_string());
            if depth < max_depth {
                for link in fetch::links_in_scope(&final_url, &extracted.links, &scope) {
                    if seen.insert(link.to_string()) {
                        queue.push_back((link, depth + 1));
                    }
                }
            }
            warnings.extend(extracted.warnings.into_iter().map(|w| format!("{final_url}: {w}")));
            docs.push(Doc {
                id: None,
                locator: final_url.to_string(),
                title: extracted.title.unwrap_or_else(|| final_url.to_string()),
                blocks: extracted.blocks,
            });
            let progress =
                Progress { done: docs.len() as i64, total: (docs.len() + queue.len()).min(max_pages) as i64 };
            let mut tx = self.write(tenant).await?;
            store::set_status(&mut tx, &s.id, SourceStatus::Processing, s.error.as_deref(), progress)
                .await
                .map_err(Error::from)?;
            tx.commit().await.map_err(Error::from)?;
        }
        Ok(Gathered { docs, warnings })
    }

    /// One page: fetched safely, kept in scope, extracted.
    async fn page(&self, url: &Url, scope: &Scope, first: bool) -> std::result::Result<(Url, Extracted), GatherError> {
        let fetched = self
            .inner
            .fetcher
            .get(url, ACCEPT_PAGES)
            .await
            .map_err(|e| GatherError { message: fetch::describe(&e), transient: fetch::is_transient(&e) })?;
        if !first && !scope.contains(&fetched.url) {
            return Err(GatherError::permanent(format!("redirected outside the section to {}", fetched.url)));
        }
        let format = fetched.format().map_err(|e| GatherError::permanent(e.to_string()))?;
        let charset = fetched.charset();
        let final_url = fetched.url;
        let extracted = extract_blocking(format, fetched.body, charset)
            .await?
            .map_err(|e| GatherError::permanent(e.to_string()))?;
        Ok((final_url, extracted))
    }
}

/// Extraction off the async runtime.
async fn extract_blocking(
    format: Format,
    body: Vec<u8>,
    charset: Option<String>,
) -> std::result::Result<std::result::Result<Extracted, ExtractError>, GatherError> {
    tokio::task::spawn_blocking(move || extract::extract(format, &body, charset.as_deref()))
        .await
        .map_err(|e| GatherError::permanent(format!("the document could not be read ({e})")))
}
