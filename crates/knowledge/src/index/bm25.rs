//! BM25 over a tenant's segments: a question is prepared once against the index ([`Bm25Query`]:
//! each word's alternative stems with their tenant-wide IDF), then scored segment by segment.
//!
//! German writes compounds as one word ("Färbetermin", "Herrenhaarschnitt"), so a question and
//! the passage that answers it often share a compound's parts but not the word. Two query-time
//! rules, both driven by the tenant's own vocabulary (no dictionary, nothing to re-index):
//!
//! - **Splitting**: a word the index does not know is split into parts it does know (each at
//!   least [`MIN_PART`] letters, a linking `s`, `es`, `n`, `en` or `e` allowed after a part), and
//!   each part is searched as a word of its own: "Färbetermin" → "färbe" + "termin".
//! - **Heads**: the last part of a German compound names what it is (a "Herrenhaarschnitt" is a
//!   "Haarschnitt"), so a word also matches the index's longer words ending in it, with at least
//!   [`MIN_PART`] letters before it; each such word counts with its own IDF.
//!
//! Both apply when the question is German or its language is unclear. Document frequencies and
//! the compounds ordered by their ending live in the tenant's [`Vocabulary`], merged from the
//! segments on the first search of an index generation, so preparing a question costs a few
//! look-ups however many sources the tenant has.

use super::segment::{Posting, Segment};
use super::TenantIndex;
use crate::text::{german_stem, Language, QueryWord};
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// BM25 parameters (the usual defaults).
pub const K1: f32 = 1.2;
pub const B: f32 = 0.75;
/// Letters a compound part has at least (shorter parts are mostly prefixes and suffixes).
pub const MIN_PART: usize = 4;
/// Linking elements ("Fugenelemente") that may follow a part inside a German compound.
const LINKS: [&str; 5] = ["es", "en", "s", "n", "e"];
/// Longer words one query word matches as their head at most (the most frequent ones).
const MAX_HEAD_MATCHES: usize = 16;

/// One stem a word may match, with its IDF in the tenant.
#[derive(Debug, Clone, PartialEq)]
struct Term {
    stem: Box<str>,
    idf: f32,
}

/// A question prepared against one index.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bm25Query {
    /// Per word, the stems it matches; a passage scores a word by its best stem.
    words: Vec<Vec<Term>>,
    /// The score of a passage of average length that holds every word once: the sum of the
    /// words' best IDF. A passage's score over it says how much of the question it matches.
    full: f32,
}

impl Bm25Query {
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The score of a passage of average length holding every word of the question once.
    pub fn full_match(&self) -> f32 {
        self.full
    }

    /// The stems searched, per word (for tests and diagnostics).
    pub fn stems(&self) -> Vec<Vec<&str>> {
        self.words.iter().map(|w| w.iter().map(|t| &*t.stem).collect()).collect()
    }
}

/// A tenant's stems: in how many passages each occurs, and those of German passages long
/// enough to be compounds, ordered by their characters read from the end (so the compounds
/// ending in a word are one binary search away).
#[derive(Debug, Default)]
pub(crate) struct Vocabulary {
    df: HashMap<Arc<str>, u32>,
    compounds: Vec<Arc<str>>,
}

/// Orders strings by their characters read from the end.
fn by_ending(a: &str, b: &str) -> Ordering {
    a.chars().rev().cmp(b.chars().rev())
}

impl Vocabulary {
    /// Merges the segments' dictionaries (CPU-bound: one hash insert per stem and segment).
    pub(crate) fn build(segments: &[Arc<Segment>]) -> Self {
        // Per stem: passages, and whether a German passage holds it as a possible compound.
        let mut stems: HashMap<Arc<str>, (u32, bool)> = HashMap::new();
        for seg in segments {
            for (stem, list) in &seg.postings {
                match stems.get_mut(stem) {
                    Some((n, _)) => *n += list.len() as u32,
                    None => {
                        stems.insert(stem.clone(), (list.len() as u32, false));
                    }
                }
            }
            for stem in &seg.compounds {
                if let Some((_, german)) = stems.get_mut(stem) {
                    *german = true;
                }
            }
        }
        let mut compounds: Vec<Arc<str>> =
            stems.iter().filter(|(_, (_, german))| *german).map(|(stem, _)| stem.clone()).collect();
        compounds.sort_unstable_by(|a, b| by_ending(a, b));
        Vocabulary { df: stems.into_iter().map(|(stem, (n, _))| (stem, n)).collect(), compounds }
    }

