//! `supctl updates list`: the "All Software Updates" view of the store.

use std::fmt::Write as _;

use std::collections::BTreeMap;

use anyhow::bail;
use clap::{Args, Subcommand};
use regex::RegexBuilder;

use crate::catalog::model::Category;
use crate::ids::UpdateId;
use crate::store::db::OpenOptions;
use crate::store::embedded::EmbeddedServer;
use crate::store::query::UpdateFilter;
use crate::store::{CatalogKey, UpdateState};

use super::store::{StoreArgs, emit, print_json};

#[derive(Debug, Subcommand)]
pub enum UpdatesCommand {
    /// List updates, optionally filtered (conditions combine with AND).
    List(ListArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[arg(long, value_name = "KEY")]
    pub catalog: Option<CatalogKey>,
    #[arg(long, value_name = "V")]
    pub vendor: Option<String>,
    #[arg(long, value_name = "P")]
    pub product: Option<String>,
    #[arg(long, value_name = "C")]
    pub classification: Option<String>,
    /// A category path (`Lenovo/BIOS`, see `supctl catalog categories`); includes its
    /// subcategories.
    #[arg(long, value_name = "PATH")]
    pub category: Option<String>,
    #[arg(long, value_parser = ["metadata-only", "deployable", "expired", "declined"])]
    pub state: Option<String>,
    /// A regular expression matched against the title (case-insensitive).
    #[arg(long, value_name = "REGEX")]
    pub title: Option<String>,
    /// Only updates a newer stored update supersedes.
    #[arg(long, conflicts_with = "not_superseded")]
    pub superseded: bool,
    /// Only updates nothing stored supersedes (the newest of their chains).
    #[arg(long)]
    pub not_superseded: bool,
    /// Only approved updates, with their groups and how many computers need them,
    /// installed them and failed (WSUS's summaries; needs `backend = "wsus"`).
    #[arg(long)]
    pub compliance: bool,
}

pub fn run(cmd: UpdatesCommand) -> anyhow::Result<u8> {
    let UpdatesCommand::List(a) = cmd;
    let title = a
        .title
        .as_deref()
        .map(|t| RegexBuilder::new(t).case_insensitive(true).build())
        .transpose()?;
    let filter = UpdateFilter {
        catalog: a.catalog,
        vendor: a.vendor,
        product: a.product,
        classification: a.classification,
        category: a.category,
        state: a.state.as_deref().and_then(UpdateState::parse),
        title,
        superseded: match (a.superseded, a.not_superseded) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
    };
    let cfg = a.store.config()?;
    let checked = filter.catalog.is_some() || filter.category.is_some();
    let (mut rows, trees) = match &cfg {
        // A remote server has no SQL to push the filter into: filter its snapshot.
        Some(c) if c.server.backend == crate::config::BackendKind::Wsus => {
            let backend = super::session::open_backend(c, false)?;
            let state = backend.snapshot()?;
            if checked {
                let catalogs: Vec<CatalogKey> = state.catalogs.keys().cloned().collect();
                check_filters(&filter, &catalogs, &state.categories)?;
            }
            let mut rows = filter.apply(&state);
            if a.compliance {
                rows = with_compliance(rows, &state.approvals, &backend.server().compliance()?);
            }
            (rows, state.categories)
        }
        _ if a.compliance => bail!(
            "--compliance needs a WSUS (`[server] backend = \"wsus\"`): computers report to WSUS, and the embedded server has none"
        ),
        _ => {
            let store =
                EmbeddedServer::open(&a.store.location_of(cfg.as_ref()), OpenOptions::read())?;
            let trees = store.categories()?;
            if checked {
                let catalogs: Vec<CatalogKey> =
                    store.snapshot_settings()?.catalogs.into_keys().collect();
                check_filters(&filter, &catalogs, &trees)?;
            }
            (store.list_updates(&filter)?, trees)
        }
    };
    if let Some(c) = &cfg {
        crate::plan::deselected::mark_rows(&mut rows, c, &trees);
    }
    if a.store.json {
        print_json(&rows)?;
        return Ok(super::EXIT_OK);
    }
    if a.compliance {
        return compliance_table(&rows);
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<36}  {:>3}  {:<25}  {:<12}  {:<20}  {:<18}  {:<13}  TITLE",
        "ID", "REV", "STATE", "CATALOG", "VENDOR", "CLASSIFICATION", "SUPERSEDED BY"
    );
    for r in &rows {
        let _ = writeln!(
            out,
            "{:<36}  {:>3}  {:<25}  {:<12}  {:<20}  {:<18}  {:<13}  {}",
            // Padding needs strings: the newtypes' Display ignores width.
            r.id.to_string(),
            r.revision,
            if r.deselected {
                format!("{}, deselected", r.state)
            } else {
                r.state.to_string()
            },
            r.catalog.to_string(),
            r.vendor,
            r.classification,
            superseded_by(&r.superseded_by),
            r.title
        );
    }
    let _ = writeln!(out, "{} update(s)", rows.len());
    emit(&out)?;
    Ok(super::EXIT_OK)
}

