//! Acquiring one catalog: fetch (or read) the CAB, verify its signature against the approved
//! signers, and only then extract and parse it (trust rule 1).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::extract::{PackageSink, extract_with, read_into};
use super::fetch::{CatalogSource, Fetcher};
use super::inspect::{SignerPolicy, verify};
use super::limits::CatalogLimits;
use super::model::CatalogContent;
use super::parsed_cache;
use super::sdp::KeepXml;
use crate::config;
use crate::ids::{Sha256, Thumbprint};
use crate::trust::{SignatureReport, SignerReport, TrustDecision};

/// What acquiring produced, as the planner needs it.
#[derive(Debug, Clone)]
pub enum Acquisition {
    /// Signed by an approved signer; parsed.
    Trusted {
        content: CatalogContent,
        report: SignatureReport,
    },
    /// Validly signed, but by no approved (or by a blocked) signer: status 11508.
    Untrusted { report: SignatureReport },
    /// Not signed at all.
    Unsigned,
    /// The signature does not verify (tampered, truncated, wrong key usage).
    Invalid { reason: String },
    /// It verifies, but the signer had expired with no timestamp covering it, and the
    /// catalog does not set `allow_expired_signer`.
    Expired { signer: SignerReport },
    /// Could not be fetched, read or parsed.
    Failed { reason: String },
}

#[derive(Debug, Clone)]
pub struct Acquired {
    pub key: String,
    /// The URL or path it came from.
    pub source: String,
    /// SHA-256 of the CAB as fetched: the catalog revision an apply records as in force.
    pub cab_sha256: Option<Sha256>,
    /// The CAB's size in bytes, for the lock (`supctl.lock`).
    pub cab_bytes: Option<u64>,
    /// The vendor's ETag for it, recorded with the revision.
    pub etag: Option<String>,
    pub acquisition: Acquisition,
    /// The content was read from the summary saved for this very CAB
    /// (`catalog::parsed_cache`) rather than parsed from it: a plan that publishes from
    /// it checks the summary against the CAB first (`reconcile::summaries`).
    pub from_summary: bool,
}

impl Acquired {
    /// Drops the catalog's update records once the plan is made: applying and recording
    /// the run need the catalog's signature, format and certificates, not its updates, and
    /// the records of ten 10,000-update catalogs are some 300 MB an apply would otherwise
    /// carry beside the packages it publishes.
    pub fn shed_updates(&mut self) {
        if let Acquisition::Trusted { content, .. } = &mut self.acquisition {
            content.updates = Vec::new();
        }
    }
}

/// Where a configured catalog comes from: its `path`, its `url`, or the partner list
/// (`refreshed` first, then the built-in one).
pub fn source_of(
    c: &config::Catalog,
    refreshed: &[super::partners::PartnerCatalog],
) -> Result<CatalogSource, String> {
    if let Some(p) = &c.path {
        return Ok(CatalogSource::Path(p.clone()));
    }
    if let Some(u) = &c.url {
        return Ok(CatalogSource::Url(u.clone()));
    }
    if c.kind == crate::store::CatalogKind::Custom {
        return Err(format!(
            "custom catalog {} has no `url` or `path` yet (a stub written by `supctl import`); fill one in before synchronizing it",
            c.key
        ));
    }
    let name = c.name.as_deref().unwrap_or(&c.key);
    super::partners::resolve(refreshed, name)
        .map(|p| CatalogSource::Url(p.url.to_string()))
        .ok_or_else(|| format!("`{name}` is not in the partner catalog list; see `supctl catalog partners`, or give `url`"))
}

/// Approved and blocked catalog signers for one catalog: its `signers` plus `[[certificate]]`
/// rules of kind `catalog`.
pub fn signer_policy(
    cfg: &config::Config,
    c: &config::Catalog,
) -> (Vec<Thumbprint>, Vec<Thumbprint>) {
    let mut approved = c.signers.clone();
    let mut blocked = Vec::new();
    for r in cfg
        .certificates
        .iter()
        .filter(|r| r.kind == config::CertKind::Catalog)
    {
        match r.state {
            config::CertState::Approved => approved.push(r.thumbprint.clone()),
            config::CertState::Blocked => blocked.push(r.thumbprint.clone()),
        }
    }
    (approved, blocked)
}