    fn df(&self, stem: &str) -> usize {
        self.df.get(stem).map_or(0, |&n| n as usize)
    }

    /// German stems that end in `head` with at least [`MIN_PART`] letters before it.
    fn ending_with<'a>(&'a self, head: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let from = self.compounds.partition_point(|c| by_ending(c, head) == Ordering::Less);
        let min = head.chars().count() + MIN_PART;
        self.compounds[from..]
            .iter()
            .take_while(move |c| c.ends_with(head))
            .filter(move |c| c.chars().count() >= min)
            .map(|c| &**c)
    }
}

impl TenantIndex {
    /// Passages of the whole tenant that hold `stem`.
    fn df(&self, stem: &str) -> usize {
        self.vocabulary().df(stem)
    }

    fn idf(&self, df: usize) -> f32 {
        let (n, df) = (self.docs as f32, df as f32);
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
    }

    /// Prepares a question's words (see [`crate::text::query_words`]) for [`TenantIndex::bm25`].
    pub fn bm25_query(&self, lang: Language, words: &[QueryWord]) -> Bm25Query {
        let german = lang != Language::En;
        // Per word: its own stems (that set its weight in `full`), then compounds it heads.
        let mut prepared: Vec<(Vec<String>, usize)> = Vec::with_capacity(words.len());
        for word in words {
            let own = word.stems.len();
            let known = word.stems.iter().any(|s| self.df(s) > 0);
            let parts = if german && !known { self.split(&word.token.chars().collect::<Vec<_>>(), 0) } else { None };
            match parts {
                Some(parts) if parts.len() > 1 => {
                    prepared.extend(parts.into_iter().map(|p| (self.with_heads(vec![p.clone()], &p), 1)));
                }
                _ if german => prepared.push((self.with_heads(word.stems.clone(), &german_stem(&word.token)), own)),
                _ => prepared.push((word.stems.clone(), own)),
            }
        }
        let mut seen = HashSet::new();
        let mut query = Bm25Query::default();
        for (stems, own) in prepared {
            let mut terms: Vec<Term> = Vec::with_capacity(stems.len());
            let mut weight: Option<f32> = None;
            for (i, stem) in stems.into_iter().enumerate() {
                if terms.iter().any(|t| *t.stem == *stem) {
                    continue;
                }
                let df = self.df(&stem);
                let idf = self.idf(df);
                // The word weighs what its rarest own stem found in the index does; a word the
                // index does not know at all weighs the most (nothing matches it).
                if i < own && df > 0 {
                    weight = Some(weight.map_or(idf, |w| w.max(idf)));
                }
                terms.push(Term { idf, stem: stem.into_boxed_str() });
            }
            // The same word twice (a split part that is also asked on its own) counts once.
            let key: Vec<&str> = terms.iter().map(|t| &*t.stem).collect();
            if terms.is_empty() || !seen.insert(key.join(" ")) {
                continue;
            }
            query.full += weight.unwrap_or_else(|| self.idf(0));
            query.words.push(terms);
        }
        query
    }

    /// Stems of known parts that make up `chars` (a word the index does not know), trying the
    /// shortest leading part first; `None` when it does not split into known parts.
    fn split(&self, chars: &[char], depth: usize) -> Option<Vec<String>> {
        if depth > 0 && chars.len() >= MIN_PART {
            let stem = german_stem(&chars.iter().collect::<String>());
            if self.df(&stem) > 0 {
                return Some(vec![stem]);
            }
        }
        // Four parts at most: longer chains are rare, and the search stays small.
        if depth >= 3 || chars.len() < 2 * MIN_PART {
            return None;
        }
        for i in MIN_PART..=chars.len() - MIN_PART {
            let Some(first) = self.known_part(&chars[..i]) else { continue };
            if let Some(mut rest) = self.split(&chars[i..], depth + 1) {
                rest.insert(0, first);
                return Some(rest);
            }
        }
        None
    }

