//! Retrieval-quality evaluation: the benchmark data set in `benchdata/`, how a retrieved chunk
//! is judged relevant, and the ranking metrics printed by `frontdesk bench search`.
//!
//! # Data
//!
//! `benchdata/` holds one folder per fictional business (`studio/` in English, `salon/` in
//! German) of Markdown documents, and `questions.jsonl` with one [`Question`] per line. Each
//! business is meant to be indexed as its own tenant; [`Question::business`] says which one a
//! question is asked against. [`BenchData::load`] reads everything and rejects data that breaks
//! the rules in `benchdata/README.md` (every answering passage present in its document and
//! unique in the corpus, 3–10 words, no Markdown markup, ...).
//!
//! # Relevance
//!
//! A question lists its answering passages as `(doc, contains)` pairs, at most one per document.
//! A retrieved chunk of document `doc` is relevant when its text contains `contains`, both
//! compared with whitespace runs collapsed to one space (case-sensitive). Judging therefore does
//! not depend on how the chunker cuts, as long as it does not cut through the passage itself;
//! [`BenchData::unreachable`] finds passages that no chunk contains.
//!
//! When judging a ranked list ([`judge`]), a chunk is a hit when it contains a passage that no
//! higher-ranked chunk already contained: two overlapping chunks holding the same passage count
//! once, so no metric can exceed 1 and overlap does not inflate recall.
//!
//! # Metrics
//!
//! Binary relevance, ranks counted from 1; `h_i` is 1 if the chunk at rank `i` is a hit, `R` is
//! the number of answering passages of the question:
//!
//! - `Recall@k = min(1, (h_1 + … + h_k) / R)`
//! - `RR@k = 1 / r` for the first rank `r ≤ k` with `h_r = 1`, else 0; `MRR@k` is its mean
//! - `DCG@k = Σ_{i ≤ k} h_i / log2(i + 1)`, `IDCG@k = Σ_{i ≤ min(R, k)} 1 / log2(i + 1)`,
//!   `nDCG@k = min(1, DCG@k / IDCG@k)`
//!
//! A question with `R = 0` scores 0 on every metric. Reported figures ([`Scores`]) are plain
//! means over questions (macro average): Recall@5, MRR@10 and nDCG@10.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The benchmark data shipped with this crate.
pub const BENCHDATA_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benchdata");
/// Name of the questions file inside the data folder.
pub const QUESTIONS_FILE: &str = "questions.jsonl";
/// Cut-off of the reported recall.
pub const RECALL_K: usize = 5;
/// Cut-off of the reported MRR and nDCG.
pub const RANK_K: usize = 10;

/// Errors of loading benchmark data.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A file or folder could not be read.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A line of the questions file is not a valid question.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The questions file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The data parses but breaks the rules of the data set.
    #[error("invalid benchmark data:\n  {}", .0.join("\n  "))]
    Invalid(Vec<String>),
}

/// Language a question is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// English.
    En,
    /// German.
    De,
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::En => "en",
            Self::De => "de",
        })
    }
}

/// What a question tests, so results can be broken down by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QuestionKind {
    /// Asks in other words than the answering passage uses.
    Paraphrase,
    /// Hinges on an exact term: a name, price, code or rare word from the passage.
    Keyword,
    /// Contains misspellings.
    Typo,
    /// Asked in a language other than the one the answer is written in.
    CrossLingual,
}

impl fmt::Display for QuestionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Paraphrase => "paraphrase",
            Self::Keyword => "keyword",
            Self::Typo => "typo",
            Self::CrossLingual => "cross-lingual",
        })
    }
}

/// A passage that answers a question: a chunk of `doc` is relevant if it contains `contains`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelevantPassage {
    /// Path of the document relative to the data folder, with `/` separators.
    pub doc: String,
    /// A short exact substring of the answering passage.
    pub contains: String,
}

/// One benchmark question, a line of `questions.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// Stable id, e.g. `q01`.
    pub id: String,
    /// Language of the question text.
    pub lang: Lang,
    /// The question as a customer would type it.
    pub question: String,
    /// Every passage in the corpus that answers it, at most one per document.
    pub relevant: Vec<RelevantPassage>,
    /// What the question tests.
    pub kind: QuestionKind,
}

