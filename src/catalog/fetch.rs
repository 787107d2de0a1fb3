//! Getting catalog CABs and update content onto disk, safely.
//!
//! This is one of the three places in supctl that do I/O (see `ARCHITECTURE.md`),
//! and the only one that talks HTTP. It guarantees:
//!
//! - **No torn files.** Bytes go to a `*.partial` sibling, are fsynced, then renamed; a
//!   crash at any point leaves either the old complete file or the new one.
//! - **Cheap unchanged catalogs.** Catalogs use conditional GETs (`If-None-Match` /
//!   `If-Modified-Since`) against a small metadata file, so a plan for an unchanged catalog
//!   downloads nothing.
//! - **Resilience.** Transient failures are retried with exponential backoff and jitter,
//!   and a body that breaks mid-stream is resumed with `Range` + `If-Range` instead of
//!   starting a 1 GiB download over.
//! - **Bounded.** Bodies larger than `max_bytes` (or than the catalog says) are refused.
//! - **One pass.** SHA-1 (the SDP digest) and SHA-256 are computed while writing.
//!
//! Integrity (digests, Authenticode) is checked by the callers; this module only reports
//! the digests.

mod cache;
mod error;
mod headers;
mod settings;
mod transfer;

use std::path::{Path, PathBuf};

pub use error::{FetchError, Unreachable};
pub use settings::{HttpSettings, MAX_BACKOFF, MAX_RETRY_AFTER, build_client, redact};

use crate::ids::{Sha1, Sha256};
use cache::{Cache, CacheMeta, HashError};
use transfer::{Job, Outcome};

/// Where a catalog comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogSource {
    /// An `https://` URL (anything else is refused: see [`FetchError::InsecureCatalogUrl`]).
    Url(String),
    /// A local or UNC file, for disconnected sites that carry catalogs over by hand.
    Path(PathBuf),
}

/// A catalog CAB in the cache, ready for signature verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedCatalog {
    /// `<cache>/<key>.cab`. Stable until the next fetch of the same key.
    pub path: PathBuf,
    /// The content differs from the previous successful fetch (or there was none).
    pub changed: bool,
    /// Nothing was transferred: the server answered 304, or a `Path` source was identical
    /// to the cached copy.
    pub from_cache: bool,
    /// Validators the server sent (none for `Path` sources); shown in plans and logs.
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// Of the returned file: lets callers skip re-verifying a CAB they already verified.
    pub sha256: Sha256,
    pub size: u64,
}

/// Downloaded content, not yet trusted.
#[derive(Debug)]
pub struct Downloaded {
    /// A `.supctl-*.partial` file inside `dest_dir`, fsynced. It is deleted when this value
    /// is dropped, so content that fails its digest or signature check cannot linger; the
    /// caller keeps it with [`tempfile::TempPath::persist`] (an atomic rename within
    /// `dest_dir`'s filesystem) once it is verified.
    pub path: tempfile::TempPath,
    pub size: u64,
    /// Compare with the SDP `Digest` (trust rule 2).
    pub sha1: Sha1,
    /// WSUS clients need it as the additional digest.
    pub sha256: Sha256,
}

/// Fetches catalogs (with a conditional-GET cache) and content.
///
/// Build one per run and share it by reference: it owns the connection pool, so
/// concurrent downloads through `&self` reuse connections and TLS sessions. Each catalog
/// key should be fetched by one task at a time (two concurrent fetches of one key cannot
/// tear a file, but the second metadata write wins; the next fetch detects and repairs a
/// mismatch by hashing).
#[derive(Debug)]
pub struct Fetcher {
    client: reqwest::Client,
    settings: HttpSettings,
    cache: Cache,
    /// Hosts (`host:port`) found unreachable in this run, with the first error: later
    /// files of the same host fail at once instead of each waiting for its own failure.
    unreachable: std::sync::Mutex<std::collections::HashMap<String, String>>,
    /// Catalogs read from somewhere else than their configured source: the archived CAB a
    /// `--locked` plan is pinned to (`supctl.lock`), by catalog key.
    pinned: std::sync::Mutex<std::collections::HashMap<String, CatalogSource>>,
}

