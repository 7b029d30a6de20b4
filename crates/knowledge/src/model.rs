//! Knowledge sources, FAQ entries, gaps and search results as the API shows them.

use frontdesk_kernel::define_id;
use frontdesk_kernel::time::rfc3339;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

define_id!(
    /// A knowledge source: a file, a web page or site section, a product catalog, or the FAQ.
    SourceId,
    "ksrc"
);
define_id!(
    /// A document of a source (the file, one page, one catalog item, one FAQ entry).
    DocumentId,
    "kdoc"
);
define_id!(
    /// A passage of a document, the unit search ranks and cites.
    ChunkId,
    "kchk"
);
define_id!(
    /// A question and its answer, written by the tenant.
    FaqId,
    "faq"
);
define_id!(
    /// A question the assistant could not answer from the knowledge base.
    GapId,
    "kgap"
);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// An uploaded document (Markdown, text, HTML, PDF).
    File,
    /// A web page, or a site section crawled from it.
    Url,
    /// A product catalog (JSON at a URL), refreshed on a schedule.
    Catalog,
    /// The tenant's FAQ entries.
    Faq,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::File => "file",
            SourceKind::Url => "url",
            SourceKind::Catalog => "catalog",
            SourceKind::Faq => "faq",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [SourceKind::File, SourceKind::Url, SourceKind::Catalog, SourceKind::Faq].into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceStatus {
    /// Waiting for the ingestion job.
    Queued,
    Processing,
    /// Searchable (possibly with warnings).
    Ready,
    /// The last ingestion failed (`error` says why); a previous version, if any, stays searchable.
    Failed,
}

impl SourceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceStatus::Queued => "queued",
            SourceStatus::Processing => "processing",
            SourceStatus::Ready => "ready",
            SourceStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "processing" => SourceStatus::Processing,
            "ready" => SourceStatus::Ready,
            "failed" => SourceStatus::Failed,
            _ => SourceStatus::Queued,
        }
    }
}

/// How far the current ingestion is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Progress {
    pub done: i64,
    pub total: i64,
}

/// Options of web and catalog sources.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SourceOptions {
    /// Pages to fetch at most (1 = just this page; more follows links under the same path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pages: Option<u32>,
    /// Link depth from the first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_depth: Option<u32>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Source {
    pub id: SourceId,
    pub kind: SourceKind,
    pub title: String,
    /// The file name, the URL, or `faq`.
    pub origin: String,
    pub content_type: Option<String>,
    pub options: SourceOptions,
    pub tags: Vec<String>,
    pub status: SourceStatus,
    pub error: Option<String>,
    /// Problems that did not stop ingestion (bad catalog items, pages that failed, …).
    pub warnings: Vec<String>,
    /// Counts content changes (re-ingesting unchanged content keeps it).
    pub version: i64,
    pub documents: i64,
    pub chunks: i64,
    /// Chunks with a vector of the current embedding model.
    pub embedded: i64,
    pub progress: Progress,
    /// Catalogs and web sources are fetched again this often.
    pub refresh_every_minutes: Option<i64>,
    #[serde(with = "rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_refresh_at: Option<i64>,
    #[serde(with = "rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_refreshed_at: Option<i64>,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: i64,
}

/// `POST /api/v1/knowledge/sources`: a web page or site section, a catalog, or text.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CreateSourceRequest {
    /// `url`, `catalog` or `text` (files are uploaded to `/api/v1/knowledge/uploads`).
    pub kind: String,
    /// Shown in the dashboard and citations; default: the page's title or the URL.
    #[serde(default)]
    pub title: Option<String>,
    /// The page or catalog URL (`url`, `catalog`).
    #[serde(default)]
    pub url: Option<String>,
    /// The document (`text`): Markdown unless `format` is `text`.
    #[serde(default)]
    pub text: Option<String>,
    /// `markdown` (default) or `text`.
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Pages to fetch (`url`; default 1, at most the configured limit).
    #[serde(default)]
    pub max_pages: Option<u32>,
    /// Link depth (`url`; default 2).
    #[serde(default)]
    pub max_depth: Option<u32>,
    /// Minutes between refreshes (`catalog` default 1440; `url` none). 15 at least.
    #[serde(default)]
    pub refresh_minutes: Option<i64>,
}

