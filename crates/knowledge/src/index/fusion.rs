//! Ranking a question over every admitted passage at once: BM25 and cosine similarity are
//! computed exactly for all of them (the vectors are searched brute force anyway), normalised
//! per question, and combined convexly (Bruch et al. 2023, "An Analysis of Fusion Functions for
//! Hybrid Retrieval", found convex combination beats reciprocal rank fusion):
//!
//! `score = α · v̂ + (1 − α) · b̂`
//!
//! - `b̂ = min(1, bm25 / full)`, where `full` is what a passage of average length holding each
//!   word of the question once would score ([`Bm25Query::full_match`]): the share of the
//!   question's information the passage matches. Unlike dividing by the question's best score,
//!   it stays small when the best lexical match is weak (only common words, or the question's
//!   words are not in the knowledge base), so full text weighs in only when it found something.
//! - `v̂ = max(0, (cos − μ) / (max − μ))` with `μ` and `max` the mean and best similarity of the
//!   question over the admitted passages: e5 similarities crowd into a narrow band that moves
//!   from question to question, so only their spread above the question's typical passage says
//!   anything.
//!
//! `α` comes from [`KnowledgeConfig`](crate::KnowledgeConfig) (vector weight over both weights).
//!
//! Every hit also gets a `confidence` that the passage answers the question: a logistic model of
//! its cosine similarity, its lexical coverage `b̂` and the question's mean similarity `μ`,
//! fitted on the benchmark set (`frontdesk bench search` prints the calibration, see
//! `docs/knowledge.md`). [`ANSWERABLE_CONFIDENCE`] is the threshold with the best F1 there.

use super::bm25::Scratch;
use super::{segment, Bm25Query, Segment, TenantIndex};
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

/// Vector weight `α` of the fused score when the configuration gives none: chosen on one half of
/// the benchmark questions (the flat optimum lies between 0.35 and 0.5) and checked on the other.
pub const DEFAULT_VECTOR_WEIGHT: f32 = 0.5;

/// The confidence from which a hit is taken to answer the question: the threshold with the best
/// F1 for the top hybrid hit on the benchmark set (F1 0.78; the curve is flat from 0.34 to 0.44,
/// and the higher end favours precision: better "I don't know" than a wrong answer).
pub const ANSWERABLE_CONFIDENCE: f32 = 0.44;

/// `confidence = σ(bias + cosine · cos + coverage · b̂ + mean_cosine · μ)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConfidenceModel {
    pub bias: f32,
    pub cosine: f32,
    pub coverage: f32,
    pub mean_cosine: f32,
}

impl ConfidenceModel {
    /// For passages with a vector (the embedded multilingual-e5-small model's similarities).
    pub const SEMANTIC: ConfidenceModel =
        ConfidenceModel { bias: -32.965, cosine: 51.789, coverage: 2.576, mean_cosine: -15.293 };
    /// For full-text search alone (no model, or a passage not embedded yet).
    pub const LEXICAL: ConfidenceModel =
        ConfidenceModel { bias: -2.725, cosine: 0.0, coverage: 4.662, mean_cosine: 0.0 };

    pub fn confidence(&self, cosine: f32, coverage: f32, mean_cosine: f32) -> f32 {
        let z = self.bias + self.cosine * cosine + self.coverage * coverage + self.mean_cosine * mean_cosine;
        1.0 / (1.0 + (-z).exp())
    }
}

/// What orders the passages.
#[derive(Debug, Clone, Copy)]
pub enum Ranking<'a> {
    /// BM25 alone (passages that match a word).
    Bm25,
    /// Cosine similarity to the question's vector alone (passages with a vector).
    Vector(&'a [f32]),
    /// Both, fused with vector weight `α` in `[0, 1]`.
    Hybrid { vector: &'a [f32], vector_weight: f32 },
}

/// A ranked passage with the evidence behind its place.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fused {
    pub segment: u32,
    pub ordinal: u32,
    /// The ranking's score: BM25, cosine similarity, or the fused score in `[0, 1]`.
    pub score: f32,
    /// BM25 score, when the passage matches a word of the question.
    pub bm25: Option<f32>,
    /// Cosine similarity, when the passage has a vector and the question one.
    pub cosine: Option<f32>,
    /// Share of the question's information the passage matches lexically (`b̂`).
    pub coverage: f32,
    /// Calibrated probability that the passage answers the question.
    pub confidence: f32,
}

/// A candidate on the bounded heap; the worst sits on top so it is the one replaced.
struct Candidate {
    score: f32,
    segment: u32,
    ordinal: u32,
}

impl Candidate {
    /// Best first: higher score, then earlier position (rankings are deterministic).
    fn rank(&self, other: &Self) -> Ordering {
        other.score.total_cmp(&self.score).then(self.segment.cmp(&other.segment)).then(self.ordinal.cmp(&other.ordinal))
    }
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.rank(other) == Ordering::Equal
    }
}
impl Eq for Candidate {}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank(other)
    }
}

