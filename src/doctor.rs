//! `supctl doctor`: one read-only look at everything that breaks third-party updating before
//! it breaks, each finding with its fix. It reads the config, the state and (on WSUS) the
//! server; it writes nothing but a temporary file to prove the state directory writable (and,
//! on WSUS before the first plan, the empty site database `plan` would make).
//!
//! The checks, and why each:
//! - **signing**: a certificate in force, valid, not about to expire, and (where supctl keeps
//!   the key) its key present and usable: without it nothing can be published.
//! - **trust export**: the certificate clients were last given is the one in force: clients
//!   refuse content signed by a certificate they do not trust (0x800b0109).
//! - **catalog signers**: every subscribed catalog has an approved signer that is not blocked,
//!   expired or expiring within 30 days: a signer that lapses stops the catalog (11508).
//! - **content certificates**: a catalog that stages content has an approved content
//!   certificate (among those it ships, when known): otherwise staging refuses everything.
//! - **network**: the extra CA files load and the proxy accepts connections.
//! - **state directory**: writable, with free space for the content still to be staged.
//! - **server**: reachable, with the account's role (WSUS), and the state readable.

use std::net::{TcpStream, ToSocketAddrs as _};
use std::path::Path;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::config::{self, Config};
use crate::reconcile::status::expiry_phrase as expiry;
use crate::signing::{KeyDir, check};
use crate::store::{ActualState, CertKind, CertState, ShippedCertificates};

