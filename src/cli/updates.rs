//! `supctl updates list`: the "All Software Updates" view of the store.

use std::fmt::Write as _;

use clap::{Args, Subcommand};
use regex::RegexBuilder;

use crate::store::local::{LocalBackend, OpenOptions};
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
    /// A category path (`Lenovo/BIOS`); includes its subcategories.
    #[arg(long, value_name = "PATH")]
    pub category: Option<String>,
    #[arg(long, value_parser = ["metadata-only", "deployable", "expired"])]
    pub state: Option<String>,
    /// A regular expression matched against the title (case-insensitive).
    #[arg(long, value_name = "REGEX")]
    pub title: Option<String>,
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
    };
    let cfg = a.store.config()?;
    let rows = match &cfg {
        // A remote server has no SQL to push the filter into: filter its snapshot.
        Some(c) if c.server.backend == crate::config::BackendKind::Wsus => {
            filter.apply(&super::session::open_backend(c, false)?.snapshot()?)
        }
        _ => LocalBackend::open(&a.store.location_of(cfg.as_ref()), OpenOptions::read())?
            .list_updates(&filter)?,
    };
    if a.store.json {
        print_json(&rows)?;
        return Ok(super::EXIT_OK);
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<36}  {:>3}  {:<13}  {:<12}  {:<20}  {:<18}  TITLE",
        "ID", "REV", "STATE", "CATALOG", "VENDOR", "CLASSIFICATION"
    );
    for r in &rows {
        let _ = writeln!(
            out,
            "{:<36}  {:>3}  {:<13}  {:<12}  {:<20}  {:<18}  {}",
            // Padding needs strings: the newtypes' Display ignores width.
            r.id.to_string(),
            r.revision,
            r.state.to_string(),
            r.catalog.to_string(),
            r.vendor,
            r.classification,
            r.title
        );
    }
    let _ = writeln!(out, "{} update(s)", rows.len());
    emit(&out)?;
    Ok(super::EXIT_OK)
}