impl Question {
    /// The business (top-level folder) whose documents answer this question.
    pub fn business(&self) -> Option<&str> {
        self.relevant.first().map(|p| business_of(&p.doc))
    }

    /// Whether a chunk of `doc_path` with text `chunk_text` holds one of the answering passages.
    pub fn is_relevant(&self, doc_path: &str, chunk_text: &str) -> bool {
        self.passage_in(doc_path, &normalize(chunk_text)).is_some()
    }

    /// Index of the passage of `doc_path` found in an already normalised chunk text.
    fn passage_in(&self, doc_path: &str, normalized_chunk: &str) -> Option<usize> {
        self.relevant
            .iter()
            .position(|p| p.doc == doc_path && normalized_chunk.contains(normalize(&p.contains).as_str()))
    }
}

/// Whether a retrieved chunk answers `question`; see the module docs for the rule.
pub fn is_relevant(question: &Question, doc_path: &str, chunk_text: &str) -> bool {
    question.is_relevant(doc_path, chunk_text)
}

/// A ranked result list judged against one question.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Judged {
    /// `hits[i]` tells whether the result at rank `i + 1` is relevant.
    pub hits: Vec<bool>,
    /// Number of relevant items the question has (`R`).
    pub relevant: usize,
}

impl Judged {
    /// Recall@k of this list.
    pub fn recall_at(&self, k: usize) -> f64 {
        recall_at(&self.hits, self.relevant, k)
    }

    /// Reciprocal rank of the first hit within the top `k`.
    pub fn reciprocal_rank_at(&self, k: usize) -> f64 {
        reciprocal_rank_at(&self.hits, k)
    }

    /// nDCG@k of this list.
    pub fn ndcg_at(&self, k: usize) -> f64 {
        ndcg_at(&self.hits, self.relevant, k)
    }
}

/// Judges a ranked list of retrieved chunks, best first, given as `(doc_path, chunk_text)`.
///
/// A chunk is a hit when it holds an answering passage not already held by a higher-ranked chunk.
pub fn judge<I, D, T>(question: &Question, ranked: I) -> Judged
where
    I: IntoIterator<Item = (D, T)>,
    D: AsRef<str>,
    T: AsRef<str>,
{
    let mut found = vec![false; question.relevant.len()];
    let hits = ranked
        .into_iter()
        .map(|(doc, text)| match question.passage_in(doc.as_ref(), &normalize(text.as_ref())) {
            Some(p) if !found[p] => {
                found[p] = true;
                true
            }
            _ => false,
        })
        .collect();
    Judged { hits, relevant: question.relevant.len() }
}

/// `min(1, relevant hits in the top k / relevant)`; 0 when `relevant` is 0.
pub fn recall_at(hits: &[bool], relevant: usize, k: usize) -> f64 {
    if relevant == 0 {
        return 0.0;
    }
    let found = hits.iter().take(k).filter(|&&h| h).count();
    (found as f64 / relevant as f64).min(1.0)
}

/// `1 / rank` of the first hit within the top `k`, 0 when there is none.
pub fn reciprocal_rank_at(hits: &[bool], k: usize) -> f64 {
    hits.iter().take(k).position(|&h| h).map_or(0.0, |i| 1.0 / (i + 1) as f64)
}

/// Normalised discounted cumulative gain at `k` with binary gains, capped at 1; 0 when
/// `relevant` or `k` is 0.
pub fn ndcg_at(hits: &[bool], relevant: usize, k: usize) -> f64 {
    let ideal: f64 = (0..relevant.min(k)).map(discount).sum();
    if ideal == 0.0 {
        return 0.0;
    }
    let dcg: f64 = hits.iter().take(k).enumerate().filter(|(_, &h)| h).map(|(i, _)| discount(i)).sum();
    (dcg / ideal).min(1.0)
}

/// Gain of a hit at 0-based position `i` (rank `i + 1`): `1 / log2(rank + 1)`.
fn discount(i: usize) -> f64 {
    1.0 / ((i + 2) as f64).log2()
}

/// Mean metrics over a set of questions.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Scores {
    /// Number of questions averaged.
    pub questions: usize,
    /// Mean Recall@5.
    pub recall_at_5: f64,
    /// Mean reciprocal rank at 10.
    pub mrr_at_10: f64,
    /// Mean nDCG@10.
    pub ndcg_at_10: f64,
}