/// How far ahead an expiring catalog signer is a problem.
const EXPIRY_DAYS: i64 = 30;
/// Free space kept beyond the content still to be staged.
const SPACE_MARGIN: u64 = 512 * 1024 * 1024;

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `signing`, `trust-export`, `catalog-signer`, `content-certificates`, `network`,
    /// `state-directory` or `server`.
    pub check: &'static str,
    /// What it is about: `signing`, `catalog.KEY`, a path.
    pub subject: String,
    pub ok: bool,
    pub detail: String,
    /// What to do, when not ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Finding {
    pub fn ok(check: &'static str, subject: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            check,
            subject: subject.into(),
            ok: true,
            detail: detail.into(),
            fix: None,
        }
    }

    pub fn problem(
        check: &'static str,
        subject: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            check,
            subject: subject.into(),
            ok: false,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// The signing certificate in force, its expiry and its key. `key_local`: supctl keeps the
/// key (embedded server) rather than the server (WSUS).
pub fn signing(
    cfg: &Config,
    actual: &ActualState,
    key_local: bool,
    now: DateTime<Utc>,
) -> Vec<Finding> {
    let Some(t) = actual.signing.as_ref().and_then(|s| s.certificate.clone()) else {
        return vec![match &cfg.signing {
            Some(_) => Finding::problem(
                "signing",
                "signing",
                "no signing certificate is in force",
                "run `supctl apply` to put [signing] in force",
            ),
            None => Finding::ok(
                "signing",
                "signing",
                "no signing certificate, and none configured ([signing])",
            ),
        }];
    };
    let facts = actual
        .certificates
        .iter()
        .filter(|c| c.kind == CertKind::WsusSigning && c.matches(&t))
        .find_map(|c| c.facts.clone());
    let Some(f) = facts else {
        return vec![Finding::problem(
            "signing",
            "signing",
            format!("certificate {t} is in force but supctl does not know it"),
            "run `supctl apply` so supctl records it",
        )];
    };
    let mut out = Vec::new();
    let (horizon, fix) = crate::reconcile::status::signing_horizon(cfg);
    let detail = format!(
        "certificate {t} ({}) {}",
        f.subject,
        expiry(f.not_after, now)
    );
    out.push(if f.not_after <= now + horizon {
        Finding::problem("signing", "signing", detail, fix)
    } else {
        Finding::ok("signing", "signing", detail)
    });
    if key_local {
        let keys = KeyDir::new(&cfg.server.path);
        out.push(match keys.key(&t) {
            Ok(Some(k)) => match check(&f.der, &k, now) {
                Ok(()) => Finding::ok("signing", "signing key", "the key is present and signs for the certificate"),
                Err(p) => Finding::problem("signing", "signing key", format!("the key cannot sign: {p}"), "run `supctl apply` with a usable [signing] certificate"),
            },
            Ok(None) => Finding::problem(
                "signing",
                "signing key",
                format!("the key of {t} is missing from {}", cfg.server.path.join("signing").display()),
                "restore it from a backup of the state directory, or remove [signing]'s certificate from the server and apply to make a new one",
            ),
            Err(e) => Finding::problem("signing", "signing key", e.to_string(), "make the state directory readable to this account"),
        });
    }
    out
}

/// Whether the certificate clients were last given is the one in force.
pub fn trust_export(cfg: &Config, actual: &ActualState) -> Option<Finding> {
    let t = actual.signing.as_ref()?.certificate.clone()?;
    Some(match KeyDir::new(&cfg.server.path).last_export() {
        None => Finding::ok(
            "trust-export",
            "signing",
            "never exported here (ConfigMgr's client setting \"Enable third-party software updates\" distributes it)",
        ),
        Some(e) if e.thumbprint == t => Finding::ok(
            "trust-export",
            "signing",
            format!("clients were given {t} on {}", e.at.format("%Y-%m-%d")),
        ),
        Some(e) => Finding::problem(
            "trust-export",
            "signing",
            format!(
                "clients were last given {} ({}), but {t} is in force",
                e.thumbprint,
                e.dir.display()
            ),
            "run `supctl trust export` and redistribute it",
        ),
    })
}

/// Every subscribed catalog's signers: approved, not blocked, not expired or expiring.
pub fn catalog_signers(cfg: &Config, actual: &ActualState, now: DateTime<Utc>) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in cfg.catalogs.values().filter(|c| c.subscribed) {
        let subject = format!("catalog.{}", c.key);
        let (approved, blocked) = crate::catalog::acquire::signer_policy(cfg, c);
        let usable: Vec<_> = approved.iter().filter(|t| !blocked.contains(t)).collect();
        if usable.is_empty() {
            out.push(Finding::problem(
                "catalog-signer",
                subject,
                "no approved signer (nothing of it is published: 11508)",
                format!("approve the vendor's signer: signers = [\"THUMBPRINT\"] in [catalog.{}] (`supctl catalog inspect` shows it)", c.key),
            ));
            continue;
        }
        for t in usable {
            let facts = actual
                .certificates
                .iter()
                .filter(|x| x.kind == CertKind::Catalog && x.matches(t))
                .find_map(|x| x.facts.as_ref());
            out.push(match facts {
                Some(f) if f.not_after <= now + Duration::days(EXPIRY_DAYS) => Finding::problem(
                    "catalog-signer",
                    subject.clone(),
                    format!("signer {t} ({}) {}", f.subject, expiry(f.not_after, now)),
                    "get the vendor's new signer and approve it before the old one lapses",
                ),
                Some(f) => Finding::ok(
                    "catalog-signer",
                    subject.clone(),
                    format!("signer {t} ({}) {}", f.subject, expiry(f.not_after, now)),
                ),
                None => Finding::ok(
                    "catalog-signer",
                    subject.clone(),
                    format!("signer {t} approved (not seen yet)"),
                ),
            });
        }
    }
    out
}