/// `PATCH /api/v1/knowledge/sources/{id}`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct UpdateSourceRequest {
    pub title: Option<String>,
    pub tags: Option<Vec<String>>,
    /// Minutes between refreshes; 0 turns the schedule off.
    pub refresh_minutes: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FaqEntry {
    pub id: FaqId,
    pub question: String,
    pub answer: String,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: i64,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct FaqRequest {
    pub question: String,
    pub answer: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GapStatus {
    Open,
    /// Turned into an FAQ entry.
    Accepted,
    Dismissed,
}

impl GapStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            GapStatus::Open => "open",
            GapStatus::Accepted => "accepted",
            GapStatus::Dismissed => "dismissed",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "accepted" => GapStatus::Accepted,
            "dismissed" => GapStatus::Dismissed,
            _ => GapStatus::Open,
        }
    }
}

/// A question the knowledge base could not answer: a suggested FAQ entry.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Gap {
    pub id: GapId,
    pub question: String,
    /// How often it (or the same question in other words of case and punctuation) was asked.
    pub asked: i64,
    /// The conversation it was last asked in.
    pub conversation_ref: Option<String>,
    pub status: GapStatus,
    pub faq_id: Option<FaqId>,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub first_asked_at: i64,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub last_asked_at: i64,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct RecordGapRequest {
    pub question: String,
    #[serde(default)]
    pub conversation_ref: Option<String>,
}

/// Accepting a gap: the FAQ entry to create (the question defaults to the gap's).
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct AcceptGapRequest {
    #[serde(default)]
    pub question: Option<String>,
    pub answer: String,
}

/// Which rankings a search used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SearchMode {
    /// Full-text and vector rankings fused.
    Hybrid,
    /// Full text only.
    Bm25,
    /// Vectors only.
    Vector,
}

impl SearchMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SearchMode::Hybrid => "hybrid",
            SearchMode::Bm25 => "bm25",
            SearchMode::Vector => "vector",
        }
    }
}

/// A search.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SearchQuery {
    pub query: String,
    /// Results (1–50, default 5).
    #[serde(default)]
    pub limit: Option<u32>,
    /// Only these sources.
    #[serde(default)]
    pub source_ids: Vec<SourceId>,
    /// Only sources with one of these tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The rankings to use (default `hybrid`; falls back to `bm25` when vectors are unavailable).
    #[serde(default)]
    pub mode: Option<SearchMode>,
}

impl SearchQuery {
    pub fn new(query: impl Into<String>) -> Self {
        Self { query: query.into(), limit: None, source_ids: Vec::new(), tags: Vec::new(), mode: None }
    }
}

/// Where a passage comes from, for citation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Citation {
    pub source_id: SourceId,
    pub source_title: String,
    pub source_kind: SourceKind,
    pub document_id: DocumentId,
    pub document_title: String,
    /// The page URL, file name or catalog item (`<catalog URL>#<item id>`).
    pub locator: String,
    /// Heading path of the passage (`Prices › Students`; `p. 3` in PDFs).
    pub section: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SearchHit {
    pub rank: usize,
    /// The fused score in `[0, 1]` (hybrid), or the single ranking's score (BM25, cosine).
    pub score: f32,
    /// BM25 score, when the passage matches a word of the question.
    pub bm25_score: Option<f32>,
    /// Cosine similarity, when the passage and the question have vectors.
    pub vector_score: Option<f32>,
    /// Calibrated probability in `[0, 1]` that this passage answers the question; at or above
    /// `frontdesk_knowledge::ANSWERABLE_CONFIDENCE` the knowledge base can answer it.
    pub confidence: f32,
    pub chunk_id: ChunkId,
    pub passage: String,
    pub citation: Citation,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SearchResults {
    pub query: String,
    pub mode: SearchMode,
    /// Why the mode differs from what was asked, or what limits it.
    pub mode_reason: Option<String>,
    /// The question's language as detected (`en`, `de`, `und`).
    pub language: String,
    pub took_ms: f64,
    pub results: Vec<SearchHit>,
}
