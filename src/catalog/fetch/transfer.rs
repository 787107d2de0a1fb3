//! The resumable streaming transfer shared by catalogs and content.
//!
//! One loop: send (conditional or ranged) GET → stream the body into the file while
//! hashing SHA-1 and SHA-256 → on a transient failure wait (exponential backoff with
//! jitter from `backon`, or the server's `Retry-After`) and resume with
//! `Range: bytes=N-` + `If-Range`. reqwest-level retry middleware cannot do this: it stops
//! retrying once headers arrive, and a body that breaks mid-stream is the common failure
//! on large downloads.

use std::time::Duration;

use backon::{BackoffBuilder as _, ExponentialBuilder};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::StatusCode;
use sha1::Digest as _;
use tokio::io::{AsyncSeekExt as _, AsyncWriteExt as _};

use super::headers::{self, ContentRange, Validators};
use super::settings::{MAX_BACKOFF, MAX_RETRY_AFTER, proxy_hint};
use super::{FetchError, Fetcher};
use crate::ids::{Sha1, Sha256};

/// What one transfer needs besides the URL.
pub(super) struct Job<'a> {
    pub url: &'a str,
    /// The empty `.partial` file to write: the transfer writes through its own handle to it,
    /// and names its path in errors.
    pub dest: &'a tempfile::NamedTempFile,
    /// Validators of the cached copy, for a conditional GET (catalogs only).
    pub conditional: Option<&'a Validators>,
    pub expected_size: Option<u64>,
    /// Refuse a final URL (after redirects) that is not https.
    pub https_only: bool,
}

pub(super) enum Outcome {
    /// 304: the cached copy is current; nothing was written.
    NotModified,
    Complete(Completed),
}

#[derive(Debug)]
pub(super) struct Completed {
    pub size: u64,
    pub sha1: Sha1,
    pub sha256: Sha256,
    pub validators: Validators,
}

/// The file being written plus the running digests: they must always describe exactly
/// the bytes on disk, so every reset truncates both.
struct Sink {
    file: tokio::fs::File,
    written: u64,
    sha1: sha1::Sha1,
    sha256: sha2::Sha256,
}

impl Sink {
    async fn reset(&mut self) -> std::io::Result<()> {
        self.file.set_len(0).await?;
        self.file.seek(std::io::SeekFrom::Start(0)).await?;
        self.written = 0;
        self.sha1 = sha1::Sha1::new();
        self.sha256 = sha2::Sha256::new();
        Ok(())
    }

    async fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        self.file.write_all(chunk).await?;
        self.sha1.update(chunk);
        self.sha256.update(chunk);
        self.written += chunk.len() as u64;
        Ok(())
    }
}

/// State carried across attempts.
struct State {
    sink: Sink,
    /// Validators of the response being assembled (from its first 200).
    validators: Validators,
    progress: ProgressBar,
}

enum Step {
    NotModified,
    Done,
}

impl Fetcher {
    /// Streams `job.url` into `job.dest` (which must be empty), retrying and resuming.
    pub(super) async fn transfer(&self, job: &Job<'_>) -> Result<Outcome, FetchError> {
        let host = super::error::host_of(job.url);
        if let Some(h) = &host
            && let Some(first) = self.unreachable_hosts().get(h)
        {
            return Err(FetchError::NotTried {
                url: job.url.to_string(),
                host: h.clone(),
                first: first.clone(),
            });
        }
        let file = job
            .dest
            .as_file()
            .try_clone()
            .map_err(|e| FetchError::io("open", job.dest.path(), e))?;
        let result = self.transfer_attempts(job, file).await;
        if let (Err(e @ FetchError::Unreachable { .. }), Some(h)) = (&result, host) {
            self.unreachable_hosts()
                .entry(h)
                .or_insert_with(|| e.to_string());
        }
        result
    }

