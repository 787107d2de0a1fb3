//! `supctl import --out DIR`: writes the config that reproduces what the update server holds
//! (see [`crate::import`] for what is written and why) and adopts what it wrote into
//! supctl's inventory, as `terraform import` brings existing objects under management.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Args;

use super::{EXIT_OK, session};
use crate::config::BackendKind;
use crate::import::{self, Context};
use crate::store::{Change, Origin, Record};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The directory to write the config into (created; it must be empty).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Write the config only: adopt nothing into supctl's inventory and record no catalog
    /// stubs on the server.
    #[arg(long)]
    pub no_adopt: bool,
    #[command(flatten)]
    pub config: session::ConfigArg,
    /// How long to wait for another supctl holding the state lock.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = session::parse_duration)]
    pub lock_timeout: Duration,
}

/// Creates `dir`, refusing one that holds anything: an import never overwrites a config.
fn empty_dir(dir: &Path) -> anyhow::Result<()> {
    if let Ok(mut entries) = std::fs::read_dir(dir) {
        if entries.next().is_some() {
            bail!(
                "{} is not empty; `supctl import` writes a new config and never overwrites one: name a new directory",
                dir.display()
            );
        }
        return Ok(());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

pub(super) fn run(args: ImportArgs) -> anyhow::Result<u8> {
    let (cfg, _) = session::load_config(args.config.path())?;
    empty_dir(&args.out)?;
    // An embedded store must exist (importing an empty one helps nobody); a WSUS is read
    // with a state directory made on first use, as when supctl is pointed at it for the
    // first time.
    let backend = match cfg.server.backend {
        BackendKind::Local => session::open_existing_backend(&cfg)?,
        BackendKind::Wsus => session::open_backend(&cfg, true)?,
    };
    let _lock = session::lock(&backend, "import", args.lock_timeout)?;
    let actual = backend.snapshot().context("reading the update server")?;
    let root = crate::reconcile::locked::root_dir(&cfg);
    let out = std::path::absolute(&args.out)
        .with_context(|| format!("resolving {}", args.out.display()))?;
    let imported = import::import(
        &actual,
        &Context {
            server: &cfg.server,
            http: &cfg.http,
            root: &root,
            out: &crate::config::normalize(&out),
        },
    );
    for f in &imported.files {
        let path = args.out.join(&f.name);
        crate::atomic_file::write(&path, f.text.as_bytes(), 0o644)
            .with_context(|| format!("writing {}", path.display()))?;
        crate::outln!("wrote {}", path.display());
    }
    let s = &imported.summary;
    crate::outln!(
        "Imported {} catalog(s), {} catalog stub(s) to fill in, {} certificate rule(s), {} update(s){}.",
        s.catalogs,
        s.stubs,
        s.certificates,
        s.updates,
        if s.orphaned_expired > 0 {
            format!(
                " ({} expired update(s) of catalogs no longer on the server left alone)",
                s.orphaned_expired
            )
        } else {
            String::new()
        }
    );
    if args.no_adopt {
        crate::outln!("Nothing adopted (--no-adopt): supctl manages none of it until it is.");
        return Ok(EXIT_OK);
    }
    for record in &imported.respelled {
        backend
            .apply(Change::UpsertCatalog(record.clone()))
            .with_context(|| format!("recording the source of catalog {}", record.key))?;
        crate::outln!(
            "catalog {}: its file recorded as `{}`, as the new config names it",
            record.key,
            record.source
        );
    }
    for stub in &imported.stubs {
        backend
            .apply(Change::UpsertCatalog(stub.clone()))
            .with_context(|| format!("recording the catalog stub {}", stub.key))?;
    }
    for address in &imported.adopt {
        backend
            .apply(Record::InventoryAdd {
                address: address.clone(),
                origin: Origin::Adopted,
            })
            .with_context(|| format!("adopting {address}"))?;
    }
    if !imported.adopt.is_empty() {
        crate::outln!(
            "Adopted {} object(s) into supctl's inventory: plan with {} from now on; a config that does not list them would remove them.",
            imported.adopt.len(),
            args.out.display()
        );
    }
    crate::outln!(
        "Next: review the files, then `supctl plan -c {}`.",
        args.out.display()
    );
    Ok(EXIT_OK)
}