/// The approved rows only, each with its groups and its computers' counts.
fn with_compliance(
    rows: Vec<crate::store::query::UpdateRow>,
    approvals: &[crate::store::StoredApproval],
    counts: &BTreeMap<UpdateId, crate::store::Compliance>,
) -> Vec<crate::store::query::UpdateRow> {
    rows.into_iter()
        .filter_map(|mut r| {
            let approved_for: Vec<String> = approvals
                .iter()
                .filter(|a| a.update == r.id)
                .map(|a| format!("{} ({})", a.group, a.action))
                .collect();
            if approved_for.is_empty() {
                return None;
            }
            r.compliance = Some(crate::store::query::ApprovedCompliance {
                approved_for,
                counts: counts.get(&r.id).copied().unwrap_or_default(),
            });
            Some(r)
        })
        .collect()
}

fn compliance_table(rows: &[crate::store::query::UpdateRow]) -> anyhow::Result<u8> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<36}  {:<12}  {:>6}  {:>9}  {:>6}  {:<30}  TITLE",
        "ID", "CATALOG", "NEEDED", "INSTALLED", "FAILED", "APPROVED FOR"
    );
    for r in rows {
        let Some(c) = &r.compliance else { continue };
        let _ = writeln!(
            out,
            "{:<36}  {:<12}  {:>6}  {:>9}  {:>6}  {:<30}  {}",
            r.id.to_string(),
            r.catalog.to_string(),
            c.counts.needed,
            c.counts.installed,
            c.counts.failed,
            c.approved_for.join(", "),
            r.title
        );
    }
    let _ = writeln!(out, "{} approved update(s)", rows.len());
    emit(&out)?;
    Ok(super::EXIT_OK)
}

/// `-`, the first superseding update's id prefix, and `+N` for more.
fn superseded_by(ids: &[UpdateId]) -> String {
    match ids {
        [] => "-".to_string(),
        [one] => one.to_string()[..8].to_string(),
        [first, rest @ ..] => format!("{} +{}", &first.to_string()[..8], rest.len()),
    }
}

/// Refuses a `--catalog` or `--category` that names nothing in the store: such a filter
/// would silently list nothing, which reads as "no updates" rather than as a typo.
fn check_filters(
    filter: &UpdateFilter,
    catalogs: &[CatalogKey],
    categories: &BTreeMap<CatalogKey, Vec<Category>>,
) -> anyhow::Result<()> {
    if let Some(key) = &filter.catalog
        && !catalogs.contains(key)
    {
        let known: Vec<&str> = catalogs.iter().map(|k| k.as_str()).collect();
        let hint = match suggest_any_case(key.as_str(), &known) {
            Some(s) => format!("did you mean `{s}`?"),
            None if known.is_empty() => "the store holds no catalog yet".to_string(),
            None => format!("catalogs in the store: {}", known.join(", ")),
        };
        bail!("no catalog `{key}` in the store\n  hint: {hint}");
    }
    let Some(path) = &filter.category else {
        return Ok(());
    };
    let wanted = path.trim().trim_matches('/');
    let paths: Vec<&str> = categories
        .iter()
        .filter(|(k, _)| filter.catalog.as_ref().is_none_or(|c| c == *k))
        .flat_map(|(_, cats)| cats.iter().map(|c| c.path.as_str()))
        .collect();
    if paths.iter().any(|p| p.eq_ignore_ascii_case(wanted)) {
        return Ok(());
    }
    let within = filter
        .catalog
        .as_ref()
        .map(|k| format!(" of catalog `{k}`"))
        .unwrap_or_default();
    let find = format!(
        "list a catalog's category paths with `supctl catalog categories {} -c <config>`",
        filter.catalog.as_ref().map_or("<CATALOG>", |k| k.as_str())
    );
    let hint = match suggest_any_case(wanted, &paths) {
        Some(s) => format!("did you mean `{s}`? {find}"),
        None if paths.is_empty() => {
            format!("the store holds no categories{within} (only v3 catalogs have them); {find}")
        }
        None => find,
    };
    bail!("no category `{path}` in the store{within}\n  hint: {hint}")
}

/// The closest of `known` to `word`, ignoring case (paths and keys are matched that way).
fn suggest_any_case<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    let lower: Vec<String> = known.iter().map(|k| k.to_lowercase()).collect();
    let refs: Vec<&str> = lower.iter().map(String::as_str).collect();
    let found = crate::config::suggest(&word.to_lowercase(), &refs)?;
    refs.iter().position(|k| *k == found).map(|i| known[i])
}
