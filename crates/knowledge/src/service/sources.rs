//! Adding, changing, refreshing and deleting sources. Nothing is fetched or parsed here: each
//! change queues the ingestion job in the same transaction.

use super::{clean_tags, Knowledge, INGEST_JOB};
use crate::extract::{detect_format, ExtractError, Format};
use crate::model::*;
use crate::store::{self, NewSource, SourceRecord};
use frontdesk_kernel::time::now_ms;
use frontdesk_kernel::{Error, Result, TenantId};
use frontdesk_store::audit::{self, Actor, Change};
use frontdesk_store::jobs::{self, NewJob};
use frontdesk_store::{StoreError, TenantTx};
use serde::{Deserialize, Serialize};

/// What the ingestion job is told.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct IngestPayload {
    pub source_id: SourceId,
    /// Set on scheduled refreshes: the run is skipped when the schedule has moved since.
    #[serde(default)]
    pub scheduled_for: Option<i64>,
}

/// Shortest refresh interval.
const MIN_REFRESH_MINUTES: i64 = 15;

/// An uploaded file.
#[derive(Debug, Clone)]
pub struct Upload {
    pub filename: String,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    pub title: Option<String>,
    pub tags: Vec<String>,
}

pub(crate) async fn enqueue_ingest(tx: &mut TenantTx, id: &SourceId, at: Option<i64>) -> Result<()> {
    let payload = IngestPayload { source_id: id.clone(), scheduled_for: at };
    let mut job =
        NewJob::new(INGEST_JOB, &payload)?.ordered_by(format!("knowledge:{}:{id}", tx.tenant())).max_attempts(3);
    if let Some(at) = at {
        job = job.at(at).dedupe(format!("knowledge:refresh:{id}:{at}"));
    }
    jobs::enqueue(tx, job).await?;
    Ok(())
}

fn title_of(title: Option<&str>, fallback: &str) -> Result<String> {
    let t = crate::text::squash(title.unwrap_or(""));
    let t = if t.is_empty() { fallback.chars().take(200).collect() } else { t };
    if t.chars().count() > 200 {
        return Err(Error::field("title", "too_long", "A title has up to 200 characters."));
    }
    Ok(t)
}

fn refresh_secs(minutes: Option<i64>) -> Result<Option<i64>> {
    match minutes {
        None | Some(0) => Ok(None),
        Some(m) if (MIN_REFRESH_MINUTES..=60 * 24 * 90).contains(&m) => Ok(Some(m * 60)),
        Some(_) => Err(Error::field(
            "refresh_minutes",
            "out_of_range",
            format!("Refresh every {MIN_REFRESH_MINUTES} minutes to 90 days, or 0 for never."),
        )),
    }
}

impl Knowledge {
    /// Adds a web page (or site section), a catalog, or a text document, and queues its ingestion.
    pub async fn create_source(&self, tenant: &TenantId, req: CreateSourceRequest, actor: &Actor) -> Result<Source> {
        let tags = clean_tags(&req.tags)?;
        let kind = match req.kind.as_str() {
            "url" => SourceKind::Url,
            "catalog" => SourceKind::Catalog,
            "text" => {
                let text = req.text.unwrap_or_default();
                if text.trim().is_empty() {
                    return Err(Error::field("text", "required", "Write the text to add."));
                }
                let markdown = req.format.as_deref().unwrap_or("markdown") != "text";
                let title = title_of(req.title.as_deref(), "")?;
                if title.is_empty() {
                    return Err(Error::field("title", "required", "Give the text a title."));
                }
                let ext = if markdown { "md" } else { "txt" };
                let upload = Upload {
                    filename: format!("{title}.{ext}"),
                    content_type: Some(if markdown { "text/markdown" } else { "text/plain" }.into()),
                    body: text.into_bytes(),
                    title: Some(title),
                    tags,
                };
                return Ok(self.upload(tenant, upload, actor).await?.0);
            }
            _ => return Err(Error::field("kind", "invalid", "Use url, catalog or text (upload files instead).")),
        };
        let raw = req.url.as_deref().map(str::trim).unwrap_or("");
        if raw.is_empty() {
            return Err(Error::field("url", "required", "Give the URL to read."));
        }
        let url = url::Url::parse(raw).map_err(|e| Error::field("url", "invalid_url", format!("Not a URL: {e}.")))?;
        frontdesk_web::outbound::check_url(&url, &self.inner.config.outbound)
            .map_err(|e| Error::field("url", "forbidden_url", crate::fetch::describe(&e)))?;
        let options = match kind {
            SourceKind::Url => {
                let max_pages = req.max_pages.unwrap_or(1);
                if max_pages == 0 || max_pages > self.inner.config.max_pages {
                    return Err(Error::field(
                        "max_pages",
                        "out_of_range",
                        format!("Read 1 to {} pages.", self.inner.config.max_pages),
                    ));
                }
                SourceOptions { max_pages: Some(max_pages), max_depth: Some(req.max_depth.unwrap_or(2).min(10)) }
            }
            _ => SourceOptions::default(),
        };
        let default_refresh =
            (kind == SourceKind::Catalog).then(|| self.inner.config.catalog_refresh.as_secs() as i64 / 60);
        let refresh_every_secs = refresh_secs(req.refresh_minutes.or(default_refresh))?;
        let title = title_of(req.title.as_deref(), url.as_str())?;
        let id = SourceId::new();
        let mut tx = self.write(tenant).await?;
        let new = NewSource {
            id: &id,
            kind,
            title: &title,
            origin: url.as_str(),
            content_type: None,
            options: &options,
            tags: &tags,
            refresh_every_secs,
        };
        store::insert_source(&mut tx, &new).await.map_err(|e| match e {
            StoreError::Conflict(_) => {
                Error::conflict("source_exists", "This URL is already a source; refresh it instead.")
            }
            other => other.into(),
        })?;
        enqueue_ingest(&mut tx, &id, None).await?;
        audit::record(
            &mut tx,
            actor,
            Change::new("knowledge.source_added", "knowledge_source", Some(id.as_str()))
                .details(serde_json::json!({"kind": kind.as_str(), "url": url.as_str()})),
        )
        .await?;
        let source = store::source(&mut tx, &id).await?.source;
        tx.commit().await?;
        Ok(source)
    }