/// Verifies and, when trusted, parses CAB bytes under `limits` (blocking; run it off the
/// async runtime), copying the package XML of the updates `keep` names. `cached` yields the
/// parsed-catalog summary saved for this very CAB; it is asked only once the signature
/// verified and the signer is trusted under the current policy, and what it returns is used
/// instead of parsing.
pub fn verify_and_parse(
    data: &[u8],
    policy: &SignerPolicy<'_>,
    limits: &CatalogLimits,
    now: DateTime<Utc>,
    keep: KeepXml<'_>,
    cached: impl FnOnce() -> Option<CatalogContent>,
) -> Acquisition {
    let report = match trusted(data, policy, now) {
        Ok(report) => report,
        Err(refused) => return refused.into(),
    };
    if let Some(content) = cached() {
        return Acquisition::Trusted { content, report };
    }
    match extract_with(data, limits, now, keep) {
        Ok(x) => Acquisition::Trusted {
            content: x.content,
            report,
        },
        Err(e) => Acquisition::Failed {
            reason: e.to_string(),
        },
    }
}

/// Why the signature gate refused a CAB: each is the [`Acquisition`] of the same name.
#[derive(Debug)]
pub enum Refusal {
    Untrusted { report: SignatureReport },
    Unsigned,
    Invalid { reason: String },
    Expired { signer: Box<SignerReport> },
    Failed { reason: String },
}

impl Refusal {
    /// In words, after "its CAB ...".
    pub fn reason(self) -> String {
        match self {
            Refusal::Untrusted { .. } => "its signer is not approved".into(),
            Refusal::Unsigned => "it is not signed".into(),
            Refusal::Expired { signer } => crate::trust::expired_signer_reason(&signer),
            Refusal::Invalid { reason } | Refusal::Failed { reason } => reason,
        }
    }
}

impl From<Refusal> for Acquisition {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Untrusted { report } => Acquisition::Untrusted { report },
            Refusal::Unsigned => Acquisition::Unsigned,
            Refusal::Invalid { reason } => Acquisition::Invalid { reason },
            Refusal::Expired { signer } => Acquisition::Expired { signer: *signer },
            Refusal::Failed { reason } => Acquisition::Failed { reason },
        }
    }
}

/// The signature half of [`verify_and_parse`]: the report when the CAB verifies and its
/// signer is trusted.
fn trusted(
    data: &[u8],
    policy: &SignerPolicy<'_>,
    now: DateTime<Utc>,
) -> Result<SignatureReport, Refusal> {
    let gate = verify(data, Some(policy), now);
    match gate.decision {
        Some(TrustDecision::Trusted { .. }) => Ok(gate.signature),
        Some(TrustDecision::Untrusted { .. }) => Err(Refusal::Untrusted {
            report: gate.signature,
        }),
        Some(TrustDecision::Unsigned) => Err(Refusal::Unsigned),
        Some(TrustDecision::Invalid { reason }) => Err(Refusal::Invalid { reason }),
        Some(TrustDecision::Expired { signer }) => Err(Refusal::Expired {
            signer: Box::new(signer),
        }),
        None => Err(Refusal::Failed {
            reason: gate
                .refused
                .unwrap_or_else(|| "the catalog was not verified".into()),
        }),
    }
}

/// Reads a catalog declared with a `path` and returns its content when its signature is
/// trusted under the config's policy: `validate` checks category names against it without
/// a state directory or the network. `None` for URL sources, unreadable files and catalogs
/// not trusted yet (the plan says why).
pub fn read_local(
    cfg: &config::Config,
    c: &config::Catalog,
    now: DateTime<Utc>,
) -> Option<CatalogContent> {
    let data = std::fs::read(c.path.as_ref()?).ok()?;
    match Gate::of(cfg, c).check(&data, now, KeepXml::None, || None) {
        Acquisition::Trusted { content, .. } => Some(content),
        _ => None,
    }
}