/// The raw signals of one admitted segment.
struct Signals {
    segment: u32,
    bm25: Vec<f32>,
    /// Cosine per passage; NaN where the passage has no vector.
    cosine: Vec<f32>,
}

impl TenantIndex {
    /// The `k` best passages of the segments `allow` admits under `ranking`, best first. CPU
    /// bound: linear in the admitted passages (their vectors dominate).
    pub fn search(
        &self,
        q: &Bm25Query,
        ranking: Ranking<'_>,
        allow: &dyn Fn(&Segment) -> bool,
        k: usize,
    ) -> Vec<Fused> {
        let query = match ranking {
            Ranking::Bm25 => None,
            Ranking::Vector(v) | Ranking::Hybrid { vector: v, .. } => {
                Some(segment::quantize(v)).filter(|(s, _)| *s > 0.0)
            }
        };
        // Vectors alone rank without BM25; it is scored for the hits only (their coverage).
        let lexical = !matches!(ranking, Ranking::Vector(_)) && !q.is_empty();
        let mut scratch = Scratch::default();
        let mut signals = Vec::new();
        let (mut sum, mut count, mut max) = (0f64, 0usize, f32::NEG_INFINITY);
        for (si, seg) in self.segments.iter().enumerate() {
            if !allow(seg) {
                continue;
            }
            let mut bm25 = vec![0f32; if lexical { seg.chunks() } else { 0 }];
            if lexical {
                self.score_segment(q, seg, &mut bm25, &mut scratch);
            }
            let mut cosine = vec![f32::NAN; seg.chunks()];
            let v = &seg.vectors;
            if let Some((scale, qv)) = query.as_ref().filter(|(_, qv)| qv.len() == v.dims) {
                for i in 0..v.len() {
                    let c = segment::dot_i8(qv, v.row(i)) as f32 * scale * v.scales[i];
                    cosine[v.rows[i] as usize] = c;
                    sum += f64::from(c);
                    count += 1;
                    max = max.max(c);
                }
            }
            signals.push(Signals { segment: si as u32, bm25, cosine });
        }
        let mean = if count > 0 { (sum / count as f64) as f32 } else { 0.0 };
        let spread = max - mean;
        let full = q.full_match();
        let coverage = |b: f32| if full > 0.0 { (b / full).min(1.0) } else { 0.0 };
        let normalised = |c: f32| if spread > 0.0 { ((c - mean) / spread).max(0.0) } else { 0.0 };

        let mut heap: BinaryHeap<Candidate> = BinaryHeap::with_capacity(k + 1);
        for s in &signals {
            for (ordinal, &c) in s.cosine.iter().enumerate() {
                let b = s.bm25.get(ordinal).copied().unwrap_or(0.0);
                let score = match ranking {
                    Ranking::Bm25 if b > 0.0 => b,
                    Ranking::Vector(_) if !c.is_nan() => c,
                    Ranking::Hybrid { vector_weight, .. } if b > 0.0 || !c.is_nan() => {
                        let v = if c.is_nan() { 0.0 } else { normalised(c) };
                        vector_weight * v + (1.0 - vector_weight) * coverage(b)
                    }
                    _ => continue,
                };
                let candidate = Candidate { score, segment: s.segment, ordinal: ordinal as u32 };
                if heap.len() < k {
                    heap.push(candidate);
                } else if heap.peek().is_some_and(|worst| candidate < *worst) {
                    heap.pop();
                    heap.push(candidate);
                }
            }
        }
        let by_segment: HashMap<u32, &Signals> = signals.iter().map(|s| (s.segment, s)).collect();
        heap.into_sorted_vec()
            .into_iter()
            .filter_map(|c| {
                let s = by_segment.get(&c.segment)?;
                let cos = s.cosine[c.ordinal as usize];
                let b = match s.bm25.get(c.ordinal as usize) {
                    Some(&b) => b,
                    None if q.is_empty() => 0.0,
                    None => self.score_passage(q, self.segments.get(c.segment as usize)?, c.ordinal),
                };
                let cov = coverage(b);
                let confidence = if cos.is_nan() {
                    ConfidenceModel::LEXICAL.confidence(0.0, cov, 0.0)
                } else {
                    ConfidenceModel::SEMANTIC.confidence(cos, cov, mean)
                };
                Some(Fused {
                    segment: c.segment,
                    ordinal: c.ordinal,
                    score: c.score,
                    bm25: (b > 0.0).then_some(b),
                    cosine: (!cos.is_nan()).then_some(cos),
                    coverage: cov,
                    confidence,
                })
            })
            .collect()
    }
}