    /// The stem of a compound's leading part, when the index knows it (with or without a
    /// linking element at its end).
    fn known_part(&self, chars: &[char]) -> Option<String> {
        let part: String = chars.iter().collect();
        let stem = german_stem(&part);
        if self.df(&stem) > 0 {
            return Some(stem);
        }
        LINKS.iter().find_map(|link| {
            let base = part.strip_suffix(link)?;
            let stem = german_stem(base);
            (base.chars().count() >= MIN_PART && self.df(&stem) > 0).then_some(stem)
        })
    }

    /// `stems` plus the index's compounds whose head is `head` (most frequent first).
    fn with_heads(&self, mut stems: Vec<String>, head: &str) -> Vec<String> {
        if head.chars().count() < MIN_PART {
            return stems;
        }
        let vocabulary = self.vocabulary();
        let mut found: Vec<(&str, usize)> = vocabulary.ending_with(head).map(|s| (s, vocabulary.df(s))).collect();
        found.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        stems.extend(found.into_iter().take(MAX_HEAD_MATCHES).map(|(s, _)| s.to_owned()));
        stems
    }

    /// Adds the BM25 score of every passage of `seg` to `acc` (indexed by ordinal). `scratch` is
    /// reusable space.
    pub(crate) fn score_segment(&self, q: &Bm25Query, seg: &Segment, acc: &mut [f32], scratch: &mut Scratch) {
        let norm = Norm::new(self, seg);
        for word in &q.words {
            let mut lists = word.iter().filter_map(|t| Some((t.idf, seg.postings.get(&*t.stem)?.as_slice())));
            let Some((idf, first)) = lists.next() else { continue };
            let Some(second) = lists.next() else {
                // One stem matches here (the common case): add straight away.
                for p in first {
                    acc[p.doc as usize] += norm.score(idf, p);
                }
                continue;
            };
            // Several stems: a passage scores the word by its best one.
            scratch.best.resize(seg.chunks(), 0.0);
            for (idf, list) in [(idf, first), second].into_iter().chain(lists) {
                for p in list {
                    let s = norm.score(idf, p);
                    let best = &mut scratch.best[p.doc as usize];
                    if *best == 0.0 {
                        scratch.touched.push(p.doc);
                    }
                    *best = best.max(s);
                }
            }
            for doc in scratch.touched.drain(..) {
                acc[doc as usize] += std::mem::take(&mut scratch.best[doc as usize]);
            }
        }
    }

    /// The BM25 score of one passage (postings are in passage order, so each stem is one
    /// binary search).
    pub(crate) fn score_passage(&self, q: &Bm25Query, seg: &Segment, ordinal: u32) -> f32 {
        let norm = Norm::new(self, seg);
        q.words
            .iter()
            .map(|word| {
                word.iter()
                    .filter_map(|t| {
                        let list = seg.postings.get(&*t.stem)?;
                        let i = list.binary_search_by_key(&ordinal, |p| p.doc).ok()?;
                        Some(norm.score(t.idf, &list[i]))
                    })
                    .fold(0.0, f32::max)
            })
            .sum()
    }
}

/// Reusable buffers of [`TenantIndex::score_segment`].
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    best: Vec<f32>,
    touched: Vec<u32>,
}

/// BM25's length normalisation for one segment under the tenant's average passage length.
struct Norm<'a> {
    lengths: &'a [u32],
    avg: f32,
}

impl<'a> Norm<'a> {
    fn new(index: &TenantIndex, seg: &'a Segment) -> Self {
        Norm { lengths: &seg.lengths, avg: (index.total_len as f32 / index.docs.max(1) as f32).max(1.0) }
    }