    /// Stores an uploaded file as a source (a file of the same name becomes its new version)
    /// and queues its ingestion. Returns the source and whether it is new.
    pub async fn upload(&self, tenant: &TenantId, upload: Upload, actor: &Actor) -> Result<(Source, bool)> {
        if upload.body.len() > self.inner.config.max_upload_bytes {
            return Err(Error::PayloadTooLarge);
        }
        if upload.body.is_empty() {
            return Err(Error::field("body", "required", "The file is empty."));
        }
        // A relative path names the file (folders imported by the CLI keep their layout).
        let filename = upload
            .filename
            .split(['/', '\\'])
            .map(str::trim)
            .filter(|p| !p.is_empty() && *p != "." && *p != "..")
            .collect::<Vec<_>>()
            .join("/");
        if filename.is_empty() || filename.chars().count() > 255 || filename.chars().any(char::is_control) {
            return Err(Error::field("filename", "invalid", "Give the file's name (up to 255 characters)."));
        }
        let format =
            detect_format(Some(&filename), upload.content_type.as_deref(), &upload.body).map_err(|e| match e {
                ExtractError::Unsupported(what) => Error::bad_request(
                    "unsupported_format",
                    format!("{what} cannot be read; upload Markdown, plain text, HTML or PDF."),
                ),
                other => Error::bad_request("unsupported_format", other.to_string()),
            })?;
        let tags = clean_tags(&upload.tags)?;
        let title = title_of(upload.title.as_deref(), &filename)?;
        let mut tx = self.write(tenant).await?;
        let existing = store::source_by_origin(&mut tx, SourceKind::File, &filename).await?;
        let (id, created) = match existing {
            Some(mut rec) => {
                if upload.title.is_some() {
                    rec.source.title = title;
                }
                if !upload.tags.is_empty() {
                    rec.source.tags = tags;
                }
                store::update_meta(&mut tx, &rec).await?;
                (rec.source.id, false)
            }
            None => {
                let id = SourceId::new();
                let new = NewSource {
                    id: &id,
                    kind: SourceKind::File,
                    title: &title,
                    origin: &filename,
                    content_type: Some(format.content_type()),
                    options: &SourceOptions::default(),
                    tags: &tags,
                    refresh_every_secs: None,
                };
                store::insert_source(&mut tx, &new).await?;
                (id, true)
            }
        };
        store::put_blob(&mut tx, &id, format.content_type(), &upload.body).await?;
        store::set_status(&mut tx, &id, SourceStatus::Queued, None, Progress { done: 0, total: 0 }).await?;
        enqueue_ingest(&mut tx, &id, None).await?;
        audit::record(
            &mut tx,
            actor,
            Change::new(
                if created { "knowledge.source_added" } else { "knowledge.source_uploaded" },
                "knowledge_source",
                Some(id.as_str()),
            )
            .details(serde_json::json!({"kind": "file", "filename": filename, "bytes": upload.body.len()})),
        )
        .await?;
        let source = store::source(&mut tx, &id).await?.source;
        tx.commit().await?;
        Ok((source, created))
    }

