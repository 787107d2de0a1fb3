//! HTTP settings and the reqwest client built from them.
//!
//! Settings are a plain struct, decoupled from the TOML model, so the fetcher can be
//! tested (and reused by the daemon) without a config file.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::FetchError;

/// How supctl talks HTTP. The lead maps `[http]` onto this.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Explicit proxy URL for every request (`http://host:port`, credentials allowed).
    /// `None` falls back to the `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` / `NO_PROXY`
    /// environment, as curl does, so service accounts configured that way keep working.
    pub proxy: Option<String>,
    /// Comma-separated hosts/domains/CIDRs that bypass the explicit `proxy`. (Environment
    /// proxies use the `NO_PROXY` variable instead.)
    pub no_proxy: Option<String>,
    /// Extra trust roots, PEM (one or more certificates) or DER files, added to the
    /// platform's roots: corporate TLS-inspecting proxies and internal mirrors need them.
    pub ca_certificates: Vec<PathBuf>,
    /// Longest silence while waiting for response headers or the next body bytes. It is an
    /// idle timeout, not a cap on the whole transfer, because a 1 GiB driver pack on a slow
    /// WAN link legitimately takes longer than any sensible total.
    pub timeout: Duration,
    /// Longest wait for a TCP + TLS connection.
    pub connect_timeout: Duration,
    /// Extra attempts after a transient failure (connect error, timeout, 5xx, 429, broken body).
    pub retries: u32,
    /// First backoff delay; doubles per attempt (with jitter) up to [`MAX_BACKOFF`].
    pub retry_initial_delay: Duration,
    /// Largest body accepted; stops hostile or broken servers from filling the disk.
    pub max_bytes: u64,
    /// Draw a progress bar on stderr.
    pub progress: bool,
    /// Without a bar, print a line on stderr for each retry, so a plan off a terminal
    /// does not sit silent while a host is retried. The `watch` daemon logs retries
    /// instead.
    pub notices: bool,
    /// Sent as `User-Agent`: vendors' CDNs log it, which helps them help admins.
    pub user_agent: String,
}

/// Upper bound of one backoff delay.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Upper bound honoured for a server's `Retry-After`, so a bogus "come back tomorrow"
/// cannot stall a plan.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            proxy: None,
            no_proxy: None,
            ca_certificates: Vec::new(),
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(15),
            retries: 5,
            retry_initial_delay: Duration::from_secs(1),
            max_bytes: 1 << 30,
            progress: std::io::stderr().is_terminal(),
            notices: true,
            user_agent: concat!("supctl/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

/// Builds the client: platform roots plus `ca_certificates`, proxy, timeouts.
///
/// TLS is rustls with aws-lc-rs and `rustls-platform-verifier` (reqwest's `rustls`
/// feature): on Linux that is the system store (`/etc/ssl/certs`, `SSL_CERT_FILE`), on
/// Windows the OS verifier, so corporate roots deployed by GPO are trusted as in a browser.
pub fn build_client(s: &HttpSettings) -> Result<reqwest::Client, FetchError> {
    let mut b = reqwest::Client::builder()
        .user_agent(s.user_agent.clone())
        .connect_timeout(s.connect_timeout)
        .read_timeout(s.timeout)
        .redirect(reqwest::redirect::Policy::limited(10));
    let mut roots = Vec::new();
    for path in &s.ca_certificates {
        roots.extend(load_certificates(path)?);
    }
    if !roots.is_empty() {
        b = b.tls_certs_merge(roots);
    }
    if let Some(p) = &s.proxy {
        let bad = |e: reqwest::Error| FetchError::InvalidProxy {
            proxy: redact(p),
            reason: e.to_string(),
        };
        let parsed = reqwest::Url::parse(p).map_err(|e| FetchError::InvalidProxy {
            proxy: redact(p),
            reason: e.to_string(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(FetchError::InvalidProxy {
                proxy: redact(p),
                reason: "only http:// and https:// proxies are supported".into(),
            });
        }
        let no_proxy = s
            .no_proxy
            .as_deref()
            .and_then(reqwest::NoProxy::from_string);
        b = b.proxy(
            reqwest::Proxy::all(p.as_str())
                .map_err(bad)?
                .no_proxy(no_proxy),
        );
    }
    b.build().map_err(|e| FetchError::Client {
        detail: format!(
            "{e}{}",
            std::error::Error::source(&e)
                .map(|s| format!(": {s}"))
                .unwrap_or_default()
        ),
    })
}

/// Reads a PEM bundle or a single DER certificate, checking it parses so the error names
/// the file instead of surfacing later as an opaque TLS failure.
fn load_certificates(path: &Path) -> Result<Vec<reqwest::Certificate>, FetchError> {
    let fail = |reason: String| FetchError::CaCertificate {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        let certs =
            reqwest::Certificate::from_pem_bundle(&bytes).map_err(|e| fail(e.to_string()))?;
        if certs.is_empty() {
            return Err(fail("no CERTIFICATE block in the PEM file".into()));
        }
        Ok(certs)
    } else {
        x509_parser::parse_x509_certificate(&bytes)
            .map_err(|e| fail(format!("neither PEM nor a DER certificate ({e})")))?;
        let cert = reqwest::Certificate::from_der(&bytes).map_err(|e| fail(e.to_string()))?;
        Ok(vec![cert])
    }
}

/// The proxy a request to `url` most likely goes through, for error messages only.
pub(super) fn proxy_hint(s: &HttpSettings, url: &str) -> Option<String> {
    if let Some(p) = &s.proxy {
        return Some(redact(p));
    }
    let https = url.starts_with("https:");
    let vars: &[&str] = if https {
        &["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
    } else {
        &["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
    };
    vars.iter()
        .find_map(|v| std::env::var(v).ok().filter(|x| !x.is_empty()))
        .map(|p| format!("{} (from the environment)", redact(&p)))
}

/// Hides the password of `http://user:pass@proxy` in messages and logs.
pub fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let s = HttpSettings::default();
        assert_eq!(s.timeout, Duration::from_secs(60));
        assert_eq!(s.retries, 5);
        assert_eq!(s.max_bytes, 1 << 30);
        assert!(s.user_agent.starts_with("supctl/"));
    }

    #[test]
    fn redact_hides_only_the_password() {
        assert_eq!(
            redact("http://bob:secret@proxy:8080"),
            "http://bob:***@proxy:8080/"
        );
        assert_eq!(redact("http://proxy:8080"), "http://proxy:8080");
    }

    #[test]
    fn bad_ca_file_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("corp.pem");
        std::fs::write(&p, b"not a certificate").unwrap();
        let s = HttpSettings {
            ca_certificates: vec![p.clone()],
            ..HttpSettings::default()
        };
        let e = build_client(&s).unwrap_err();
        assert!(
            matches!(&e, FetchError::CaCertificate { path, .. } if path == &p),
            "{e}"
        );
        let s = HttpSettings {
            ca_certificates: vec![dir.path().join("missing.pem")],
            ..HttpSettings::default()
        };
        assert!(matches!(
            build_client(&s),
            Err(FetchError::CaCertificate { .. })
        ));
    }

    #[test]
    fn non_http_proxy_is_rejected_with_its_name() {
        let s = HttpSettings {
            proxy: Some("ftp://proxy:21".into()),
            ..HttpSettings::default()
        };
        let e = build_client(&s).unwrap_err();
        assert!(e.to_string().contains("ftp://proxy:21"), "{e}");
    }
}
