//! `supctl catalog inspect | updates | categories | partners`: look at a catalog before
//! subscribing to it.

use std::io::{Read, Write};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::{EXIT_ERROR, EXIT_OK};
use crate::catalog::fetch::{CatalogSource, Fetcher, HttpSettings, redact};
use crate::catalog::inspect::{Inspection, SignerPolicy, inspect, verify_file};
use crate::catalog::limits::CatalogLimits;
use crate::catalog::model::UpdateRecord;
use crate::catalog::partners;
use crate::catalog::summary::Summary;
use crate::catalog::tally::tally_file;
use crate::catalog::v3::{members_under, resolve_all};
use crate::ids::Thumbprint;
use crate::trust::{
    SignerReport, TrustDecision, approve_line, expired_signer_hint, expired_signer_reason,
};

#[derive(Debug, Args)]
pub struct CatalogArgs {
    #[command(subcommand)]
    pub command: CatalogCommand,
}

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Verify a catalog's signature and summarise what it contains
    Inspect {
        /// Catalog CAB or XML: a local path or an https:// URL
        source: String,
        /// Print one JSON object
        #[arg(long)]
        json: bool,
        /// Require the catalog to be signed by this certificate (SHA-1 or SHA-256); repeatable
        #[arg(long = "trust", value_name = "THUMBPRINT")]
        trust: Vec<String>,
        /// Config whose `[limits]` apply (default ./supctl.toml, else ./supctl/, else built-in limits)
        #[arg(short = 'c', long = "config", value_name = "PATH")]
        config: Option<std::path::PathBuf>,
    },
    /// List a catalog's updates, optionally only those in some V3 categories
    Updates {
        source: String,
        /// Category path (`Lenovo/Device Drivers - X`) or GUID; repeatable, includes subcategories
        #[arg(long = "category", value_name = "PATH|GUID")]
        categories: Vec<String>,
        #[arg(long)]
        json: bool,
        /// Config whose `[limits]` apply (default ./supctl.toml, else ./supctl/, else built-in limits)
        #[arg(short = 'c', long = "config", value_name = "PATH")]
        config: Option<std::path::PathBuf>,
    },
    /// Show a catalog's V3 category tree: the paths `categories` and `stage` take, member counts
    Categories(super::categories::CategoriesArgs),
    /// Keep the CABs pinned in supctl.lock in `[archive] path` (by SHA-256), so a --locked
    /// plan elsewhere finds them after the vendor has moved on
    Archive {
        /// Catalog keys (default: every locked catalog)
        #[arg(value_name = "CATALOG")]
        catalogs: Vec<String>,
        #[arg(short = 'c', long = "config", value_name = "PATH")]
        config: Option<std::path::PathBuf>,
    },
    /// List the partner catalogs (a refreshed list when there is one, else the built-in list)
    Partners {
        #[arg(long)]
        json: bool,
        /// Download Microsoft's partner catalog list and keep it in the state directory
        #[arg(long)]
        refresh: bool,
        /// With --refresh: read the list (CAB or XML) from this path or https URL instead
        #[arg(long, value_name = "PATH|URL", requires = "refresh")]
        from: Option<String>,
        /// Config whose `[server]` path holds the state directory (default ./supctl.toml, else ./supctl/)
        #[arg(short = 'c', long = "config", value_name = "PATH")]
        config: Option<std::path::PathBuf>,
        /// State directory, instead of the config's
        #[arg(long, value_name = "DIR")]
        state_dir: Option<std::path::PathBuf>,
    },
}

pub fn run(args: CatalogArgs) -> anyhow::Result<u8> {
    match args.command {
        CatalogCommand::Inspect {
            source,
            json,
            trust,
            config,
        } => run_inspect(&source, json, &trust, &catalog_limits(config)?),
        CatalogCommand::Updates {
            source,
            categories,
            json,
            config,
        } => run_updates(&source, &categories, json, &catalog_limits(config)?),
        CatalogCommand::Categories(args) => super::categories::run(args),
        CatalogCommand::Archive { catalogs, config } => {
            super::lock::run_archive(config.as_deref(), &catalogs)
        }
        CatalogCommand::Partners {
            json,
            refresh,
            from,
            config,
            state_dir,
        } => run_partners(json, refresh, from.as_deref(), config, state_dir),
    }
}

