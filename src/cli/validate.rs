//! `supctl validate`: check the desired state without talking to any server.

use clap::Args;
use serde_json::json;

use super::{EXIT_ERROR, EXIT_OK, render};
use crate::config::{self, CatalogKind, Config, Diagnostic, Severity};

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub config: super::session::ConfigArg,
    /// Accept a config with no [server] and no catalog (it empties the update server).
    #[arg(long)]
    pub allow_empty: bool,
    /// Print the result as one JSON object (counts, or every diagnostic with its position).
    #[arg(long)]
    pub json: bool,
}

/// Version of `validate --json`; the major changes only when a field is renamed or removed.
const JSON_FORMAT: &str = "1";

pub(super) fn run(args: ValidateArgs) -> anyhow::Result<u8> {
    let path = config::default_path(args.config.path());
    let opts = config::LoadOptions {
        allow_empty: args.allow_empty,
    };
    let result = config::load_with(&path, opts).and_then(|(cfg, mut warnings)| {
        let found = local_catalog_checks(&cfg);
        if found.is_empty() {
            return Ok((cfg, warnings));
        }
        let errors = found.iter().any(|d| d.severity == Severity::Error);
        warnings.extend(found);
        if errors {
            Err(config::Diagnostics(warnings))
        } else {
            Ok((cfg, warnings))
        }
    });
    if args.json {
        let (valid, cfg, diags) = match &result {
            Ok((cfg, warnings)) => (true, Some(cfg), warnings.as_slice()),
            Err(diags) => (false, None, diags.0.as_slice()),
        };
        let abs = std::path::absolute(&path).unwrap_or_else(|_| path.clone());
        let mut v = json!({
            "format_version": JSON_FORMAT,
            "valid": valid,
            "config": abs.display().to_string(),
            "diagnostics": diags.iter().map(diagnostic_json).collect::<Vec<_>>(),
        });
        if let (Some(cfg), Some(o)) = (cfg, v.as_object_mut()) {
            for (k, n) in counts(cfg) {
                o.insert(k.into(), json!(n));
            }
            o.insert(
                "files".into(),
                json!(
                    cfg.files
                        .iter()
                        .map(|f| f.display().to_string())
                        .collect::<Vec<_>>()
                ),
            );
        }
        crate::outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(if valid { EXIT_OK } else { EXIT_ERROR });
    }
    match result {
        Ok((cfg, warnings)) => {
            for w in &warnings {
                render::diagnostic(w);
            }
            let n = |k: &str| {
                counts(&cfg)
                    .into_iter()
                    .find(|(name, _)| *name == k)
                    .map_or(0, |(_, n)| n)
            };
            crate::outln!(
                "Valid: {} ({} file{}): {} catalog{} ({} subscribed, {} partner), {} certificate rule{}, {} publish rule{}.",
                path.display(),
                cfg.files.len(),
                plural(cfg.files.len()),
                n("catalogs"),
                plural(n("catalogs")),
                n("subscribed"),
                n("partner"),
                n("certificate_rules"),
                plural(n("certificate_rules")),
                n("publish_rules"),
                plural(n("publish_rules")),
            );
            Ok(EXIT_OK)
        }
        Err(diags) => {
            for d in &diags.0 {
                render::diagnostic(d);
            }
            let n = diags.error_count();
            crate::errln!("{} error{} in {}", n, plural(n), path.display());
            Ok(EXIT_ERROR)
        }
    }
}

/// Catalogs read from a path are at hand, so their `categories` and `stage` entries are
/// resolved here: a misspelt category fails `validate` instead of the first apply. A catalog
/// whose signer is not approved yet is left to `plan`, which says why (11508); its XML is not
/// read before that.
fn local_catalog_checks(cfg: &Config) -> Vec<Diagnostic> {
    let now = chrono::Utc::now();
    let mut out = Vec::new();
    for c in cfg.catalogs.values() {
        let categories = match &c.categories {
            config::CategorySelection::Only(r) => r.as_slice(),
            config::CategorySelection::All => &[],
        };
        let stage = match &c.stage {
            config::Staging::Only(r) => r.as_slice(),
            config::Staging::None | config::Staging::All => &[],
        };
        if categories.is_empty() && stage.is_empty() {
            continue;
        }
        let Some(content) = crate::catalog::acquire::read_local(cfg, c, now) else {
            continue;
        };
        for (what, refs) in [("categories", categories), ("stage", stage)] {
            for r in refs {
                if let Err(e) = crate::catalog::v3::resolve(&content.categories, &r.to_string()) {
                    out.push(
                        Diagnostic::error(
                            c.loc.clone(),
                            format!("catalog {}: {what} entry `{r}`: {e}", c.key),
                        )
                        .with_hint(format!(
                            "list the catalog's categories with `supctl catalog categories {}`; {what} entries are display-name paths from the root, or GUIDs",
                            c.key
                        )),
                    );
                }
            }
        }
    }
    out
}

/// What a valid config declares, by the names `--json` uses.
fn counts(cfg: &Config) -> [(&'static str, usize); 5] {
    [
        ("catalogs", cfg.catalogs.len()),
        (
            "subscribed",
            cfg.catalogs.values().filter(|c| c.subscribed).count(),
        ),
        (
            "partner",
            cfg.catalogs
                .values()
                .filter(|c| c.kind == CatalogKind::Partner)
                .count(),
        ),
        ("certificate_rules", cfg.certificates.len()),
        ("publish_rules", cfg.publish.len()),
    ]
}

fn diagnostic_json(d: &Diagnostic) -> serde_json::Value {
    json!({
        "severity": d.severity,
        "file": d.loc.as_ref().map(|l| l.file.display().to_string()),
        "line": d.loc.as_ref().map(|l| l.line),
        "column": d.loc.as_ref().map(|l| l.col),
        "message": d.message,
        "hint": d.hint,
    })
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
