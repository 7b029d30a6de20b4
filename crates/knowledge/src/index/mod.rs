//! The in-memory search index of one tenant: one [`Segment`] per source, BM25 over all of them
//! (statistics tenant-wide, German compounds handled at query time: [`bm25`]), exact similarity
//! over the int8 vectors, and the two fused by a convex combination of normalised scores with a
//! calibrated confidence per hit ([`fusion`]). Built from the database only, so any replica can
//! rebuild it.

pub mod bm25;
mod cache;
pub mod fusion;
mod segment;

pub use bm25::{Bm25Query, B, K1, MIN_PART};
pub use cache::{CacheStats, IndexCache};
pub use fusion::{ConfidenceModel, Fused, Ranking, ANSWERABLE_CONFIDENCE, DEFAULT_VECTOR_WEIGHT};
pub use segment::{ChunkInput, Segment, SECTION_WEIGHT, TITLE_WEIGHT};

use std::sync::{Arc, OnceLock};

/// A ranked chunk: its segment, its ordinal there, and the score of the ranking.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub segment: u32,
    pub ordinal: u32,
    pub score: f32,
}

/// A tenant's index at one generation of its knowledge base.
#[derive(Debug, Default)]
pub struct TenantIndex {
    pub generation: i64,
    /// Model of the vectors held (`None` when the index has no vectors).
    pub model: Option<String>,
    pub segments: Vec<Arc<Segment>>,
    docs: u64,
    total_len: u64,
    /// Merged from the segments on first use (off the async runtime, by the first search).
    vocabulary: OnceLock<bm25::Vocabulary>,
}

impl TenantIndex {
    pub fn new(generation: i64, model: Option<String>, segments: Vec<Arc<Segment>>) -> Self {
        let docs = segments.iter().map(|s| s.chunks() as u64).sum();
        let total_len = segments.iter().map(|s| s.total_len).sum();
        Self { generation, model, segments, docs, total_len, vocabulary: OnceLock::new() }
    }

    fn vocabulary(&self) -> &bm25::Vocabulary {
        self.vocabulary.get_or_init(|| bm25::Vocabulary::build(&self.segments))
    }

    pub fn segment(&self, source_id: &str) -> Option<&Arc<Segment>> {
        self.segments.iter().find(|s| s.source_id == source_id)
    }

    pub fn chunks(&self) -> usize {
        self.docs as usize
    }

    pub fn vectors(&self) -> usize {
        self.segments.iter().map(|s| s.vectors()).sum()
    }

    pub fn bytes(&self) -> usize {
        self.segments.iter().map(|s| s.bytes()).sum::<usize>() + 256
    }

    /// The chunk id of a hit.
    pub fn chunk_id(&self, hit: &Hit) -> Option<&str> {
        self.segments.get(hit.segment as usize)?.ids.get(hit.ordinal as usize).map(|s| &**s)
    }

    /// BM25 over the segments that `allow` admits: the `k` best passages with a positive score.
    pub fn bm25(&self, q: &Bm25Query, allow: &dyn Fn(&Segment) -> bool, k: usize) -> Vec<Hit> {
        if self.docs == 0 || q.is_empty() {
            return Vec::new();
        }
        let mut hits = Vec::new();
        let mut scratch = bm25::Scratch::default();
        for (si, seg) in self.segments.iter().enumerate() {
            if !allow(seg) {
                continue;
            }
            let mut acc = vec![0f32; seg.chunks()];
            self.score_segment(q, seg, &mut acc, &mut scratch);
            hits.extend(acc.iter().enumerate().filter(|(_, s)| **s > 0.0).map(|(i, &score)| Hit {
                segment: si as u32,
                ordinal: i as u32,
                score,
            }));
        }
        top(hits, k)
    }
}