/// A catalog file to read: the admin's own, or a download in a throw-away directory that
/// lives as long as this.
struct Source {
    file: std::fs::File,
    _download: Option<tempfile::TempDir>,
}

/// Opens a local catalog, or downloads a URL (https only) into a throw-away cache first.
fn open_source(source: &str) -> anyhow::Result<Source> {
    let lower = source.to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        let cache = tempfile::tempdir().context("creating a download directory")?;
        let fetcher = Fetcher::new(HttpSettings::default(), cache.path().to_path_buf())?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the HTTP runtime")?;
        let fetched = runtime
            .block_on(fetcher.fetch_catalog("inspect", &CatalogSource::Url(source.to_string())))
            .with_context(|| format!("downloading `{}`", redact(source)))?;
        let file = std::fs::File::open(&fetched.path)
            .with_context(|| format!("reading the download of `{}`", redact(source)))?;
        return Ok(Source {
            file,
            _download: Some(cache),
        });
    }
    let file = std::fs::File::open(source).with_context(|| format!("reading `{source}`"))?;
    Ok(Source {
        file,
        _download: None,
    })
}

/// Reads a local catalog, or downloads a URL (https only) into a throw-away cache first.
fn read_source(source: &str) -> anyhow::Result<Vec<u8>> {
    let mut opened = open_source(source)?;
    let mut data = Vec::new();
    opened
        .file
        .read_to_end(&mut data)
        .with_context(|| format!("reading `{}`", redact(source)))?;
    Ok(data)
}

/// The `[limits]` of `-c` (which must load), else of the default config when it loads,
/// else the built-in defaults: looking at a catalog needs no config. Only `[limits]` is read,
/// and nothing is applied, so a config that declares no catalog is fine here.
fn catalog_limits(config: Option<std::path::PathBuf>) -> anyhow::Result<CatalogLimits> {
    let explicit = config.is_some();
    let path = crate::config::default_path(config.as_deref());
    let opts = crate::config::LoadOptions { allow_empty: true };
    match crate::config::load_with(&path, opts) {
        Ok((cfg, _)) => Ok(CatalogLimits::from(&cfg.limits)),
        Err(e) if explicit => bail!("{e}"),
        Err(_) => Ok(CatalogLimits::default()),
    }
}

/// Reads and inspects a catalog file or URL (`trust`: the signers to require, if any).
pub(super) fn load(
    source: &str,
    trust: Option<&[Thumbprint]>,
    limits: &CatalogLimits,
) -> anyhow::Result<Inspection> {
    let data = read_source(source)?;
    let policy = trust.map(SignerPolicy::approving);
    inspect(&data, policy.as_ref(), limits, Utc::now())
        .with_context(|| format!("parsing `{source}`"))
}