/// Catalogs that stage content have an approved content certificate they can use.
pub fn content_certificates(cfg: &Config, shipped: &[ShippedCertificates]) -> Vec<Finding> {
    let approved: Vec<_> = cfg
        .certificates
        .iter()
        .filter(|r| r.kind == CertKind::Content && r.state == CertState::Approved)
        .map(|r| r.thumbprint.clone())
        .collect();
    let mut out = Vec::new();
    for c in cfg
        .catalogs
        .values()
        .filter(|c| c.subscribed && config::stages_content(cfg, &c.key))
    {
        let subject = format!("catalog.{}", c.key);
        let ships = shipped.iter().find(|s| s.catalog.as_str() == c.key);
        let usable = match ships {
            Some(s) if !s.certificates.is_empty() => s
                .certificates
                .iter()
                .any(|f| approved.iter().any(|t| f.matches(t))),
            _ => !approved.is_empty(),
        };
        out.push(if usable {
            Finding::ok("content-certificates", subject, "an approved content certificate covers what it stages")
        } else {
            Finding::problem(
                "content-certificates",
                subject,
                "it stages content, but no content certificate it ships (or any) is approved: staging refuses every file",
                "approve the vendor's content certificate: [[certificate]] thumbprint = \"…\" kind = \"content\" state = \"approved\" (`supctl plan` lists them)",
            )
        });
    }
    out
}

/// The extra CAs load (building the HTTP client checks them) and the proxy accepts a TCP
/// connection within 5 seconds.
pub fn network(cfg: &Config, client: Result<(), String>) -> Vec<Finding> {
    let mut out = vec![match client {
        Ok(()) => Finding::ok(
            "network",
            "[http]",
            format!("{} extra CA file(s) load", cfg.http.ca_certificates.len()),
        ),
        Err(e) => Finding::problem(
            "network",
            "[http]",
            e,
            "fix http.ca_certificates (PEM or DER certificates) or http.proxy",
        ),
    }];
    if let Some(proxy) = &cfg.http.proxy {
        out.push(match proxy_reachable(proxy) {
            Ok(()) => Finding::ok("network", proxy.clone(), "the proxy accepts connections"),
            Err(e) => Finding::problem(
                "network",
                proxy.clone(),
                format!("the proxy does not accept connections: {e}"),
                "check http.proxy, or the network path to it",
            ),
        });
    }
    out
}

fn proxy_reachable(proxy: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(proxy).map_err(|e| e.to_string())?;
    let host = url.host_str().ok_or("no host")?.to_string();
    let port = url.port_or_known_default().ok_or("no port")?;
    let addrs: Vec<_> = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| format!("{host}: {e}"))?
        .collect();
    let mut last = String::from("no address");
    for a in addrs {
        match TcpStream::connect_timeout(&a, StdDuration::from_secs(5)) {
            Ok(_) => return Ok(()),
            Err(e) => last = format!("{a}: {e}"),
        }
    }
    Err(last)
}

/// The state directory is writable and has room for the content still to be staged.
pub fn state_directory(dir: &Path, actual: Option<&ActualState>, cfg: &Config) -> Vec<Finding> {
    let subject = dir.display().to_string();
    if let Err(e) = tempfile::tempfile_in(dir) {
        return vec![Finding::problem(
            "state-directory",
            subject,
            format!("not writable: {e}"),
            "give this account write access to the state directory ([server] path)",
        )];
    }
    let pending: u64 = actual
        .map(|a| {
            a.updates
                .values()
                .filter(|u| config::stages_content(cfg, u.catalog.as_str()))
                .flat_map(|u| u.files.iter().filter(|f| !f.staged))
                .map(|f| f.size)
                .sum()
        })
        .unwrap_or(0);
    match fs4::available_space(dir) {
        Ok(free) if free < pending.saturating_add(SPACE_MARGIN) => vec![Finding::problem(
            "state-directory",
            subject,
            format!(
                "{} MiB free, {} MiB of content still to stage",
                free >> 20,
                pending >> 20
            ),
            "free space on the volume, or move [server] path to a larger one",
        )],
        Ok(free) => vec![Finding::ok(
            "state-directory",
            subject,
            format!(
                "writable; {} MiB free, {} MiB still to stage",
                free >> 20,
                pending >> 20
            ),
        )],
        Err(e) => vec![Finding::problem(
            "state-directory",
            subject,
            format!("free space unknown: {e}"),
            "check the volume",
        )],
    }
}
