//! What the operator's commands do (`frontdesk knowledge import | search | reindex`): the binary
//! resolves the tenant and calls these. Progress goes to stderr, results to stdout.

use crate::model::{SearchMode, SearchQuery, SearchResults};
use crate::service::{IngestOutcome, Knowledge, Upload};
use crate::store;
use frontdesk_kernel::{Error, Result, TenantId};
use frontdesk_store::audit::Actor;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// File extensions imported from folders (a file named explicitly is always tried).
const EXTENSIONS: &[&str] = &["md", "markdown", "txt", "text", "html", "htm", "pdf"];

/// The files under `paths`: files as given, folders walked (hidden entries skipped), each with
/// the name it is stored under (relative to the folder given, with `/`).
pub fn files_under(paths: &[PathBuf]) -> Result<Vec<(PathBuf, String)>> {
    let mut out = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path)
            .map_err(|e| Error::field("path", "unreadable", format!("{}: {e}", path.display())))?;
        if meta.is_file() {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            out.push((path.clone(), name));
        } else {
            walk(path, path, &mut out)?;
        }
    }
    Ok(out)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, String)>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::field("path", "unreadable", format!("{}: {e}", dir.display())))?
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, out)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            let name =
                rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/");
            out.push((path, name));
        }
    }
    Ok(())
}

/// One imported file.
#[derive(Debug)]
pub struct Imported {
    pub name: String,
    pub created: bool,
    pub outcome: IngestOutcome,
}

/// Imports files and folders: each becomes (or updates) a file source and is ingested now; an
/// unchanged file is a no-op. The queued job that the upload also made finds nothing to do.
pub async fn import(k: &Knowledge, tenant: &TenantId, paths: &[PathBuf]) -> Result<Vec<Imported>> {
    let files = files_under(paths)?;
    let mut done = Vec::with_capacity(files.len());
    for (path, name) in files {
        let body = tokio::fs::read(&path)
            .await
            .map_err(|e| Error::field("path", "unreadable", format!("{}: {e}", path.display())))?;
        let upload = Upload { filename: name.clone(), content_type: None, body, title: None, tags: Vec::new() };
        let (source, created) = k.upload(tenant, upload, &Actor::cli()).await?;
        let outcome = k.ingest(tenant, &source.id, None).await?;
        done.push(Imported { name, created, outcome });
    }
    Ok(done)
}

/// Runs a search for the command line.
pub async fn search(
    k: &Knowledge,
    tenant: &TenantId,
    query: &str,
    limit: u32,
    mode: Option<SearchMode>,
) -> Result<SearchResults> {
    k.search(tenant, SearchQuery { limit: Some(limit), mode, ..SearchQuery::new(query) }).await
}

/// The ranked results as text.
pub fn render(results: &SearchResults) -> String {
    let mut out = format!("{} results ({}; {:.1} ms)", results.results.len(), results.mode.as_str(), results.took_ms);
    if let Some(reason) = &results.mode_reason {
        out.push_str(&format!(" — {reason}"));
    }
    out.push('\n');
    for h in &results.results {
        let c = &h.citation;
        let section = if c.section.is_empty() { String::new() } else { format!(" › {}", c.section) };
        out.push_str(&format!("\n#{} {:.4}  {}{}\n    {}\n", h.rank, h.score, c.document_title, section, c.locator));
        let passage: String = h.passage.split_whitespace().collect::<Vec<_>>().join(" ");
        let short: String = passage.chars().take(300).collect();
        out.push_str(&format!("    {}{}\n", short, if passage.chars().count() > 300 { "…" } else { "" }));
    }
    out
}

/// A progress bar on stderr: counts and rate, redrawn at most ten times a second on a terminal,
/// a line every five seconds otherwise.
pub struct ProgressBar {
    label: String,
    started: Instant,
    last: Mutex<Option<Instant>>,
    tty: bool,
}

