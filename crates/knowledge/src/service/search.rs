//! Hybrid search: BM25 and vector similarity over the tenant's index, fused by a convex
//! combination of normalised scores with a calibrated confidence per hit (see
//! [`crate::index::fusion`]), then the passages and their citations read from the database — in
//! the caller's tenant only, so even an index mistake could not show another tenant's text.

use super::Knowledge;
use crate::index::{Fused, Hit, Ranking, Segment, DEFAULT_VECTOR_WEIGHT};
use crate::model::*;
use crate::store;
use frontdesk_agent::EmbedKind;
use frontdesk_kernel::{Error, Result, TenantId};
use std::collections::HashMap;
use std::time::Instant;

/// Results per search at most.
pub const MAX_LIMIT: u32 = 50;
const DEFAULT_LIMIT: u32 = 5;

impl Knowledge {
    pub async fn search(&self, tenant: &TenantId, q: SearchQuery) -> Result<SearchResults> {
        let started = Instant::now();
        let query = crate::text::squash(&q.query);
        if query.is_empty() {
            return Err(Error::field("query", "required", "Ask a question."));
        }
        if query.chars().count() > 1000 {
            return Err(Error::field("query", "too_long", "A question has up to 1000 characters."));
        }
        let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(Error::field("limit", "out_of_range", format!("limit is between 1 and {MAX_LIMIT}.")));
        }
        let tags: Vec<String> = q.tags.iter().map(|t| t.trim().to_lowercase()).filter(|t| !t.is_empty()).collect();
        let index = self.index(tenant).await?;
        let (language, words) = crate::text::query_words(&query);
        let wanted = q.mode.unwrap_or(SearchMode::Hybrid);
        let (mode, reason, vector) = self.plan(&query, wanted, index.chunks(), index.vectors()).await;

        let sources: Vec<String> = q.source_ids.iter().map(|s| s.to_string()).collect();
        let allow = move |seg: &Segment| {
            (sources.is_empty() || sources.contains(&seg.source_id))
                && (tags.is_empty() || seg.tags.iter().any(|t| tags.contains(t)))
        };
        let vector_weight = self.vector_weight();
        let ranked_index = index.clone();
        // An empty knowledge base (many tenants' at first) answers at once: no ranking on the
        // blocking pool, no passage read (the assistant searches on every chat turn).
        let ranked: Vec<Fused> = if index.chunks() == 0 {
            Vec::new()
        } else {
            tokio::task::spawn_blocking(move || {
                let q = ranked_index.bm25_query(language, &words);
                let ranking = match (mode, &vector) {
                    (SearchMode::Hybrid, Some(v)) => Ranking::Hybrid { vector: v, vector_weight },
                    (SearchMode::Vector, Some(v)) => Ranking::Vector(v),
                    _ => Ranking::Bm25,
                };
                ranked_index.search(&q, ranking, &allow, limit as usize)
            })
            .await
            .map_err(Error::internal)?
        };

        let ids: Vec<&str> = ranked.iter().filter_map(|f| index.chunk_id(&hit(f))).collect();
        let rows = if ids.is_empty() {
            Vec::new()
        } else {
            let mut tx = self.read(tenant).await?;
            store::passages(&mut tx, &ids).await?
        };
        let mut by_id: HashMap<String, store::PassageRow> = rows.into_iter().map(|r| (r.chunk_id.clone(), r)).collect();
        let mut results = Vec::with_capacity(ranked.len());
        for f in &ranked {
            let Some(row) = index.chunk_id(&hit(f)).and_then(|id| by_id.remove(id)) else { continue };
            results.push(SearchHit {
                rank: results.len() + 1,
                score: f.score,
                bm25_score: f.bm25,
                vector_score: f.cosine,
                confidence: f.confidence,
                chunk_id: ChunkId::from_db(row.chunk_id),
                passage: row.body,
                citation: Citation {
                    source_id: SourceId::from_db(row.source_id),
                    source_title: row.source_title,
                    source_kind: SourceKind::parse(&row.source_kind).unwrap_or(SourceKind::File),
                    document_id: DocumentId::from_db(row.document_id),
                    document_title: row.document_title,
                    locator: row.locator,
                    section: row.section,
                },
            });
        }
        Ok(SearchResults {
            query,
            mode,
            mode_reason: reason,
            language: language.code().to_owned(),
            took_ms: started.elapsed().as_secs_f64() * 1000.0,
            results,
        })
    }

    /// The vector weight `α` of the fused score: the vector weight's share of both configured
    /// weights.
    fn vector_weight(&self) -> f32 {
        let (b, v) = (self.inner.config.bm25_weight, self.inner.config.vector_weight);
        let alpha = v / (b + v);
        if alpha.is_finite() && (0.0..=1.0).contains(&alpha) {
            alpha
        } else {
            DEFAULT_VECTOR_WEIGHT
        }
    }

    /// The mode a search can run in, why (when it is not what was asked or is limited), and
    /// the question's vector when vectors are used.
    async fn plan(
        &self,
        query: &str,
        wanted: SearchMode,
        chunks: usize,
        vectors: usize,
    ) -> (SearchMode, Option<String>, Option<Vec<f32>>) {
        if wanted == SearchMode::Bm25 {
            return (SearchMode::Bm25, None, None);
        }
        let Some(embedder) = &self.inner.embedder else {
            return (SearchMode::Bm25, Some("no embedding model is configured: full-text search only".into()), None);
        };
        if vectors == 0 {
            let why = if chunks == 0 {
                "the knowledge base is empty".to_owned()
            } else {
                format!("no passage has a vector yet ({chunks} waiting to be embedded): full-text search only")
            };
            return (SearchMode::Bm25, Some(why), None);
        }
        match embedder.embed(vec![query.to_owned()], EmbedKind::Query).await {
            Ok(mut v) if v.len() == 1 && v[0].len() == embedder.info().dimensions => {
                let reason = (vectors < chunks).then(|| {
                    format!("{vectors} of {chunks} passages are embedded so far; the rest are found by full text")
                });
                (wanted, reason, v.pop())
            }
            Ok(_) => (SearchMode::Bm25, Some("the embedding model returned a malformed vector".into()), None),
            Err(e) => {
                tracing::warn!(error = %e, "embedding a question failed; searching full text only");
                (SearchMode::Bm25, Some(format!("the embedding model failed ({e}): full-text search only")), None)
            }
        }
    }
}

fn hit(f: &Fused) -> Hit {
    Hit { segment: f.segment, ordinal: f.ordinal, score: f.score }
}
