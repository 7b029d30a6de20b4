//! One source's part of a tenant's index: an inverted index (term → chunk ordinals with
//! field-weighted term frequencies) and the chunks' vectors as int8 with a scale per vector.
//! Segments are immutable; a changed source gets a new segment, unchanged ones are shared
//! between successive versions of the tenant's index.

use super::bm25::MIN_PART;
use crate::text::{terms, Language};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Weight of a word in the document title and in the section path, relative to the body (the
/// fields of BM25F folded into one weighted term frequency).
pub const TITLE_WEIGHT: u16 = 2;
pub const SECTION_WEIGHT: u16 = 2;

/// One chunk as the index needs it.
#[derive(Debug, Clone)]
pub struct ChunkInput {
    pub id: String,
    pub title: String,
    pub section: String,
    pub body: String,
    pub language: Language,
    /// The stored vector, when it was made by the current model.
    pub vector: Option<Vec<f32>>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Posting {
    pub doc: u32,
    pub tf: u16,
}

/// Vectors of some chunks of a segment, quantised to int8 (`x ≈ q * scale`).
#[derive(Debug, Default)]
pub(crate) struct Vectors {
    pub dims: usize,
    /// Chunk ordinal of each stored vector.
    pub rows: Vec<u32>,
    pub scales: Vec<f32>,
    pub data: Vec<i8>,
}

impl Vectors {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn row(&self, i: usize) -> &[i8] {
        &self.data[i * self.dims..(i + 1) * self.dims]
    }
}

/// Quantises a vector to int8 with one scale (`max |x| / 127`).
pub(crate) fn quantize(v: &[f32]) -> (f32, Vec<i8>) {
    let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
    if max == 0.0 || !max.is_finite() {
        return (0.0, vec![0; v.len()]);
    }
    let scale = max / 127.0;
    (scale, v.iter().map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8).collect())
}

/// Dot product of two int8 vectors (exact in i32 for the lengths we use).
pub(crate) fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    a.iter().zip(b).map(|(&x, &y)| i32::from(x) * i32::from(y)).sum()
}

#[derive(Debug)]
pub struct Segment {
    pub source_id: String,
    /// The source's `index_version` this segment was built from.
    pub version: i64,
    pub tags: Vec<String>,
    pub(crate) ids: Vec<Box<str>>,
    pub(crate) lengths: Vec<u32>,
    pub(crate) total_len: u64,
    pub(crate) postings: HashMap<Arc<str>, Vec<Posting>>,
    /// Stems of German (or undetermined) passages long enough to be compounds of two parts
    /// (they share their text with `postings`).
    pub(crate) compounds: Vec<Arc<str>>,
    pub(crate) vectors: Vectors,
}

impl Segment {
    /// Builds a segment; vectors whose length is not `dims` are ignored. CPU-bound.
    pub fn build(source_id: String, version: i64, tags: Vec<String>, chunks: Vec<ChunkInput>, dims: usize) -> Self {
        let mut postings: HashMap<Arc<str>, Vec<Posting>> = HashMap::new();
        let mut german: HashSet<Arc<str>> = HashSet::new();
        let mut ids = Vec::with_capacity(chunks.len());
        let mut lengths = Vec::with_capacity(chunks.len());
        let mut vectors = Vectors { dims, ..Vectors::default() };
        let mut total_len = 0u64;
        let mut tf: HashMap<String, u16> = HashMap::new();
        for (ord, c) in chunks.into_iter().enumerate() {
            let ord = ord as u32;
            tf.clear();
            let mut len = 0u32;
            for (text, weight) in [(&c.body, 1u16), (&c.section, SECTION_WEIGHT), (&c.title, TITLE_WEIGHT)] {
                for term in terms(text, c.language) {
                    let e = tf.entry(term).or_default();
                    *e = e.saturating_add(weight);
                    len += u32::from(weight);
                }
            }
            for (term, f) in tf.drain() {
                let posting = Posting { doc: ord, tf: f };
                let key = match postings.get_key_value(term.as_str()) {
                    Some((key, _)) => key.clone(),
                    None => Arc::from(term),
                };
                if c.language != Language::En && key.chars().count() >= 2 * MIN_PART && !german.contains(&key) {
                    german.insert(key.clone());
                }
                postings.entry(key).or_default().push(posting);
            }
            total_len += u64::from(len);
            lengths.push(len);
            ids.push(c.id.into_boxed_str());
            if let Some(v) = c.vector.filter(|v| v.len() == dims && dims > 0) {
                let (scale, q) = quantize(&v);
                vectors.rows.push(ord);
                vectors.scales.push(scale);
                vectors.data.extend(q);
            }
        }
        for list in postings.values_mut() {
            list.shrink_to_fit();
        }
        postings.shrink_to_fit();
        let compounds: Vec<Arc<str>> = german.into_iter().collect();
        Segment { source_id, version, tags, ids, lengths, total_len, postings, compounds, vectors }
    }

    pub fn chunks(&self) -> usize {
        self.ids.len()
    }

    pub fn vectors(&self) -> usize {
        self.vectors.len()
    }

    /// Approximate heap bytes (for the cache's memory budget).
    pub fn bytes(&self) -> usize {
        let ids: usize = self.ids.iter().map(|i| i.len() + 16).sum();
        let postings: usize = self.postings.iter().map(|(k, v)| k.len() + 32 + 24 + v.capacity() * 8 + 16).sum();
        // With the tenant vocabulary's share: at most one entry per stem (its text is shared).
        let compounds = self.compounds.len() * 16 + self.postings.len() * 32;
        let vectors = self.vectors.data.len() + self.vectors.rows.len() * 8;
        ids + postings + compounds + vectors + self.lengths.len() * 4 + 256
    }
}