impl ProgressBar {
    pub fn new(label: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            started: Instant::now(),
            last: Mutex::new(None),
            tty: std::io::stderr().is_terminal(),
        }
    }

    pub fn update(&self, done: u64, total: u64) {
        let now = Instant::now();
        let every = if self.tty { Duration::from_millis(100) } else { Duration::from_secs(5) };
        {
            let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|t| now.duration_since(t) < every) && done < total {
                return;
            }
            *last = Some(now);
        }
        let line = self.line(done, total);
        let mut err = std::io::stderr().lock();
        let _ = if self.tty { write!(err, "\r{line}\x1b[K") } else { writeln!(err, "{line}") };
        let _ = err.flush();
    }

    fn line(&self, done: u64, total: u64) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = done as f64 / secs;
        let width = 30usize;
        let filled = if total == 0 { width } else { (done.min(total) as usize * width) / total as usize };
        let eta = if rate > 0.0 && total > done {
            format!(", {:.0} s left", (total - done) as f64 / rate)
        } else {
            String::new()
        };
        format!(
            "{} [{}{}] {done}/{total} ({rate:.1}/s{eta})",
            self.label,
            "#".repeat(filled),
            ".".repeat(width - filled)
        )
    }

    /// Ends the bar's line.
    pub fn finish(&self, done: u64, total: u64) {
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.update(done, total);
        if self.tty {
            eprintln!();
        }
    }
}

/// What a reindex of one tenant did.
#[derive(Debug)]
pub struct Reindexed {
    pub tenant: TenantId,
    pub embedded: u64,
    pub chunks: usize,
    pub vectors: usize,
    pub bytes: usize,
    pub elapsed: Duration,
}

/// Embeds every passage without a vector of the current model (progress bar on stderr), then
/// rebuilds the tenant's index from the database. `tenant`: one tenant, or every tenant with a
/// knowledge base.
pub async fn reindex(k: &Knowledge, tenant: Option<TenantId>) -> Result<Vec<Reindexed>> {
    let tenants = match tenant {
        Some(t) => vec![t],
        None => {
            let mut tx = k.db().system_read().await?;
            store::tenants_with_knowledge(&mut tx).await?
        }
    };
    let mut out = Vec::with_capacity(tenants.len());
    for tenant in tenants {
        let started = Instant::now();
        let bar = ProgressBar::new(format!("{tenant} embedding"));
        let report = k.embed_pending(&tenant, None, &|done, total| bar.update(done, total)).await?;
        bar.finish(report.embedded, report.embedded + report.remaining);
        k.forget_index(&tenant);
        let index = k.index(&tenant).await?;
        out.push(Reindexed {
            tenant,
            embedded: report.embedded,
            chunks: index.chunks(),
            vectors: index.vectors(),
            bytes: index.bytes(),
            elapsed: started.elapsed(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_shows_counts_and_rate() {
        let bar = ProgressBar::new("embedding");
        let line = bar.line(50, 200);
        assert!(line.starts_with("embedding ["), "{line}");
        assert!(line.contains("50/200"), "{line}");
        assert!(line.contains("/s"), "{line}");
        assert!(line.contains("#######."), "{line}");
    }

    #[test]
    fn folders_are_walked_with_relative_names() {
        let dir = std::env::temp_dir().join(format!("fd-kn-walk-{}", frontdesk_kernel::id::new_body()));
        std::fs::create_dir_all(dir.join("sub/.hidden")).unwrap();
        std::fs::write(dir.join("a.md"), "# A").unwrap();
        std::fs::write(dir.join("sub/b.PDF"), "%PDF-").unwrap();
        std::fs::write(dir.join("sub/skip.png"), "x").unwrap();
        std::fs::write(dir.join("sub/.hidden/c.md"), "x").unwrap();
        let names: Vec<String> = files_under(std::slice::from_ref(&dir)).unwrap().into_iter().map(|(_, n)| n).collect();
        assert_eq!(names, vec!["a.md".to_owned(), "sub/b.PDF".to_owned()]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