/// What decides whether one catalog's CAB is trusted and how much of it may be parsed: the
/// catalog's approved and blocked signers and `[limits]`. Acquiring a catalog, reading a
/// local copy and parsing a cached CAB again all go through it, so they cannot apply
/// different rules; it owns its data, so the work can run off the async runtime.
#[derive(Debug, Clone)]
pub struct Gate {
    approved: Vec<Thumbprint>,
    blocked: Vec<Thumbprint>,
    allow_expired: bool,
    limits: CatalogLimits,
}

impl Gate {
    /// The gate of catalog `c` under the config's certificate rules and limits.
    pub fn of(cfg: &config::Config, c: &config::Catalog) -> Self {
        let (approved, blocked) = signer_policy(cfg, c);
        Gate {
            approved,
            blocked,
            allow_expired: c.allow_expired_signer,
            limits: CatalogLimits::from(&cfg.limits),
        }
    }

    /// [`verify_and_parse`] under this gate (blocking).
    pub fn check(
        &self,
        data: &[u8],
        now: DateTime<Utc>,
        keep: KeepXml<'_>,
        cached: impl FnOnce() -> Option<CatalogContent>,
    ) -> Acquisition {
        verify_and_parse(data, &self.policy(), &self.limits, now, keep, cached)
    }

    /// The signature check of [`Gate::check`] alone, parsing nothing (blocking).
    pub fn verify(&self, data: &[u8], now: DateTime<Utc>) -> Result<SignatureReport, Refusal> {
        trusted(data, &self.policy(), now)
    }

    fn policy(&self) -> SignerPolicy<'_> {
        SignerPolicy {
            approved: &self.approved,
            blocked: &self.blocked,
            allow_expired: self.allow_expired,
        }
    }
}

/// Why a catalog could not be parsed again from the CAB verified when it was acquired.
#[derive(Debug, thiserror::Error)]
pub enum ReparseError {
    #[error("it was not fetched, so there is no verified CAB to parse")]
    NotFetched,
    #[error("cannot find its cached CAB: {0}")]
    Cache(#[from] super::fetch::FetchError),
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{} is no longer the CAB verified when the catalog was acquired (SHA-256 {found}, not {expected})",
        path.display()
    )]
    Replaced {
        path: PathBuf,
        expected: Sha256,
        found: Sha256,
    },
    #[error("its CAB is no longer trusted or no longer parses: {0}")]
    Refused(String),
}

/// Reads again, without downloading it, the CAB a catalog was acquired from, and passes it
/// through the same gate as [`acquire`], signature first: a plan made from the catalog's
/// summary has its summary checked against the CAB (`reconcile::summaries`), and apply
/// reads the packages a plan publishes from it (`reconcile::hydrate`). `path` is the
/// fetch cache's copy ([`Fetcher::cached_catalog`]) and `expected` the SHA-256 the plan
/// was made from: the bytes are read once and must hash to it, since a later fetch of the
/// key may have replaced the file. Blocking.
pub fn read_cached(
    gate: &Gate,
    path: &Path,
    expected: Sha256,
    now: DateTime<Utc>,
) -> Result<(Vec<u8>, SignatureReport), ReparseError> {
    let data = std::fs::read(path).map_err(|source| ReparseError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let found = Sha256::of(&data);
    if found != expected {
        return Err(ReparseError::Replaced {
            path: path.to_path_buf(),
            expected,
            found,
        });
    }
    let report = gate
        .verify(&data, now)
        .map_err(|refused| ReparseError::Refused(refused.reason()))?;
    Ok((data, report))
}

/// [`read_cached`], then the CAB parsed under the gate's limits; only the packages `keep`
/// names keep their XML. Blocking.
pub fn reparse_cached(
    gate: &Gate,
    path: &Path,
    expected: Sha256,
    now: DateTime<Utc>,
    keep: KeepXml<'_>,
) -> Result<(CatalogContent, SignatureReport), ReparseError> {
    let (data, report) = read_cached(gate, path, expected, now)?;
    let x = extract_with(&data, &gate.limits, now, keep)
        .map_err(|e| ReparseError::Refused(e.to_string()))?;
    Ok((x.content, report))
}

/// [`read_cached`], then the CAB parsed under the gate's limits, each package given to
/// `sink` as it is read; only the packages `keep` names keep their XML. Blocking.
pub(crate) fn restream_cached(
    gate: &Gate,
    path: &Path,
    expected: Sha256,
    now: DateTime<Utc>,
    keep: KeepXml<'_>,
    sink: &mut impl PackageSink,
) -> Result<SignatureReport, ReparseError> {
    let (data, report) = read_cached(gate, path, expected, now)?;
    read_into(&data, &gate.limits, now, keep, sink)
        .map_err(|e| ReparseError::Refused(e.to_string()))?;
    Ok(report)
}

/// Whether a saved summary of an unchanged, trusted CAB may stand in for parsing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reuse {
    /// Planning: a summary is enough to decide.
    Summary,
    /// The summary could not be confirmed against its CAB (`reconcile::summaries`): parse.
    Parse,
}