impl Scores {
    /// Averages the reported metrics over judged lists.
    pub fn mean<'a>(judged: impl IntoIterator<Item = &'a Judged>) -> Self {
        let mut sums = Sums::default();
        for j in judged {
            sums.add(j);
        }
        sums.scores()
    }
}

impl fmt::Display for Scores {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Recall@5 {:.3}  MRR@10 {:.3}  nDCG@10 {:.3}  ({} questions)",
            self.recall_at_5, self.mrr_at_10, self.ndcg_at_10, self.questions
        )
    }
}

/// Running sums behind [`Scores`].
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    questions: usize,
    recall: f64,
    reciprocal_rank: f64,
    ndcg: f64,
}

impl Sums {
    fn add(&mut self, judged: &Judged) {
        self.questions += 1;
        self.recall += judged.recall_at(RECALL_K);
        self.reciprocal_rank += judged.reciprocal_rank_at(RANK_K);
        self.ndcg += judged.ndcg_at(RANK_K);
    }

    fn scores(&self) -> Scores {
        if self.questions == 0 {
            return Scores::default();
        }
        let n = self.questions as f64;
        Scores {
            questions: self.questions,
            recall_at_5: self.recall / n,
            mrr_at_10: self.reciprocal_rank / n,
            ndcg_at_10: self.ndcg / n,
        }
    }
}

/// Collects judged questions of one retrieval method, overall and broken down by language and
/// kind.
#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    all: Sums,
    by_lang: BTreeMap<Lang, Sums>,
    by_kind: BTreeMap<QuestionKind, Sums>,
}

impl Evaluation {
    /// Adds the judged result list of `question`.
    pub fn record(&mut self, question: &Question, judged: &Judged) {
        self.all.add(judged);
        self.by_lang.entry(question.lang).or_default().add(judged);
        self.by_kind.entry(question.kind).or_default().add(judged);
    }

    /// Means over every recorded question.
    pub fn overall(&self) -> Scores {
        self.all.scores()
    }

    /// Means per question language.
    pub fn by_lang(&self) -> Vec<(Lang, Scores)> {
        self.by_lang.iter().map(|(&lang, s)| (lang, s.scores())).collect()
    }

    /// Means per question kind.
    pub fn by_kind(&self) -> Vec<(QuestionKind, Scores)> {
        self.by_kind.iter().map(|(&kind, s)| (kind, s.scores())).collect()
    }
}

/// A document of the data set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchDoc {
    /// Path relative to the data folder with `/` separators, e.g. `studio/pricing.md`.
    pub path: String,
    /// The Markdown text.
    pub text: String,
}

impl BenchDoc {
    /// The business (top-level folder) the document belongs to.
    pub fn business(&self) -> &str {
        business_of(&self.path)
    }
}

/// The whole data set: documents sorted by path, questions in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchData {
    /// Every `*.md` file under the data folder except its top-level `README.md`.
    pub docs: Vec<BenchDoc>,
    /// The questions of `questions.jsonl`.
    pub questions: Vec<Question>,
}

impl BenchData {
    /// Reads and validates the data folder (blocking file I/O).
    ///
    /// # Errors
    ///
    /// [`EvalError::Io`] when a file cannot be read, [`EvalError::Parse`] for a malformed line of
    /// `questions.jsonl`, [`EvalError::Invalid`] with every broken rule of [`BenchData::problems`].
    pub fn load(dir: &Path) -> Result<Self, EvalError> {
        let mut files = Vec::new();
        collect_markdown(dir, dir, &mut files)?;
        let mut docs = Vec::with_capacity(files.len());
        for (path, file) in files {
            if path == "README.md" {
                continue;
            }
            let text = std::fs::read_to_string(&file).map_err(|source| EvalError::Io { path: file, source })?;
            docs.push(BenchDoc { path, text });
        }
        docs.sort_by(|a, b| a.path.cmp(&b.path));
        let questions = read_questions(&dir.join(QUESTIONS_FILE))?;
        let data = Self { docs, questions };
        let problems = data.problems();
        if problems.is_empty() {
            Ok(data)
        } else {
            Err(EvalError::Invalid(problems))
        }
    }

    /// The document at `path`.
    pub fn doc(&self, path: &str) -> Option<&BenchDoc> {
        self.docs.iter().find(|d| d.path == path)
    }

