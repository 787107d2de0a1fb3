//! Typed fetch errors.
//!
//! Every variant names the URL or path involved and, where the admin can do something
//! about it, says what: most fetch failures on a software update point are configuration
//! problems (a TLS-inspecting proxy, a missing proxy setting, a catalog moved) rather than
//! bugs, so the message is the documentation.

use std::error::Error as StdError;
use std::path::PathBuf;
use std::time::Duration;

/// Why a catalog or content fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("`{url}` is not a usable URL: {reason}")]
    InvalidUrl { url: String, reason: String },

    #[error(
        "catalog URL `{url}` must use https:// (catalogs are trusted by their signature, but \
         plain HTTP lets anyone on the path replace or withhold them); use the https URL or \
         a local `path`"
    )]
    InsecureCatalogUrl { url: String },

    #[error(
        "catalog key `{key}` cannot name a cache file: use 1-100 ASCII letters, digits, `-` or `_`"
    )]
    InvalidKey { key: String },

    #[error("cannot use CA certificate {path}: {reason}; check [http] ca_certificates")]
    CaCertificate { path: PathBuf, reason: String },

    #[error("invalid proxy `{proxy}`: {reason}; check [http] proxy")]
    InvalidProxy { proxy: String, reason: String },

    #[error("cannot set up the HTTP client: {detail}")]
    Client { detail: String },

    #[error(
        "TLS failure talking to {url}: {detail}; if the server (or a TLS-inspecting proxy) uses \
         a private CA, add the issuing CA to [http] ca_certificates"
    )]
    Tls { url: String, detail: String },

    #[error(
        "cannot connect to {url}{}: {detail}; {}",
        proxy.as_ref().map(|p| format!(" through proxy {p}")).unwrap_or_default(),
        if proxy.is_some() {
            "check that the proxy is reachable and allows this host ([http] proxy / HTTPS_PROXY)"
        } else {
            "check the network path, or set [http] proxy if this site is only reachable through one"
        }
    )]
    Connect {
        url: String,
        proxy: Option<String>,
        detail: String,
    },

    #[error(
        "{url} did not answer within {timeout:?}: {detail}; raise [http] timeout on slow links"
    )]
    Timeout {
        url: String,
        timeout: Duration,
        detail: String,
    },

    #[error("transfer from {url} broke off after {received} bytes: {detail}")]
    Interrupted {
        url: String,
        received: u64,
        detail: String,
    },

    #[error("{url} answered HTTP {status}{}", hint_for_status(*status))]
    Status {
        url: String,
        status: u16,
        /// Server-requested delay (`Retry-After`) for 429/503.
        retry_after: Option<Duration>,
    },

    #[error("{url} sent an unusable response: {detail}")]
    UnexpectedResponse {
        url: String,
        detail: String,
        /// Whether asking again may help (e.g. a misaligned 206).
        transient: bool,
    },

    #[error(
        "{url} is larger than the limit of {limit} bytes ({}); raise [http] max_bytes if this is expected",
        size.map(|s| format!("{s} bytes announced")).unwrap_or_else(|| "stopped reading".into())
    )]
    TooLarge {
        url: String,
        limit: u64,
        size: Option<u64>,
    },

    #[error(
        "{url} has {actual} bytes but the catalog says {expected}; the vendor's file and its \
         catalog entry disagree"
    )]
    SizeMismatch {
        url: String,
        expected: u64,
        actual: u64,
    },

    #[error("giving up on {url} after {attempts} attempts: {last}")]
    GaveUp {
        url: String,
        attempts: u32,
        #[source]
        last: Box<FetchError>,
    },

    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn hint_for_status(status: u16) -> &'static str {
    match status {
        401 | 403 => {
            "; the server refuses access (authentication is not supported: use a mirror or a local `path`)"
        }
        404 | 410 => "; the file is gone: check the URL (vendors move catalogs)",
        407 => "; the proxy wants authentication: put credentials in the [http] proxy URL",
        429 | 503 => " (the server is busy)",
        _ => "",
    }
}

impl FetchError {
    /// Whether a new attempt (with backoff, resuming where possible) may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            FetchError::Connect { .. }
            | FetchError::Timeout { .. }
            | FetchError::Interrupted { .. } => true,
            FetchError::Status { status, .. } => {
                matches!(status, 408 | 425 | 429) || (500..=599).contains(status)
            }
            FetchError::UnexpectedResponse { transient, .. } => *transient,
            _ => false,
        }
    }

    /// The delay the server asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    pub(super) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        FetchError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// Maps a reqwest error to the variant that tells the admin what to do.
    pub(super) fn from_reqwest(
        url: &str,
        proxy: Option<&str>,
        timeout: Duration,
        received: u64,
        e: reqwest::Error,
    ) -> Self {
        let detail = chain(&e);
        let url = url.to_string();
        if let Some(tls) = find_tls_error(&e) {
            return FetchError::Tls {
                url,
                detail: tls.to_string(),
            };
        }
        if e.is_timeout() {
            FetchError::Timeout {
                url,
                timeout,
                detail,
            }
        } else if e.is_connect() {
            FetchError::Connect {
                url,
                proxy: proxy.map(str::to_string),
                detail,
            }
        } else if e.is_body() || e.is_decode() || e.is_request() {
            FetchError::Interrupted {
                url,
                received,
                detail,
            }
        } else {
            FetchError::UnexpectedResponse {
                url,
                detail,
                transient: false,
            }
        }
    }
}

/// The whole cause chain, because reqwest's own message ("error sending request") hides
/// the useful part (connection refused, certificate unknown, ...).
fn chain(e: &dyn StdError) -> String {
    let mut parts: Vec<String> = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if parts.last().is_none_or(|p| !p.contains(&text)) {
            parts.push(text);
        }
        cur = s.source();
    }
    parts.join(": ")
}

/// Finds a rustls error anywhere in the chain. `io::Error::source()` skips its own payload
/// (and tokio-rustls nests an io::Error inside another), so descend into payloads explicitly.
fn find_tls_error<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut cur: Option<&'a (dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(t) = err.downcast_ref::<rustls::Error>() {
            return Some(t);
        }
        cur = match err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => err.source(),
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_classification() {
        let status = |s| FetchError::Status {
            url: "u".into(),
            status: s,
            retry_after: None,
        };
        assert!(status(503).is_transient());
        assert!(status(429).is_transient());
        assert!(status(500).is_transient());
        assert!(!status(404).is_transient());
        assert!(!status(403).is_transient());
        assert!(
            !FetchError::TooLarge {
                url: "u".into(),
                limit: 1,
                size: None
            }
            .is_transient()
        );
    }

    #[test]
    fn tls_error_found_inside_io_error() {
        // The shape tokio-rustls + hyper-util produce: io::Error(Other, io::Error(InvalidData, rustls)).
        let io = std::io::Error::other(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        ));
        let found = find_tls_error(&io).expect("rustls error inside io::Error");
        assert!(found.to_string().contains("UnknownIssuer"), "{found}");
    }

    #[test]
    fn messages_name_the_url_and_the_fix() {
        let e = FetchError::Connect {
            url: "https://x.example/c.cab".into(),
            proxy: Some("http://proxy:8080".into()),
            detail: "refused".into(),
        };
        let m = e.to_string();
        assert!(
            m.contains("https://x.example/c.cab") && m.contains("http://proxy:8080"),
            "{m}"
        );
        let e = FetchError::Status {
            url: "https://x.example/c.cab".into(),
            status: 404,
            retry_after: None,
        };
        assert!(e.to_string().contains("HTTP 404"), "{e}");
    }
}