    fn score(&self, idf: f32, p: &Posting) -> f32 {
        let tf = f32::from(p.tf);
        let len = self.lengths[p.doc as usize] as f32;
        idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len / self.avg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::ChunkInput;
    use crate::text::query_words;
    use std::sync::Arc;

    fn index(bodies: &[&str]) -> TenantIndex {
        let chunks = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| ChunkInput {
                id: format!("c{i}"),
                title: String::new(),
                section: String::new(),
                body: (*b).into(),
                language: Language::De,
                vector: None,
            })
            .collect();
        TenantIndex::new(1, None, vec![Arc::new(Segment::build("s".into(), 1, vec![], chunks, 0))])
    }

    fn prepared(idx: &TenantIndex, q: &str) -> Vec<Vec<String>> {
        let (lang, words) = query_words(q);
        let q = idx.bm25_query(lang, &words);
        q.stems().iter().map(|w| w.iter().map(|s| (*s).to_owned()).collect()).collect()
    }

    #[test]
    fn unknown_compounds_split_into_known_parts() {
        let idx = index(&["Beim Färben bitte vorher die Haare waschen.", "Einen Termin buchen Sie online."]);
        assert_eq!(prepared(&idx, "Färbetermin"), [vec!["farb"], vec!["termin"]]);
        // Known words stay whole; words without known parts too.
        assert_eq!(prepared(&idx, "Termin"), [vec!["termin"]]);
        assert_eq!(prepared(&idx, "Xylophonständer"), [vec!["xylophonständ", "xylophonstand"]], "en and de stems");
    }

    #[test]
    fn words_match_compounds_they_are_the_head_of() {
        let idx = index(&["Der Herrenhaarschnitt kostet 32 €.", "Ein Kinderhaarschnitt kostet 18 €.", "Haarschmuck"]);
        let words = prepared(&idx, "Was kostet ein Haarschnitt?");
        assert_eq!(words[1][0], "haarschnitt");
        assert_eq!(words[1].len(), 3, "{words:?}");
        assert!(words[1].contains(&"herrenhaarschnitt".to_owned()));
        let (lang, q) = query_words("Haarschnitt");
        let hits = idx.bm25(&idx.bm25_query(lang, &q), &|_| true, 5);
        assert_eq!(hits.len(), 2, "both compounds found, the ornament not");
        // English questions are left alone.
        assert_eq!(prepared(&idx, "what does the haircut cost"), [vec!["haircut"], vec!["cost"]]);
    }

    #[test]
    fn one_passage_scores_as_in_its_segment() {
        let idx = index(&[
            "Der Herrenhaarschnitt kostet 32 €, mit Farbe mehr.",
            "Ein Kinderhaarschnitt kostet 18 €.",
            "Farbe und Haarschnitt: Termin online buchen.",
            "Parken im Hof.",
        ]);
        let (lang, words) = query_words("Haarschnitt Termin Farbe");
        let q = idx.bm25_query(lang, &words);
        let seg = &idx.segments[0];
        let mut acc = vec![0.0; seg.chunks()];
        idx.score_segment(&q, seg, &mut acc, &mut Scratch::default());
        assert_eq!(acc.iter().filter(|s| **s > 0.0).count(), 3, "{acc:?}");
        for (i, &s) in acc.iter().enumerate() {
            assert!((idx.score_passage(&q, seg, i as u32) - s).abs() < 1e-5, "passage {i}");
        }
    }

    #[test]
    fn full_match_sums_the_words_best_idf() {
        let idx = index(&["Termin online buchen.", "Termin absagen.", "Parken im Hof."]);
        let (lang, words) = query_words("Termin Parken");
        let q = idx.bm25_query(lang, &words);
        let expected = idx.idf(2) + idx.idf(1);
        assert!((q.full_match() - expected).abs() < 1e-6, "{} vs {expected}", q.full_match());
        assert!(idx.bm25_query(Language::De, &[]).is_empty());
    }
}