    /// The businesses (top-level folders), sorted.
    pub fn businesses(&self) -> Vec<&str> {
        self.docs.iter().map(BenchDoc::business).collect::<BTreeSet<_>>().into_iter().collect()
    }

    /// The documents of one business.
    pub fn docs_of<'a>(&'a self, business: &'a str) -> impl Iterator<Item = &'a BenchDoc> + 'a {
        self.docs.iter().filter(move |d| d.business() == business)
    }

    /// The questions asked against one business.
    pub fn questions_of<'a>(&'a self, business: &'a str) -> impl Iterator<Item = &'a Question> + 'a {
        self.questions.iter().filter(move |q| q.business() == Some(business))
    }

    /// Answering passages that no chunk contains, as `(question id, doc)`, given every chunk the
    /// index holds as `(doc_path, chunk_text)`. A non-empty answer means the chunker cut through a
    /// passage (or dropped text), and those questions cannot be answered by any method.
    pub fn unreachable<I, D, T>(&self, chunks: I) -> Vec<(String, String)>
    where
        I: IntoIterator<Item = (D, T)>,
        D: AsRef<str>,
        T: AsRef<str>,
    {
        let mut by_doc: HashMap<String, Vec<String>> = HashMap::new();
        for (doc, text) in chunks {
            by_doc.entry(doc.as_ref().to_owned()).or_default().push(normalize(text.as_ref()));
        }
        let mut missing = Vec::new();
        for q in &self.questions {
            for p in &q.relevant {
                let needle = normalize(&p.contains);
                let chunks = by_doc.get(&p.doc).map(Vec::as_slice).unwrap_or_default();
                if !chunks.iter().any(|c| c.contains(&needle)) {
                    missing.push((q.id.clone(), p.doc.clone()));
                }
            }
        }
        missing
    }

    /// Every rule the data breaks, one message each; empty when the data is valid.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.docs.is_empty() {
            problems.push("no documents".to_owned());
        }
        if self.questions.is_empty() {
            problems.push("no questions".to_owned());
        }
        let corpus: Vec<(&str, String)> = self.docs.iter().map(|d| (d.path.as_str(), normalize(&d.text))).collect();
        let folded: Vec<String> = corpus.iter().map(|(_, text)| text.to_lowercase()).collect();
        let mut ids = HashSet::new();
        for q in &self.questions {
            if q.id.trim().is_empty() || !ids.insert(q.id.as_str()) {
                problems.push(format!("question id {:?} is empty or not unique", q.id));
            }
            if q.question.trim().is_empty() {
                problems.push(format!("{}: empty question text", q.id));
            }
            if q.relevant.is_empty() {
                problems.push(format!("{}: no relevant passage", q.id));
            }
            let mut docs = HashSet::new();
            for p in &q.relevant {
                if !docs.insert(p.doc.as_str()) {
                    problems.push(format!("{}: more than one passage of {}", q.id, p.doc));
                }
                if Some(business_of(&p.doc)) != q.business() {
                    problems.push(format!("{}: passages from more than one business", q.id));
                }
                problems.extend(passage_problems(p, &corpus, &folded).into_iter().map(|m| format!("{}: {m}", q.id)));
            }
        }
        problems.extend(language_problems(&self.questions));
        problems
    }
}

/// Characters that Markdown rendering or stripping may remove or change.
const MARKUP: &[char] = &['*', '_', '|', '#', '`', '[', ']', '<', '>'];

/// Rules for one passage: word count, no markup, present in its document, unique in the corpus.
fn passage_problems(p: &RelevantPassage, corpus: &[(&str, String)], folded: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    let needle = normalize(&p.contains);
    let words = needle.split(' ').filter(|w| !w.is_empty()).count();
    if !(3..=10).contains(&words) {
        problems.push(format!("{:?} has {words} words, expected 3 to 10", p.contains));
    }
    if p.contains.contains(MARKUP) {
        problems.push(format!("{:?} contains Markdown markup", p.contains));
    }
    match corpus.iter().find(|(path, _)| *path == p.doc) {
        None => problems.push(format!("unknown document {}", p.doc)),
        Some((_, text)) if !text.contains(&needle) => problems.push(format!("{:?} not found in {}", p.contains, p.doc)),
        Some(_) => {}
    }
    let needle = needle.to_lowercase();
    let occurrences: usize = folded.iter().map(|text| text.matches(needle.as_str()).count()).sum();
    if occurrences > 1 {
        problems.push(format!("{:?} occurs {occurrences} times in the corpus (case-insensitive)", p.contains));
    }
    problems
}

