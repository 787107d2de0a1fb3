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

    /// The host (or the proxy) cannot be reached at all: DNS has no address for it, nothing
    /// listens on the port, or the proxy refuses the tunnel. Asking again within one run
    /// only delays the failure (an offline site once spent 12 minutes retrying 64 files),
    /// so it is not retried and later files of the same host fail at once
    /// ([`FetchError::NotTried`]).
    #[error("{}", unreachable_message(url, proxy.as_deref(), *cause, detail))]
    Unreachable {
        url: String,
        proxy: Option<String>,
        cause: Unreachable,
        detail: String,
    },

    #[error("{url}: not tried, because {host} was found unreachable earlier in this run: {first}")]
    NotTried {
        url: String,
        host: String,
        /// The message of the first failure.
        first: String,
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

/// Why a host is unreachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreachable {
    /// The name does not resolve.
    Dns,
    /// The TCP connection was refused: nothing listens on that port.
    Refused,
    /// The proxy answered the `CONNECT` with an error: it cannot reach the host, or
    /// forbids it. (The proxy's status code is not exposed by the HTTP client.)
    Tunnel,
}

fn unreachable_message(url: &str, proxy: Option<&str>, cause: Unreachable, detail: &str) -> String {
    let host = host_of(url).unwrap_or_else(|| url.to_string());
    match (cause, proxy) {
        (Unreachable::Dns, None) => format!(
            "cannot resolve {host} (for {url}): {detail}; check the host name and the DNS server, or set [http] proxy if this site is only reachable through one"
        ),
        (Unreachable::Dns, Some(p)) => format!(
            "cannot reach {url} through proxy {p}: the proxy's name does not resolve ({detail}); check [http] proxy / HTTPS_PROXY"
        ),
        (Unreachable::Refused, None) => format!(
            "cannot connect to {url}: connection refused ({detail}); nothing listens on {host}: check the URL, or set [http] proxy if this site is only reachable through one"
        ),
        (Unreachable::Refused, Some(p)) => format!(
            "cannot connect to {url} through proxy {p}: connection refused ({detail}); check that the proxy is reachable ([http] proxy / HTTPS_PROXY)"
        ),
        (Unreachable::Tunnel, p) => format!(
            "proxy {} would not open a connection to {host} (for {url}): {detail}; the proxy cannot reach the host or does not allow it",
            p.unwrap_or("(from the environment)")
        ),
    }
}

/// `host:port` of a URL (the port the scheme implies when absent): the unit that is
/// reachable or not.
pub(super) fn host_of(url: &str) -> Option<String> {
    let u = reqwest::Url::parse(url).ok()?;
    let host = u.host_str()?.to_ascii_lowercase();
    Some(match u.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
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
        } else if let Some(cause) = unreachable_cause(&e).filter(|_| e.is_connect()) {
            FetchError::Unreachable {
                url,
                proxy: proxy.map(str::to_string),
                cause,
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

/// Every error of the chain, `e` first. `io::Error::source()` skips its own payload (and
/// tokio-rustls nests an io::Error inside another), so payloads are descended explicitly.
fn causes<'a>(
    e: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(e), |&err: &&'a (dyn StdError + 'static)| {
        match err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => err.source(),
        }
    })
}

/// Finds a rustls error anywhere in the chain.
fn find_tls_error<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    causes(e).find_map(|err| err.downcast_ref::<rustls::Error>())
}

/// Whether a connect error means the host cannot be reached at all in this run. The HTTP
/// client's connector types are private, so DNS failures and refused tunnels are told by
/// their fixed messages (`dns error`, `tunnel error: unsuccessful`); a refusal by its
/// `io::ErrorKind`. Anything else (a reset, a connect timeout) stays transient.
fn unreachable_cause(e: &(dyn StdError + 'static)) -> Option<Unreachable> {
    causes(e).find_map(|err| {
        if err
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
        {
            return Some(Unreachable::Refused);
        }
        match err.to_string().as_str() {
            "dns error" => Some(Unreachable::Dns),
            "tunnel error: unsuccessful" => Some(Unreachable::Tunnel),
            _ => None,
        }
    })
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
    fn unreachable_hosts_are_permanent_and_named() {
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(unreachable_cause(&refused), Some(Unreachable::Refused));
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert_eq!(unreachable_cause(&reset), None);
        let e = FetchError::Unreachable {
            url: "https://dl.example/c.cab".into(),
            proxy: None,
            cause: Unreachable::Dns,
            detail: "dns error".into(),
        };
        assert!(!e.is_transient());
        assert!(
            e.to_string().contains("cannot resolve dl.example:443"),
            "{e}"
        );
        assert_eq!(host_of("http://Dl.Example/x"), Some("dl.example:80".into()));
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