    async fn transfer_attempts(
        &self,
        job: &Job<'_>,
        file: std::fs::File,
    ) -> Result<Outcome, FetchError> {
        let mut state = State {
            sink: Sink {
                file: tokio::fs::File::from_std(file),
                written: 0,
                sha1: sha1::Sha1::new(),
                sha256: sha2::Sha256::new(),
            },
            validators: Validators::default(),
            progress: self.progress_bar(job.url),
        };
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(self.settings.retry_initial_delay)
            .with_max_delay(MAX_BACKOFF)
            .with_max_times(self.settings.retries as usize)
            .with_jitter()
            .build();
        let mut attempts: u32 = 1;
        let step = loop {
            match self.attempt(job, &mut state).await {
                Ok(step) => break step,
                Err(e) if e.is_transient() => {
                    let Some(delay) = backoff.next() else {
                        state.progress.abandon();
                        return Err(if attempts > 1 {
                            FetchError::GaveUp {
                                url: job.url.to_string(),
                                attempts,
                                last: Box::new(e),
                            }
                        } else {
                            e
                        });
                    };
                    let delay = e
                        .retry_after()
                        .map_or(delay, |ra| ra.min(MAX_RETRY_AFTER).max(delay));
                    tracing::warn!(url = job.url, error = %e, retry_in = ?delay, attempt = attempts, "transient fetch failure");
                    let line = format!(
                        "retrying {} in {:.1} s (attempt {} of {}): {e}",
                        job.url,
                        delay.as_secs_f64(),
                        attempts + 1,
                        self.settings.retries + 1
                    );
                    if !state.progress.is_hidden() {
                        state.progress.println(line);
                    } else if self.settings.notices {
                        crate::errln!("{line}");
                    }
                    tokio::time::sleep(delay).await;
                    attempts += 1;
                }
                Err(e) => {
                    state.progress.abandon();
                    return Err(e);
                }
            }
        };
        state.progress.finish_and_clear();
        match step {
            Step::NotModified => Ok(Outcome::NotModified),
            Step::Done => {
                let Sink {
                    mut file,
                    written,
                    sha1,
                    sha256,
                } = state.sink;
                file.flush()
                    .await
                    .map_err(|e| FetchError::io("write", job.dest.path(), e))?;
                file.sync_all()
                    .await
                    .map_err(|e| FetchError::io("sync", job.dest.path(), e))?;
                if let Some(expected) = job.expected_size
                    && expected != written
                {
                    return Err(FetchError::SizeMismatch {
                        url: job.url.to_string(),
                        expected,
                        actual: written,
                    });
                }
                Ok(Outcome::Complete(Completed {
                    size: written,
                    sha1: Sha1(sha1.finalize().into()),
                    sha256: Sha256(sha256.finalize().into()),
                    validators: state.validators,
                }))
            }
        }
    }