/// Each business answers in one language: that of its non-cross-lingual questions. Cross-lingual
/// questions must be asked in another language.
fn language_problems(questions: &[Question]) -> Vec<String> {
    let mut native: BTreeMap<&str, BTreeSet<Lang>> = BTreeMap::new();
    for q in questions.iter().filter(|q| q.kind != QuestionKind::CrossLingual) {
        if let Some(business) = q.business() {
            native.entry(business).or_default().insert(q.lang);
        }
    }
    let mut problems: Vec<String> = native
        .iter()
        .filter(|(_, langs)| langs.len() > 1)
        .map(|(business, _)| format!("{business}: questions in several languages without kind cross-lingual"))
        .collect();
    for q in questions.iter().filter(|q| q.kind == QuestionKind::CrossLingual) {
        let same = q.business().and_then(|b| native.get(b)).is_some_and(|langs| langs.contains(&q.lang));
        if same {
            problems.push(format!("{}: cross-lingual question in the language of its documents", q.id));
        }
    }
    problems
}

/// The top-level folder of a relative path (empty for a file at the root).
fn business_of(path: &str) -> &str {
    path.split_once('/').map_or("", |(business, _)| business)
}

/// Collapses every run of whitespace to one space and trims the ends.
fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Adds every `*.md` file under `dir` as `(path relative to root with '/', full path)`;
/// hidden entries are skipped.
fn collect_markdown(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<(), EvalError> {
    let io = |source| EvalError::Io { path: dir.to_path_buf(), source };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            return Err(EvalError::Invalid(vec![format!("file name {} is not UTF-8", path.display())]));
        };
        if name.starts_with('.') {
            continue;
        }
        if entry.file_type().map_err(io)?.is_dir() {
            collect_markdown(root, &path, out)?;
        } else if name.ends_with(".md") {
            let relative = path.strip_prefix(root).unwrap_or(&path);
            let parts: Option<Vec<&str>> = relative.components().map(|c| c.as_os_str().to_str()).collect();
            let Some(parts) = parts else {
                return Err(EvalError::Invalid(vec![format!("path {} is not UTF-8", path.display())]));
            };
            out.push((parts.join("/"), path));
        }
    }
    Ok(())
}