fn date(d: DateTime<Utc>) -> String {
    d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn signer_json(s: &SignerReport) -> Value {
    let c = &s.certificate;
    json!({
        "subject": c.subject, "issuer": c.issuer, "sha1": c.sha1, "sha256": c.sha256,
        "not_before": date(c.not_before), "not_after": date(c.not_after), "expired": s.expired,
        "timestamped": s.timestamp.is_some(), "timestamp": s.timestamp.map(date),
        "digest_algorithm": s.digest_algorithm, "nested": s.nested,
    })
}

fn run_inspect(
    source: &str,
    as_json: bool,
    trust: &[String],
    limits: &CatalogLimits,
) -> anyhow::Result<u8> {
    let approved: Vec<Thumbprint> = trust
        .iter()
        .map(|t| Thumbprint::parse(t))
        .collect::<Result<_, _>>()?;
    // Verify, then count, in two steps: when the XML does not parse, what was learnt about
    // the signature is still shown. Both read the file as it streams: inspecting a catalog
    // costs a few MB whatever its size.
    let opened = open_source(source)?;
    let policy = (!approved.is_empty()).then(|| SignerPolicy::approving(&approved));
    let now = Utc::now();
    let ins = verify_file(&opened.file, policy.as_ref(), now)
        .with_context(|| format!("reading `{}`", redact(source)))?;
    let mut parse_error = None;
    let mut summary = None;
    if ins.refused.is_none() {
        match tally_file(&opened.file, limits, now) {
            Ok(s) => summary = Some(s),
            Err(e) => parse_error = Some(format!("parsing `{source}`: {e}")),
        }
    }
    let sig = &ins.signature;
    let status = serde_json::to_value(sig.status)?;
    let expired = ins
        .expired_signer()
        .map(|s| json!({ "reason": expired_signer_reason(s), "hint": expired_signer_hint(None) }));
    let mut out = json!({
        "source": source,
        "signature": {
            "status": status, "reason": sig.reason, "trusted": ins.trusted(),
            "signers": sig.signers.iter().map(signer_json).collect::<Vec<_>>(),
            "expired_signer": expired,
        },
    });
    if let Some(summary) = &summary
        && let (Value::Object(o), Value::Object(s)) = (&mut out, serde_json::to_value(summary)?)
    {
        o.extend(s);
    }
    if let (Some(reason), Value::Object(o)) =
        (ins.refused.as_ref().or(parse_error.as_ref()), &mut out)
    {
        o.insert("error".into(), json!(reason));
    }
    let mut stdout = crate::cli::output::stdout();
    if as_json {
        writeln!(stdout, "{}", serde_json::to_string_pretty(&out)?)?;
    } else {
        print_inspect(&mut stdout, &ins, summary.as_ref(), &out)?;
    }
    if let Some(reason) = &ins.refused {
        crate::errln!("error: {reason}; nothing was extracted");
        match &ins.decision {
            Some(TrustDecision::Untrusted { signers }) => {
                for s in signers {
                    crate::errln!("  to approve: {}", approve_line(s));
                }
            }
            Some(TrustDecision::Expired { .. }) => {
                crate::errln!("  hint: {}", expired_signer_hint(None));
            }
            _ => {}
        }
        return Ok(EXIT_ERROR);
    }
    if let Some(e) = parse_error {
        crate::errln!("error: {e}");
        return Ok(EXIT_ERROR);
    }
    Ok(EXIT_OK)
}

fn print_inspect(
    w: &mut impl Write,
    ins: &Inspection,
    summary: Option<&Summary>,
    out: &Value,
) -> anyhow::Result<()> {
    let sig = &ins.signature;
    let trusted = match ins.trusted() {
        Some(true) => " (trusted)",
        Some(false) => " (NOT trusted)",
        None => "",
    };
    writeln!(
        w,
        "signature: {}{trusted}",
        out["signature"]["status"].as_str().unwrap_or("?")
    )?;
    if let Some(r) = &sig.reason {
        writeln!(w, "  reason: {r}")?;
    }
    for s in &sig.signers {
        let c = &s.certificate;
        writeln!(w, "  signer: {} (issuer {})", c.subject, c.issuer)?;
        writeln!(w, "    sha1 {}  sha256 {}", c.sha1, c.sha256)?;
        let ts = s
            .timestamp
            .map(|t| format!(", timestamped {}", date(t)))
            .unwrap_or_default();
        let expired = if s.expired { ", EXPIRED" } else { "" };
        writeln!(
            w,
            "    valid {} .. {}{expired}{ts}",
            date(c.not_before),
            date(c.not_after)
        )?;
    }
    // Without --trust the catalog is still shown (admins look before approving), but
    // `plan` would refuse it: say so in plan's words.
    if let (Some(s), None) = (ins.expired_signer(), &ins.refused) {
        writeln!(w, "  expired: {}", expired_signer_reason(s))?;
        writeln!(w, "  hint: {}", expired_signer_hint(None))?;
    }
    let Some(s) = summary else {
        return Ok(());
    };
    writeln!(
        w,
        "format: {}{}",
        s.format,
        if s.missing_content_certificates {
            " (no content certificates: status 11523)"
        } else {
            ""
        }
    )?;
    writeln!(
        w,
        "updates: {}  superseded references: {}  content: {} bytes",
        s.updates, s.superseded_refs, s.content_bytes
    )?;
    for (title, map) in [
        ("vendors", &s.vendors),
        ("products", &s.products),
        ("classifications", &s.classifications),
    ] {
        let parts: Vec<String> = map.iter().map(|(k, v)| format!("{k} ({v})")).collect();
        writeln!(w, "{title}: {}", parts.join(", "))?;
    }
    writeln!(w, "categories: {}", s.categories)?;
    writeln!(
        w,
        "content certificates: {} ({} expired)",
        s.content_certificates, s.expired_content_certificates
    )?;
    for d in &s.duplicates {
        writeln!(w, "warning: {d}")?;
    }
    Ok(())
}

fn update_json(u: &UpdateRecord) -> Value {
    json!({
        "id": u.id, "title": u.title(), "vendor": u.vendor, "products": u.products,
        "classification": u.classification, "severity": u.severity, "update_type": u.update_type,
        "publication_state": u.publication_state, "created": u.created_raw,
        "kb_article": u.kb_article, "superseded": u.superseded,
        "files": u.files().map(|f| json!({"name": f.name, "size": f.size, "sha1": f.sha1, "uri": f.uri})).collect::<Vec<_>>(),
    })
}

fn run_updates(
    source: &str,
    categories: &[String],
    as_json: bool,
    limits: &CatalogLimits,
) -> anyhow::Result<u8> {
    let ins = load(source, None, limits)?;
    let Some(x) = ins.extracted else {
        bail!("{}", ins.refused.unwrap_or_default());
    };
    let content = x.content;
    // On stderr: the list on stdout stays one update per line.
    for d in &content.duplicates {
        crate::errln!("warning: {d}");
    }
    let selected: Vec<&UpdateRecord> = if categories.is_empty() {
        content.updates.iter().map(|u| &**u).collect()
    } else {
        if content.categories.is_empty() {
            bail!(
                "--category needs a v3 catalog; this one is {}",
                content.format.as_str()
            );
        }
        let ids = resolve_all(&content.categories, categories)?;
        let members = members_under(&content.categories, &ids);
        content
            .updates
            .iter()
            .filter(|u| members.contains(&u.id))
            .map(|u| &**u)
            .collect()
    };
    let mut stdout = crate::cli::output::stdout();
    if as_json {
        let list: Vec<Value> = selected.iter().map(|u| update_json(u)).collect();
        writeln!(stdout, "{}", serde_json::to_string_pretty(&list)?)?;
    } else {
        for u in &selected {
            writeln!(
                stdout,
                "{}  {}  {:<16}  {}",
                u.id,
                &u.created.format("%Y-%m-%d"),
                u.classification,
                u.title()
            )?;
        }
        writeln!(stdout, "{} update(s)", selected.len())?;
    }
    Ok(EXIT_OK)
}

/// The state directory for the partner list: `--state-dir`, else the config's, else `.supctl`.
fn partner_state_dir(
    config: Option<std::path::PathBuf>,
    state_dir: Option<std::path::PathBuf>,
) -> std::path::PathBuf {
    if let Some(d) = state_dir {
        return d;
    }
    let path = crate::config::default_path(config.as_deref());
    match crate::config::load(&path) {
        Ok((cfg, _)) => cfg.server.path,
        Err(_) => std::path::PathBuf::from(".supctl"),
    }
}

fn run_partners(
    as_json: bool,
    refresh: bool,
    from: Option<&str>,
    config: Option<std::path::PathBuf>,
    state_dir: Option<std::path::PathBuf>,
) -> anyhow::Result<u8> {
    let dir = partner_state_dir(config, state_dir);
    if refresh {
        let source = from.unwrap_or(partners::LIST_URL);
        let data = read_source(source)?;
        let xml = partners::list_xml(&data)
            .with_context(|| format!("reading the partner list from `{}`", redact(source)))?;
        let list = partners::parse_list(&xml)
            .with_context(|| format!("parsing the partner list from `{}`", redact(source)))?;
        partners::save_cached(&dir, &xml)
            .with_context(|| format!("saving the partner list in {}", dir.display()))?;
        crate::errln!(
            "Refreshed the partner catalog list: {} catalogs, saved in {}.",
            list.len(),
            dir.join(partners::CACHE_FILE).display()
        );
    }
    let refreshed = partners::load_cached(&dir);
    let list: Vec<partners::PartnerCatalog> = match &refreshed {
        Some(l) => l.clone(),
        None => partners::builtin().to_vec(),
    };
    if !as_json {
        crate::errln!(
            "{}",
            if refreshed.is_some() {
                "Partner catalogs (refreshed list; the built-in list fills gaps):"
            } else {
                "Partner catalogs (built-in list; refresh with --refresh):"
            }
        );
    }
    let mut stdout = crate::cli::output::stdout();
    if as_json {
        writeln!(stdout, "{}", serde_json::to_string_pretty(&list)?)?;
    } else {
        for p in &list {
            writeln!(
                stdout,
                "{:<14} {:<28} {}\n{:<14} {}",
                p.key, p.publisher, p.name, "", p.url
            )?;
        }
    }
    Ok(EXIT_OK)
}