/// The `k` best hits, best first (ties by position, so rankings are deterministic).
fn top(mut hits: Vec<Hit>, k: usize) -> Vec<Hit> {
    let order =
        |a: &Hit, b: &Hit| b.score.total_cmp(&a.score).then(a.segment.cmp(&b.segment)).then(a.ordinal.cmp(&b.ordinal));
    if hits.len() > k && k > 0 {
        hits.select_nth_unstable_by(k - 1, order);
        hits.truncate(k);
    }
    hits.sort_by(order);
    hits.truncate(k);
    hits
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::{query_words, Language};

    fn query(idx: &TenantIndex, text: &str) -> Bm25Query {
        let (lang, words) = query_words(text);
        idx.bm25_query(lang, &words)
    }

    fn chunk(id: &str, title: &str, section: &str, body: &str, vector: Option<Vec<f32>>) -> ChunkInput {
        ChunkInput {
            id: id.into(),
            title: title.into(),
            section: section.into(),
            body: body.into(),
            language: Language::En,
            vector,
        }
    }

    fn index() -> TenantIndex {
        let a = Segment::build(
            "src_a".into(),
            1,
            vec!["web".into()],
            vec![
                chunk("c1", "Guide", "Opening hours", "We open at six every morning.", Some(vec![1.0, 0.0, 0.0])),
                chunk("c2", "Guide", "Prices", "A membership costs 29 euros per month.", Some(vec![0.0, 1.0, 0.0])),
            ],
            3,
        );
        let b = Segment::build(
            "src_b".into(),
            1,
            vec![],
            vec![chunk("c3", "Sauna", "", "The sauna opens in the evening; towels cost extra.", None)],
            3,
        );
        TenantIndex::new(7, Some("m".into()), vec![Arc::new(a), Arc::new(b)])
    }

    #[test]
    fn bm25_ranks_and_filters() {
        let idx = index();
        let q = query(&idx, "when does the sauna open");
        let hits = idx.bm25(&q, &|_| true, 10);
        assert_eq!(idx.chunk_id(&hits[0]), Some("c3"));
        assert!(hits.iter().any(|h| idx.chunk_id(h) == Some("c1")), "open/opening stem together");
        let only_a = idx.bm25(&q, &|s| s.source_id == "src_a", 10);
        assert!(only_a.iter().all(|h| idx.chunk_id(h) != Some("c3")));
        let prices = query(&idx, "prices");
        assert_eq!(idx.chunk_id(&idx.bm25(&prices, &|_| true, 1)[0]), Some("c2"), "section field counts");
        assert!(idx.bm25(&query(&idx, "xylophone"), &|_| true, 5).is_empty());
    }

    #[test]
    fn vectors_rank_by_cosine_within_their_dimensions() {
        let idx = index();
        assert_eq!(idx.vectors(), 2);
        let q = query(&idx, "zzz");
        let hits = idx.search(&q, Ranking::Vector(&[0.1, 0.99, 0.0]), &|_| true, 5);
        assert_eq!(hits.len(), 2, "only passages with a vector");
        assert_eq!(idx.chunk_id(&hit(&hits[0])), Some("c2"));
        let c = hits[0].cosine.unwrap_or_default();
        assert!(c > 0.95 && c <= 1.01 && hits[0].score == c, "{c}");
        assert!(idx.search(&q, Ranking::Vector(&[0.0, 0.0, 0.0]), &|_| true, 5).is_empty());
        assert!(idx.search(&q, Ranking::Vector(&[1.0, 0.0]), &|_| true, 5).is_empty(), "other dimensions never mix");
    }

    #[test]
    fn hybrid_combines_normalised_evidence() {
        let idx = index();
        let q = query(&idx, "sauna evening");
        // The sauna passage has no vector: it still ranks by its words, vectors rank the rest.
        let v = [0.0, 1.0, 0.0];
        let hits = idx.search(&q, Ranking::Hybrid { vector: &v, vector_weight: 0.4 }, &|_| true, 10);
        let order: Vec<&str> = hits.iter().filter_map(|h| idx.chunk_id(&hit(h))).collect();
        assert_eq!(order, ["c3", "c2", "c1"]);
        assert!((hits[0].coverage - 1.0).abs() < 1e-6 && hits[0].cosine.is_none());
        assert!((hits[0].score - 0.6).abs() < 1e-6, "full coverage, no vector: {}", hits[0].score);
        assert!((hits[1].score - 0.4).abs() < 1e-6, "best vector, no word: {}", hits[1].score);
        assert_eq!(hits[2].score, 0.0, "the mean similarity or below normalises to 0");
        // The vector weight moves the balance; at 1 the words no longer count.
        let vec_only = idx.search(&q, Ranking::Hybrid { vector: &v, vector_weight: 1.0 }, &|_| true, 1);
        assert_eq!(idx.chunk_id(&hit(&vec_only[0])), Some("c2"));
        // Filters apply before anything is normalised.
        let only_b =
            idx.search(&q, Ranking::Hybrid { vector: &v, vector_weight: 0.5 }, &|s| s.source_id == "src_b", 10);
        assert_eq!(only_b.len(), 1);
        for h in &hits {
            assert!((0.0..=1.0).contains(&h.confidence), "{h:?}");
        }
    }

    #[test]
    fn confidence_grows_with_evidence() {
        let m = ConfidenceModel::SEMANTIC;
        assert!(m.confidence(0.90, 0.5, 0.80) > m.confidence(0.84, 0.5, 0.80));
        assert!(m.confidence(0.86, 0.8, 0.80) > m.confidence(0.86, 0.0, 0.80));
        assert!(m.confidence(0.86, 0.5, 0.78) > m.confidence(0.86, 0.5, 0.82), "standing out counts");
        let l = ConfidenceModel::LEXICAL;
        assert!(l.confidence(0.0, 1.0, 0.0) > ANSWERABLE_CONFIDENCE);
        assert!(l.confidence(0.0, 0.1, 0.0) < ANSWERABLE_CONFIDENCE);
    }

    fn hit(f: &Fused) -> Hit {
        Hit { segment: f.segment, ordinal: f.ordinal, score: f.score }
    }
}