/// Parses `questions.jsonl`, skipping blank lines.
fn read_questions(path: &Path) -> Result<Vec<Question>, EvalError> {
    let text = std::fs::read_to_string(path).map_err(|source| EvalError::Io { path: path.to_path_buf(), source })?;
    let mut questions = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let question = serde_json::from_str(line).map_err(|e| EvalError::Parse {
            path: path.to_path_buf(),
            line: i + 1,
            message: e.to_string(),
        })?;
        questions.push(question);
    }
    Ok(questions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64) {
        assert!((actual - expected).abs() < 1e-9, "expected {expected}, got {actual}");
    }

    fn question(id: &str, lang: Lang, kind: QuestionKind, relevant: &[(&str, &str)]) -> Question {
        Question {
            id: id.to_owned(),
            lang,
            question: format!("question {id}"),
            relevant: relevant
                .iter()
                .map(|(doc, contains)| RelevantPassage { doc: (*doc).to_owned(), contains: (*contains).to_owned() })
                .collect(),
            kind,
        }
    }

    #[test]
    fn recall_counts_hits_in_the_top_k_over_relevant() {
        let hits = [false, true, false, true, false, true];
        close(recall_at(&hits, 3, 1), 0.0);
        close(recall_at(&hits, 3, 2), 1.0 / 3.0);
        close(recall_at(&hits, 3, 5), 2.0 / 3.0);
        close(recall_at(&hits, 3, 10), 1.0);
        // More hits than relevant items (unjudged input) is capped at 1.
        close(recall_at(&[true, true], 1, 5), 1.0);
        close(recall_at(&hits, 0, 5), 0.0);
        close(recall_at(&[], 2, 5), 0.0);
    }

    #[test]
    fn reciprocal_rank_is_one_over_the_first_hit_within_k() {
        close(reciprocal_rank_at(&[true, false], 10), 1.0);
        close(reciprocal_rank_at(&[false, false, true, true], 10), 1.0 / 3.0);
        close(reciprocal_rank_at(&[false, false, true], 2), 0.0);
        close(reciprocal_rank_at(&[false; 12], 10), 0.0);
        close(reciprocal_rank_at(&[], 10), 0.0);
    }

    #[test]
    fn ndcg_matches_hand_computed_values() {
        // Hits at ranks 2 and 4 of R = 2: DCG = 1/log2(3) + 1/log2(5) = 0.6309298 + 0.4306766
        // = 1.0616063; IDCG = 1 + 1/log2(3) = 1.6309298; nDCG = 0.6509209.
        close(ndcg_at(&[false, true, false, true], 2, 10), 1.061_606_311_644_850_6 / 1.630_929_753_571_457_5);
        close(ndcg_at(&[false, true, false, true], 2, 10), 0.650_920_929_807_132_6);
        // One relevant item at rank 3: 1/log2(4) = 0.5.
        close(ndcg_at(&[false, false, true], 1, 10), 0.5);
        close(ndcg_at(&[true], 1, 10), 1.0);
        // Only the top k count: the hit at rank 3 is cut off.
        close(ndcg_at(&[false, false, true], 1, 2), 0.0);
        // R larger than k: the ideal list has k hits, so k hits in a row are perfect.
        close(ndcg_at(&[true, true, true], 5, 3), 1.0);
        // Hit at rank 1 of R = 3: 1 / (1 + 0.6309298 + 0.5) = 0.4693123.
        close(ndcg_at(&[true, false], 3, 10), 1.0 / 2.130_929_753_571_457_5);
        close(ndcg_at(&[true], 0, 10), 0.0);
        close(ndcg_at(&[true], 1, 0), 0.0);
    }

    #[test]
    fn relevance_is_by_document_and_whitespace_insensitive_substring() {
        let q = question("q1", Lang::En, QuestionKind::Paraphrase, &[("studio/a.md", "costs €8 per class")]);
        assert!(is_relevant(&q, "studio/a.md", "The supplement\ncosts   €8 per class for members."));
        assert!(!is_relevant(&q, "studio/b.md", "The supplement costs €8 per class."));
        assert!(!is_relevant(&q, "studio/a.md", "The supplement Costs €8 per class."));
        assert!(!is_relevant(&q, "studio/a.md", "costs €8 per"));
    }

    #[test]
    fn judge_counts_each_passage_once() {
        let q = question(
            "q1",
            Lang::En,
            QuestionKind::Keyword,
            &[("studio/a.md", "alpha beta gamma"), ("studio/faq.md", "delta epsilon zeta")],
        );
        let ranked = [
            ("studio/b.md", "nothing here"),
            ("studio/a.md", "x alpha beta gamma y"),
            ("studio/a.md", "overlap: alpha beta gamma again"),
            ("studio/faq.md", "delta epsilon zeta"),
        ];
        let judged = judge(&q, ranked);
        assert_eq!(judged, Judged { hits: vec![false, true, false, true], relevant: 2 });
        close(judged.recall_at(RECALL_K), 1.0);
        close(judged.reciprocal_rank_at(RANK_K), 0.5);
        close(judged.ndcg_at(RANK_K), 0.650_920_929_807_132_6);
    }

    #[test]
    fn scores_are_means_over_questions_with_breakdowns() {
        let en = question("q1", Lang::En, QuestionKind::Paraphrase, &[("studio/a.md", "a b c")]);
        let de = question("q2", Lang::De, QuestionKind::Keyword, &[("salon/a.md", "d e f")]);
        let first = Judged { hits: vec![true], relevant: 1 };
        let missed = Judged { hits: vec![false, false, false, false, false, true], relevant: 1 };
        let mean = Scores::mean([&first, &missed]);
        assert_eq!(mean.questions, 2);
        // Recall@5: (1 + 0) / 2. MRR@10: (1 + 1/6) / 2. nDCG@10: (1 + 1/log2(7)) / 2.
        close(mean.recall_at_5, 0.5);
        close(mean.mrr_at_10, 7.0 / 12.0);
        close(mean.ndcg_at_10, (1.0 + 1.0 / 7f64.log2()) / 2.0);
        assert_eq!(Scores::mean([]), Scores::default());

        let mut eval = Evaluation::default();
        eval.record(&en, &first);
        eval.record(&de, &missed);
        assert_eq!(eval.overall(), mean);
        let by_lang = eval.by_lang();
        assert_eq!(by_lang.iter().map(|(l, _)| *l).collect::<Vec<_>>(), [Lang::En, Lang::De]);
        close(by_lang[0].1.mrr_at_10, 1.0);
        close(by_lang[1].1.mrr_at_10, 1.0 / 6.0);
        let by_kind = eval.by_kind();
        assert_eq!(by_kind[1].0, QuestionKind::Keyword);
        close(by_kind[1].1.recall_at_5, 0.0);
    }

    /// A scratch folder under the system temp dir, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str, files: &[(&str, &str)]) -> Self {
            let dir = std::env::temp_dir().join(format!("frontdesk-eval-{name}-{}", std::process::id()));
            // A leftover from an aborted run would mix in stale files.
            let _ = std::fs::remove_dir_all(&dir);
            for (path, text) in files {
                let file = dir.join(path);
                if let Some(parent) = file.parent() {
                    std::fs::create_dir_all(parent).expect("create scratch folder");
                }
                std::fs::write(file, text).expect("write scratch file");
            }
            Self(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const DOC_A: &str = "# Prices\n\nA drop-in class\ncosts €20 at reception.\n";
    const DOC_B: &str = "# Preise\n\nEin Herrenschnitt kostet 32 € inklusive Waschen.\n";

    #[test]
    fn loads_docs_and_questions() {
        let line_en = r#"{"id":"q1","lang":"en","question":"drop in price?","relevant":[{"doc":"studio/a.md","contains":"class costs €20 at"}],"kind":"keyword"}"#;
        let line_de = r#"{"id":"q2","lang":"en","question":"men's cut?","relevant":[{"doc":"salon/b.md","contains":"Herrenschnitt kostet 32 €"}],"kind":"cross-lingual"}"#;
        let line_de2 = r#"{"id":"q3","lang":"de","question":"Herrenschnitt?","relevant":[{"doc":"salon/b.md","contains":"inklusive Waschen."}],"kind":"paraphrase"}"#;
        let scratch = Scratch::new(
            "ok",
            &[
                ("README.md", "about the data"),
                (".hidden/x.md", "ignored"),
                ("studio/a.md", DOC_A),
                ("salon/b.md", DOC_B),
                ("salon/notes.txt", "not markdown"),
                (QUESTIONS_FILE, &format!("{line_en}\n\n{line_de}\n{line_de2}\n")),
            ],
        );
        let err = BenchData::load(&scratch.0).expect_err("two-word passage is rejected");
        assert!(err.to_string().contains("\"inklusive Waschen.\" has 2 words"), "{err}");

        std::fs::write(
            scratch.0.join(QUESTIONS_FILE),
            format!("{line_en}\n\n{line_de}\n{}\n", line_de2.replace("inklusive Waschen.", "32 € inklusive Waschen")),
        )
        .expect("rewrite questions");
        let data = BenchData::load(&scratch.0).expect("valid data loads");
        assert_eq!(data.docs.iter().map(|d| d.path.as_str()).collect::<Vec<_>>(), ["salon/b.md", "studio/a.md"]);
        assert_eq!(data.businesses(), ["salon", "studio"]);
        assert_eq!(data.questions.len(), 3);
        assert_eq!(data.questions[1].kind, QuestionKind::CrossLingual);
        assert_eq!(data.questions_of("salon").map(|q| q.id.as_str()).collect::<Vec<_>>(), ["q2", "q3"]);
        assert_eq!(data.docs_of("studio").count(), 1);
        assert_eq!(data.doc("salon/b.md").map(BenchDoc::business), Some("salon"));

        let chunks = [("studio/a.md", "A drop-in class costs"), ("salon/b.md", DOC_B)];
        assert_eq!(data.unreachable(chunks), [("q1".to_owned(), "studio/a.md".to_owned())]);
    }

    #[test]
    fn reports_parse_errors_with_line_numbers() {
        let scratch =
            Scratch::new("parse", &[("studio/a.md", DOC_A), (QUESTIONS_FILE, "\n{\"id\":\"q1\",\"lang\":\"fr\"}\n")]);
        match BenchData::load(&scratch.0) {
            Err(EvalError::Parse { line, .. }) => assert_eq!(line, 2),
            other => panic!("expected a parse error, got {other:?}"),
        }
        let scratch = Scratch::new("missing", &[("studio/a.md", DOC_A)]);
        assert!(matches!(BenchData::load(&scratch.0), Err(EvalError::Io { .. })));
    }

    #[test]
    fn finds_every_broken_rule() {
        let data = BenchData {
            docs: vec![
                BenchDoc { path: "studio/a.md".to_owned(), text: DOC_A.to_owned() },
                BenchDoc { path: "studio/c.md".to_owned(), text: "A drop-in class costs €20 at the bar.".to_owned() },
                BenchDoc { path: "salon/b.md".to_owned(), text: DOC_B.to_owned() },
            ],
            questions: vec![
                question("q1", Lang::En, QuestionKind::Keyword, &[("studio/a.md", "class costs €20 at")]),
                question("q1", Lang::En, QuestionKind::Keyword, &[("studio/x.md", "no such document here")]),
                question("q3", Lang::En, QuestionKind::Typo, &[("studio/a.md", "*costs €20* at")]),
                question(
                    "q4",
                    Lang::De,
                    QuestionKind::Paraphrase,
                    &[("studio/a.md", "€20 at reception."), ("studio/a.md", "costs €20 at reception")],
                ),
                question("q5", Lang::De, QuestionKind::CrossLingual, &[("salon/b.md", "kostet 32 € inklusive")]),
                question("q6", Lang::De, QuestionKind::Paraphrase, &[("salon/b.md", "Ein Herrenschnitt kostet")]),
                question("q7", Lang::En, QuestionKind::Paraphrase, &[]),
            ],
        };
        let problems = data.problems();
        let expected = [
            "q1: \"class costs €20 at\" occurs 2 times in the corpus",
            "question id \"q1\" is empty or not unique",
            "q1: unknown document studio/x.md",
            "q3: \"*costs €20* at\" contains Markdown markup",
            "q3: \"*costs €20* at\" not found in studio/a.md",
            "q4: more than one passage of studio/a.md",
            "q7: no relevant passage",
            "studio: questions in several languages without kind cross-lingual",
            "q5: cross-lingual question in the language of its documents",
        ];
        for e in expected {
            assert!(problems.iter().any(|p| p.starts_with(e)), "missing {e:?} in {problems:#?}");
        }
        assert_eq!(problems.len(), expected.len(), "{problems:#?}");
    }

    #[test]
    fn shipped_benchdata_is_valid_and_large_enough() {
        let data = match BenchData::load(Path::new(BENCHDATA_DIR)) {
            Ok(data) => data,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(data.businesses(), ["salon", "studio"]);
        for business in data.businesses() {
            let docs = data.docs_of(business).count();
            let bytes: usize = data.docs_of(business).map(|d| d.text.len()).sum();
            assert!((8..=12).contains(&docs), "{business}: {docs} documents");
            assert!((20_000..=40_000).contains(&bytes), "{business}: {bytes} bytes");
        }
        let count = |lang| data.questions.iter().filter(|q| q.lang == lang).count();
        assert!(data.questions.len() >= 60);
        assert!(count(Lang::En) >= 25 && count(Lang::De) >= 25);
        for kind in [QuestionKind::Paraphrase, QuestionKind::Keyword, QuestionKind::Typo, QuestionKind::CrossLingual] {
            assert!(data.questions.iter().filter(|q| q.kind == kind).count() >= 4, "too few {kind} questions");
        }
        // With one chunk per document, every question is answerable: judging is consistent.
        let whole_docs: Vec<(&str, &str)> = data.docs.iter().map(|d| (d.path.as_str(), d.text.as_str())).collect();
        assert!(data.unreachable(whole_docs.iter().copied()).is_empty());
        for q in &data.questions {
            let judged = judge(q, whole_docs.iter().copied());
            assert_eq!(judged.hits.iter().filter(|&&h| h).count(), q.relevant.len(), "{}", q.id);
        }
    }
}