/// Fetches (conditional GET, cache) and acquires one configured catalog.
pub async fn acquire(
    cfg: &config::Config,
    c: &config::Catalog,
    fetcher: &Fetcher,
    now: DateTime<Utc>,
    reuse: Reuse,
) -> Acquired {
    let failed = |source: String, reason: String| Acquired {
        key: c.key.clone(),
        source,
        cab_sha256: None,
        cab_bytes: None,
        etag: None,
        acquisition: Acquisition::Failed { reason },
        from_summary: false,
    };
    // Only a partner catalog without `url` or `path` needs the (refreshed) partner list.
    let refreshed = if c.url.is_none() && c.path.is_none() {
        super::partners::load_cached(&cfg.server.path).unwrap_or_default()
    } else {
        Vec::new()
    };
    let source = match fetcher
        .pinned(&c.key)
        .map(Ok)
        .unwrap_or_else(|| source_of(c, &refreshed))
    {
        Ok(s) => s,
        Err(e) => return failed(String::new(), e),
    };
    let shown = match &source {
        CatalogSource::Url(u) => u.clone(),
        CatalogSource::Path(p) => p.display().to_string(),
    };
    let fetched = match fetcher.fetch_catalog(&c.key, &source).await {
        Ok(f) => f,
        Err(e) => return failed(shown, e.to_string()),
    };
    let gate = Gate::of(cfg, c);
    let path = fetched.path.clone();
    let cab_bytes = std::fs::metadata(&path).ok().map(|m| m.len());
    let (cache, key, cab) = (
        fetcher.cache_dir().to_path_buf(),
        c.key.clone(),
        fetched.sha256,
    );
    let (acquisition, from_summary) = tokio::task::spawn_blocking(move || {
        match std::fs::read(&path) {
            Ok(data) => {
                let mut from_cache = false;
                // Planning compares hashes; apply reads the XML of what a plan publishes
                // from the cached CAB (`reconcile::hydrate`), so no package XML is kept.
                let acquisition = gate.check(&data, now, KeepXml::None, || {
                    let cached = match reuse {
                        Reuse::Summary => parsed_cache::load(&cache, &key, cab),
                        Reuse::Parse => None,
                    };
                    from_cache = cached.is_some();
                    cached
                });
                if let (Acquisition::Trusted { content, .. }, false) = (&acquisition, from_cache) {
                    // Best effort: without the copy the next plan parses again.
                    let _ = parsed_cache::save(&cache, &key, cab, content);
                }
                (acquisition, from_cache)
            }
            Err(e) => (
                Acquisition::Failed {
                    reason: format!("cannot read {}: {e}", path.display()),
                },
                false,
            ),
        }
    })
    .await
    .unwrap_or_else(|e| {
        let reason = format!("catalog parsing stopped: {e}");
        (Acquisition::Failed { reason }, false)
    });
    Acquired {
        key: c.key.clone(),
        source: shown,
        cab_sha256: Some(fetched.sha256),
        cab_bytes,
        etag: fetched.etag.clone(),
        acquisition,
        from_summary,
    }
}
