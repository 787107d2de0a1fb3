//! `supctl catalog categories <PATH|URL|CATALOG>`: a catalog's V3 category tree, so admins
//! can find the paths `categories` and `stage` take (and the GUIDs where a path is shared).
//!
//! A file or URL is inspected like `catalog inspect` (verified; no approval needed to look).
//! A configured catalog's key is acquired through the config (`-c`) exactly as `plan` does:
//! same source, same download cache, and only when its signer is approved.

use std::io::Write;

use anyhow::{Context, anyhow, bail};
use chrono::Utc;
use clap::Args;
use serde_json::{Value, json};

use super::EXIT_OK;
use super::session::{self, ConfigArg};
use crate::catalog::acquire::{Acquisition, Reuse, acquire};
use crate::catalog::model::{CatalogContent, FormatVersion};
use crate::catalog::v3::outline;
use crate::trust::{approve_line, expired_signer_hint, expired_signer_reason};

#[derive(Debug, Args)]
pub struct CategoriesArgs {
    /// Catalog CAB or XML (a local path or an https:// URL), or the key of a catalog in the
    /// config (`-c`); a file of that name wins over a key
    source: String,
    /// Print one JSON object
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    config: ConfigArg,
}

pub(super) fn run(args: CategoriesArgs) -> anyhow::Result<u8> {
    let content = read(&args)?;
    let entries = outline(&content.categories);
    let mut stdout = std::io::stdout().lock();
    if args.json {
        let list: Vec<Value> = entries
            .iter()
            .map(|e| {
                let c = e.category;
                json!({
                    "id": c.id, "display_name": c.display_name, "path": c.path,
                    "parent": c.parent, "depth": e.depth, "members": e.members,
                    "total": e.total, "duplicate_path": e.duplicate_path,
                })
            })
            .collect();
        let out = json!({
            "source": args.source,
            "format": content.format.as_str(),
            "categories": list,
        });
        writeln!(stdout, "{}", serde_json::to_string_pretty(&out)?)?;
        return Ok(EXIT_OK);
    }
    if content.format != FormatVersion::V3 || entries.is_empty() {
        writeln!(
            stdout,
            "this catalog is {}: it has no V3 categories (selecting or staging by category needs a v3 catalog with categories)",
            content.format.as_str()
        )?;
        return Ok(EXIT_OK);
    }
    let width = entries
        .iter()
        .map(|e| 2 * e.depth + e.category.path.chars().count())
        .max()
        .unwrap_or(0);
    for e in &entries {
        let shown = format!("{}{}", "  ".repeat(e.depth), e.category.path);
        let within = if e.total != e.members {
            format!(" ({} with subcategories)", e.total)
        } else {
            String::new()
        };
        let duplicate = if e.duplicate_path {
            format!("  [{}] duplicate path: select it by GUID", e.category.id)
        } else {
            String::new()
        };
        writeln!(
            stdout,
            "{shown:<width$}  {}{within}{duplicate}",
            updates(e.members)
        )?;
    }
    writeln!(
        stdout,
        "{} categories; `categories` and `stage` take these paths (any case), or a GUID",
        entries.len()
    )?;
    Ok(EXIT_OK)
}

fn updates(n: usize) -> String {
    if n == 1 {
        "1 update".into()
    } else {
        format!("{n} updates")
    }
}

/// The parsed catalog: a URL or an existing file is inspected; anything else must be the key
/// of a configured catalog.
fn read(args: &CategoriesArgs) -> anyhow::Result<CatalogContent> {
    let source = args.source.as_str();
    let lower = source.to_ascii_lowercase();
    if lower.starts_with("https://")
        || lower.starts_with("http://")
        || std::path::Path::new(source).exists()
    {
        let ins = super::catalog::load(
            source,
            None,
            &crate::catalog::limits::CatalogLimits::default(),
        )?;
        return match ins.extracted {
            Some(x) => Ok(x.content),
            None => Err(anyhow!("{}", ins.refused.unwrap_or_default())),
        };
    }
    configured(args)
}

/// Acquires the configured catalog `args.source` through the config, as `plan` would.
fn configured(args: &CategoriesArgs) -> anyhow::Result<CatalogContent> {
    let key = args.source.as_str();
    let path = crate::config::default_path(args.config.path());
    if args.config.path().is_none() && !path.exists() {
        bail!(
            "`{key}` is not a file or an https:// URL, and there is no config here to find a catalog of that key in\n  hint: pass a catalog file or URL, or the config with -c"
        );
    }
    let (cfg, path) = session::load_config(Some(&path))?;
    let Some(catalog) = cfg.catalogs.get(key) else {
        let known: Vec<&str> = cfg.catalogs.keys().map(String::as_str).collect();
        let hint = match crate::config::suggest(key, &known) {
            Some(s) => format!("did you mean `{s}`?"),
            None if known.is_empty() => format!("{} configures no catalog", path.display()),
            None => format!("configured catalogs: {}", known.join(", ")),
        };
        bail!(
            "`{key}` is not a file, an https:// URL or a catalog of {}\n  hint: {hint}",
            path.display()
        );
    };
    let fetcher = session::fetcher(&cfg)?;
    let acquired =
        session::runtime()?.block_on(acquire(&cfg, catalog, &fetcher, Utc::now(), Reuse::Summary));
    match acquired.acquisition {
        Acquisition::Trusted { content, .. } => Ok(content),
        Acquisition::Untrusted { report } => {
            let signers: Vec<String> = report
                .signers
                .iter()
                .map(|s| format!("{} [{}]", s.certificate.subject, s.certificate.sha1))
                .collect();
            let approve = report
                .signers
                .first()
                .map(|s| {
                    format!(
                        "\n  hint: after reviewing the certificate, add to [catalog.{key}]: {}",
                        approve_line(s)
                    )
                })
                .unwrap_or_default();
            bail!(
                "catalog {key} is signed by {}, which is not an approved signer; nothing was read{approve}",
                signers.join(", ")
            )
        }
        Acquisition::Unsigned => {
            bail!("catalog {key} is not signed; only signed catalogs are read")
        }
        Acquisition::Invalid { reason } => {
            bail!("catalog {key}: the CAB signature does not verify: {reason}")
        }
        Acquisition::Expired { signer } => bail!(
            "catalog {key}: {}\n  hint: {}",
            expired_signer_reason(&signer),
            expired_signer_hint(Some(key))
        ),
        Acquisition::Failed { reason } => Err(anyhow!("catalog {key}: {reason}"))
            .with_context(|| format!("acquiring {}", acquired.source)),
    }
}