    /// One HTTP exchange. Leaves `state` consistent (file == digests) whatever happens.
    async fn attempt(&self, job: &Job<'_>, state: &mut State) -> Result<Step, FetchError> {
        let url = job.url;
        let io = |e| FetchError::io("write", job.dest.path(), e);
        let resume = match state.validators.resume_validator() {
            Some(v) if state.sink.written > 0 => Some(v),
            _ => None,
        };
        if resume.is_none() && state.sink.written > 0 {
            // No validator: a resume could splice two versions. Start over.
            state.sink.reset().await.map_err(io)?;
            state.progress.set_position(0);
        }
        let offset = state.sink.written;
        let mut req = self.client.get(url);
        if let Some(v) = &resume {
            req = req
                .header("range", headers::range_from(offset))
                .header("if-range", v);
        } else if let Some(c) = job.conditional {
            for (name, value) in c.conditional_headers() {
                req = req.header(name, value);
            }
        }
        let net = |received: u64, e| {
            FetchError::from_reqwest(
                url,
                proxy_hint(&self.settings, url).as_deref(),
                self.settings.timeout,
                received,
                e,
            )
        };
        let mut resp = req.send().await.map_err(|e| net(offset, e))?;
        if job.https_only && resp.url().scheme() != "https" {
            return Err(FetchError::InsecureCatalogUrl {
                url: format!("{} (redirected from {url})", resp.url()),
            });
        }
        let status = resp.status();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let unexpected = |detail: String, transient: bool| FetchError::UnexpectedResponse {
            url: url.to_string(),
            detail,
            transient,
        };
        let total = match status {
            StatusCode::NOT_MODIFIED if resume.is_none() && job.conditional.is_some() => {
                return Ok(Step::NotModified);
            }
            StatusCode::PARTIAL_CONTENT if resume.is_some() => {
                match header("content-range")
                    .as_deref()
                    .and_then(headers::parse_content_range)
                {
                    Some(ContentRange::Bytes { first, total, .. }) if first == offset => total,
                    other => {
                        // Misaligned: discard and fetch the whole thing next time.
                        state.sink.reset().await.map_err(io)?;
                        state.progress.set_position(0);
                        return Err(unexpected(
                            format!(
                                "206 with Content-Range {other:?} for a request from byte {offset}"
                            ),
                            true,
                        ));
                    }
                }
            }
            StatusCode::RANGE_NOT_SATISFIABLE if resume.is_some() => {
                match header("content-range")
                    .as_deref()
                    .and_then(headers::parse_content_range)
                {
                    // Everything was already received; the break came after the last byte.
                    Some(ContentRange::Unsatisfied { total }) if total == offset => {
                        return Ok(Step::Done);
                    }
                    _ => {
                        state.sink.reset().await.map_err(io)?;
                        state.progress.set_position(0);
                        return Err(unexpected(
                            format!("416 for a resume from byte {offset}; restarting from zero"),
                            true,
                        ));
                    }
                }
            }
            StatusCode::OK => {
                if offset > 0 {
                    // 200 to a ranged request: the resource changed (If-Range failed).
                    tracing::info!(
                        url,
                        offset,
                        "server sent the whole file to a resume; restarting"
                    );
                    state.sink.reset().await.map_err(io)?;
                    state.progress.set_position(0);
                }
                state.validators = Validators {
                    etag: header("etag"),
                    last_modified: header("last-modified"),
                };
                resp.content_length()
            }
            s => {
                let retry_after = header("retry-after")
                    .and_then(|v| headers::parse_retry_after(&v, chrono::Utc::now()));
                return Err(FetchError::Status {
                    url: url.to_string(),
                    status: s.as_u16(),
                    retry_after,
                });
            }
        };
        self.check_size(job, total)?;
        if let Some(t) = total {
            state.progress.set_length(t);
        }
        state.progress.set_position(state.sink.written);
        while let Some(chunk) = resp.chunk().await.map_err(|e| net(state.sink.written, e))? {
            let next = state.sink.written + chunk.len() as u64;
            if next > self.settings.max_bytes {
                return Err(FetchError::TooLarge {
                    url: url.to_string(),
                    limit: self.settings.max_bytes,
                    size: None,
                });
            }
            if let Some(expected) = job.expected_size
                && next > expected
            {
                return Err(FetchError::SizeMismatch {
                    url: url.to_string(),
                    expected,
                    actual: next,
                });
            }
            state.sink.write(&chunk).await.map_err(io)?;
            state.progress.set_position(next);
        }
        Ok(Step::Done)
    }

    /// Fails fast on an announced total above the limit or different from the expected size.
    fn check_size(&self, job: &Job<'_>, total: Option<u64>) -> Result<(), FetchError> {
        let Some(total) = total else { return Ok(()) };
        if total > self.settings.max_bytes {
            return Err(FetchError::TooLarge {
                url: job.url.to_string(),
                limit: self.settings.max_bytes,
                size: Some(total),
            });
        }
        match job.expected_size {
            Some(expected) if expected != total => Err(FetchError::SizeMismatch {
                url: job.url.to_string(),
                expected,
                actual: total,
            }),
            _ => Ok(()),
        }
    }

    fn progress_bar(&self, url: &str) -> ProgressBar {
        if !self.settings.progress {
            return ProgressBar::hidden();
        }
        let name = url.rsplit('/').next().unwrap_or(url).to_string();
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message(name);
        bar.enable_steady_tick(Duration::from_millis(250));
        bar
    }
}