impl Fetcher {
    /// Builds the HTTP client (extra CAs, proxy, timeouts). Fails on unreadable CA files or
    /// a malformed proxy, so configuration errors surface before any download starts.
    pub fn new(settings: HttpSettings, cache_dir: PathBuf) -> Result<Self, FetchError> {
        let client = settings::build_client(&settings)?;
        Ok(Fetcher {
            client,
            settings,
            cache: Cache::new(cache_dir),
            unreachable: Default::default(),
            pinned: Default::default(),
        })
    }

    /// Reads catalog `key` from `source` instead of its configured one, until the fetcher
    /// is dropped: a `--locked` plan takes the pinned CAB from the archive this way, without
    /// the config (and so the catalog's recorded source) changing.
    pub fn pin(&self, key: &str, source: CatalogSource) {
        self.pinned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.to_string(), source);
    }

    /// Forgets every pin (a pass starts afresh).
    pub fn clear_pins(&self) {
        self.pinned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// The source `key` is pinned to, if it is.
    pub fn pinned(&self, key: &str) -> Option<CatalogSource> {
        self.pinned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    /// Starts a new run: hosts found unreachable by earlier runs are tried again. The
    /// `watch` daemon keeps one fetcher for its life and calls this before each pass.
    pub fn new_run(&self) {
        self.unreachable_hosts().clear();
    }

    fn unreachable_hosts(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, String>> {
        self.unreachable.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The settings in force, e.g. for `max_bytes` checks elsewhere.
    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }

    /// The cache directory holding `<key>.cab` and `<key>.json`.
    pub fn cache_dir(&self) -> &Path {
        self.cache.dir()
    }

    /// Where the last fetch of catalog `key` left its CAB (`<cache>/<key>.cab`, as
    /// [`FetchedCatalog::path`]): a plan that decided from a catalog's summary parses that
    /// very file rather than downloading the catalog again. The next fetch of the key
    /// replaces the file, so a reader checks it still has the SHA-256 it verified.
    pub fn cached_catalog(&self, key: &str) -> Result<PathBuf, FetchError> {
        cache::validate_key(key)?;
        Ok(self.cache.cab_path(key))
    }

    /// Brings the catalog `key` into the cache and returns it.
    ///
    /// URL sources: a conditional GET from the cache metadata; 304 returns the cached file,
    /// 200 streams to a `.partial` file, fsyncs, renames it over `<key>.cab`, then writes
    /// `<key>.json` (ETag, Last-Modified, source, size, SHA-256, fetched_at) the same way.
    ///
    /// Path sources are **copied** into the cache (hashing on the way) rather than used in
    /// place: a file share can change or vanish while later stages read the CAB, and every
    /// stage then sees one stable local file whatever the source.
    pub async fn fetch_catalog(
        &self,
        key: &str,
        source: &CatalogSource,
    ) -> Result<FetchedCatalog, FetchError> {
        cache::validate_key(key)?;
        if let CatalogSource::Url(url) = source {
            check_url(url, true)?;
        }
        let (cache, k) = (self.cache.clone(), key.to_string());
        let (previous, intact) = blocking(move || {
            cache.ensure_dir()?;
            cache.sweep_stale(&k);
            let previous = cache.load_meta(&k);
            let intact = previous.clone().and_then(|m| cache.intact_meta(&k, m));
            Ok::<_, FetchError>((previous, intact))
        })
        .await?;
        match source {
            CatalogSource::Url(url) => self.fetch_url(key, url, previous, intact).await,
            CatalogSource::Path(path) => self.fetch_path(key, path, previous, intact).await,
        }
    }

    async fn fetch_url(
        &self,
        key: &str,
        url: &str,
        previous: Option<CacheMeta>,
        intact: Option<CacheMeta>,
    ) -> Result<FetchedCatalog, FetchError> {
        // Validators only mean something for the same URL and an untouched cached file.
        let conditional = intact
            .as_ref()
            .filter(|m| m.source == url)
            .map(CacheMeta::validators)
            .filter(|v| !v.is_empty());
        let tmp = self.cache.new_partial(key)?;
        let job = Job {
            url,
            dest: &tmp,
            conditional: conditional.as_ref(),
            expected_size: None,
            https_only: true,
        };
        match self.transfer(&job).await? {
            Outcome::NotModified => {
                // transfer() reports 304 only for a conditional request, made only when
                // `intact` is known; guard anyway rather than panic.
                let Some(m) = intact else {
                    return Err(FetchError::UnexpectedResponse {
                        url: url.to_string(),
                        detail: "304 Not Modified without a cached copy".into(),
                        transient: false,
                    });
                };
                Ok(FetchedCatalog {
                    path: self.cache.cab_path(key),
                    changed: false,
                    from_cache: true,
                    etag: m.etag,
                    last_modified: m.last_modified,
                    sha256: m.sha256,
                    size: m.size,
                })
            }
            Outcome::Complete(c) => {
                let meta = CacheMeta {
                    version: CacheMeta::VERSION,
                    source: url.to_string(),
                    etag: c.validators.etag,
                    last_modified: c.validators.last_modified,
                    size: c.size,
                    sha256: c.sha256,
                    fetched_at: chrono::Utc::now(),
                    cab_stat: None,
                };
                self.commit(key, tmp, meta, previous.as_ref()).await
            }
        }
    }

    async fn fetch_path(
        &self,
        key: &str,
        path: &Path,
        previous: Option<CacheMeta>,
        intact: Option<CacheMeta>,
    ) -> Result<FetchedCatalog, FetchError> {
        // The usual case, a file the cache already holds: hash it in place and write
        // nothing (a no-op plan used to copy and fsync every catalog it read).
        if let Some(m) = intact
            .as_ref()
            .filter(|m| std::fs::metadata(path).is_ok_and(|f| f.len() == m.size))
        {
            let (src, limit) = (path.to_path_buf(), self.settings.max_bytes);
            let hashed = blocking(move || cache::hash_file(&src, limit)).await;
            if let Ok((size, sha256)) = hashed
                && sha256 == m.sha256
                && size == m.size
            {
                return Ok(FetchedCatalog {
                    path: self.cache.cab_path(key),
                    changed: false,
                    from_cache: true,
                    etag: m.etag.clone(),
                    last_modified: m.last_modified.clone(),
                    sha256,
                    size,
                });
            }
        }
        let mut tmp = self.cache.new_partial(key)?;
        let (src, limit) = (path.to_path_buf(), self.settings.max_bytes);
        let (tmp, copied) = blocking(move || {
            let r = std::fs::File::open(&src)
                .map_err(HashError::Io)
                .and_then(|mut f| cache::copy_hashing(&mut f, Some(tmp.as_file_mut()), limit))
                .and_then(|r| tmp.as_file().sync_all().map(|()| r).map_err(HashError::Io));
            (tmp, r)
        })
        .await;
        let (size, sha256) = copied.map_err(|e| match e {
            HashError::Io(e) => FetchError::io("read the catalog file", path, e),
            HashError::TooLarge => FetchError::TooLarge {
                url: path.display().to_string(),
                limit,
                size: None,
            },
        })?;
        if let Some(m) = intact.filter(|m| m.sha256 == sha256 && m.size == size) {
            return Ok(FetchedCatalog {
                path: self.cache.cab_path(key),
                changed: false,
                from_cache: true,
                etag: m.etag,
                last_modified: m.last_modified,
                sha256,
                size,
            });
        }
        let meta = CacheMeta {
            version: CacheMeta::VERSION,
            source: path.display().to_string(),
            etag: None,
            last_modified: None,
            size,
            sha256,
            fetched_at: chrono::Utc::now(),
            cab_stat: None,
        };
        self.commit(key, tmp, meta, previous.as_ref()).await
    }

    /// Renames the synced CAB into place, then records its metadata: CAB first, so a crash
    /// in between leaves metadata that no longer matches (detected by hashing), never
    /// metadata that vouches for a file that is not there.
    async fn commit(
        &self,
        key: &str,
        tmp: tempfile::NamedTempFile,
        meta: CacheMeta,
        previous: Option<&CacheMeta>,
    ) -> Result<FetchedCatalog, FetchError> {
        let changed = previous.is_none_or(|p| p.sha256 != meta.sha256);
        let (cache, k, mut m) = (self.cache.clone(), key.to_string(), meta.clone());
        blocking(move || {
            let cab = cache.cab_path(&k);
            cache::persist(tmp, &cab)?;
            // Read once the CAB is in place: the rename is part of its status.
            m.cab_stat = cache::CabStat::of(&cab);
            cache.store_meta(&k, &m)
        })
        .await?;
        Ok(FetchedCatalog {
            path: self.cache.cab_path(key),
            changed,
            from_cache: false,
            etag: meta.etag,
            last_modified: meta.last_modified,
            sha256: meta.sha256,
            size: meta.size,
        })
    }

    /// Downloads update content into a temp file inside `dest_dir` (created if missing),
    /// hashing SHA-1 and SHA-256 in the same pass, resuming on transient failures and
    /// enforcing `expected_size` (from the catalog) and `max_bytes`.
    ///
    /// `http://` is accepted because vendors publish content that way; integrity comes
    /// from the digest and signature the caller checks before keeping the file.
    pub async fn download(
        &self,
        url: &str,
        dest_dir: &Path,
        expected_size: Option<u64>,
    ) -> Result<Downloaded, FetchError> {
        check_url(url, false)?;
        std::fs::create_dir_all(dest_dir).map_err(|e| FetchError::io("create", dest_dir, e))?;
        let tmp = cache::new_partial_in(dest_dir, ".supctl-")?;
        let job = Job {
            url,
            dest: &tmp,
            conditional: None,
            expected_size,
            https_only: false,
        };
        match self.transfer(&job).await? {
            Outcome::Complete(c) => Ok(Downloaded {
                path: tmp.into_temp_path(),
                size: c.size,
                sha1: c.sha1,
                sha256: c.sha256,
            }),
            Outcome::NotModified => Err(FetchError::UnexpectedResponse {
                url: url.to_string(),
                detail: "304 Not Modified to an unconditional request".into(),
                transient: false,
            }),
        }
    }
}

/// Catalogs must be https; content may also be http. Nothing else (file:, ftp:) is fetched
/// over the network path.
fn check_url(url: &str, https_only: bool) -> Result<(), FetchError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| FetchError::InvalidUrl {
        url: url.to_string(),
        reason: e.to_string(),
    })?;
    match parsed.scheme() {
        "https" => {}
        "http" if !https_only => {}
        "http" => {
            return Err(FetchError::InsecureCatalogUrl {
                url: url.to_string(),
            });
        }
        other => {
            return Err(FetchError::InvalidUrl {
                url: url.to_string(),
                reason: format!("scheme `{other}` is not supported (use https:// or http://)"),
            });
        }
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(FetchError::InvalidUrl {
            url: url.to_string(),
            reason: "no host".into(),
        });
    }
    Ok(())
}

/// Runs blocking filesystem work (hashing, fsync) off the async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(f).await {
        Ok(v) => v,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_rules() {
        assert!(check_url("https://dl.example/c.cab", true).is_ok());
        assert!(matches!(
            check_url("http://dl.example/c.cab", true),
            Err(FetchError::InsecureCatalogUrl { .. })
        ));
        assert!(check_url("http://dl.example/x.exe", false).is_ok());
        let e = check_url("ftp://dl.example/x.exe", false).unwrap_err();
        assert!(e.to_string().contains("ftp://dl.example/x.exe"), "{e}");
        assert!(check_url("not a url", false).is_err());
    }
}