    pub async fn sources(&self, tenant: &TenantId, after: Option<&str>, limit: u32) -> Result<Vec<Source>> {
        let mut tx = self.read(tenant).await?;
        Ok(store::list_sources(&mut tx, after, limit).await?)
    }

    pub async fn source(&self, tenant: &TenantId, id: &SourceId) -> Result<Source> {
        let mut tx = self.read(tenant).await?;
        Ok(store::source(&mut tx, id).await?.source)
    }

    /// Title, tags, refresh schedule.
    pub async fn update_source(
        &self,
        tenant: &TenantId,
        id: &SourceId,
        req: UpdateSourceRequest,
        actor: &Actor,
    ) -> Result<Source> {
        let mut tx = self.write(tenant).await?;
        let mut rec: SourceRecord = store::source(&mut tx, id).await?;
        if rec.source.kind == SourceKind::Faq && (req.refresh_minutes.is_some()) {
            return Err(Error::field("refresh_minutes", "invalid", "The FAQ is not fetched; it has no schedule."));
        }
        if let Some(title) = req.title.as_deref() {
            rec.source.title = title_of(Some(title), "")?;
            if rec.source.title.is_empty() {
                return Err(Error::field("title", "required", "A title cannot be empty."));
            }
        }
        if let Some(tags) = &req.tags {
            rec.source.tags = clean_tags(tags)?;
        }
        let mut reschedule = None;
        if let Some(minutes) = req.refresh_minutes {
            if rec.source.kind == SourceKind::File {
                return Err(Error::field("refresh_minutes", "invalid", "Uploaded files are not fetched again."));
            }
            rec.refresh_every_secs = refresh_secs(Some(minutes))?;
            rec.source.next_refresh_at = rec.refresh_every_secs.map(|s| now_ms() + s * 1000);
            reschedule = rec.source.next_refresh_at;
        }
        store::update_meta(&mut tx, &rec).await?;
        if let Some(at) = reschedule {
            enqueue_ingest(&mut tx, id, Some(at)).await?;
        }
        if req.tags.is_some() {
            // Tag filters live in the index: searches must see the new tags.
            store::bump_generation(&mut tx).await?;
        }
        audit::record(&mut tx, actor, Change::new("knowledge.source_updated", "knowledge_source", Some(id.as_str())))
            .await?;
        let source = store::source(&mut tx, id).await?.source;
        tx.commit().await?;
        Ok(source)
    }

    /// Fetches (or re-reads) the source again now.
    pub async fn refresh_source(&self, tenant: &TenantId, id: &SourceId, actor: &Actor) -> Result<Source> {
        let mut tx = self.write(tenant).await?;
        let rec = store::source(&mut tx, id).await?;
        store::set_status(
            &mut tx,
            id,
            SourceStatus::Queued,
            rec.source.error.as_deref(),
            Progress { done: 0, total: 0 },
        )
        .await?;
        enqueue_ingest(&mut tx, id, None).await?;
        audit::record(&mut tx, actor, Change::new("knowledge.source_refreshed", "knowledge_source", Some(id.as_str())))
            .await?;
        let source = store::source(&mut tx, id).await?.source;
        tx.commit().await?;
        Ok(source)
    }

    /// Deletes a source and its passages; every replica's next search no longer sees them.
    pub async fn delete_source(&self, tenant: &TenantId, id: &SourceId, actor: &Actor) -> Result<()> {
        let mut tx = self.write(tenant).await?;
        let rec = store::source(&mut tx, id).await?;
        if rec.source.kind == SourceKind::Faq {
            return Err(Error::conflict("faq_source", "The FAQ is removed by deleting its entries."));
        }
        store::delete_source(&mut tx, id).await?;
        store::bump_generation(&mut tx).await?;
        audit::record(
            &mut tx,
            actor,
            Change::new("knowledge.source_deleted", "knowledge_source", Some(id.as_str()))
                .details(serde_json::json!({"origin": rec.source.origin})),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The format a file would be read as (for the CLI's import summary).
    pub fn format_of(filename: &str, body: &[u8]) -> Option<Format> {
        detect_format(Some(filename), None, body).ok()
    }
}
