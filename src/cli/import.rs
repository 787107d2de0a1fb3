//! `supctl import-update <UpdateID>...`: imports updates from the Microsoft Update Catalog
//! into WSUS (the console's "Import Updates"); WSUS fetches their metadata itself and they
//! then flow like any synchronized update. Only a WSUS can do this.

use anyhow::anyhow;
use clap::Args;

use super::{EXIT_ERROR, EXIT_OK, session};
use crate::config::BackendKind;
use crate::ids::UpdateId;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// UpdateIDs (GUIDs) as the Microsoft Update Catalog shows them.
    #[arg(required = true, value_name = "UPDATE_ID")]
    pub ids: Vec<UpdateId>,
    #[command(flatten)]
    pub config: session::ConfigArg,
    /// How long to wait for another supctl holding the state lock.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = session::parse_duration)]
    pub lock_timeout: std::time::Duration,
}

pub(super) fn run(args: ImportArgs) -> anyhow::Result<u8> {
    let (cfg, path) = session::load_config(args.config.path())?;
    if cfg.server.backend != BackendKind::Wsus {
        return Err(anyhow!(
            "importing from the Microsoft Update Catalog is done by a WSUS server, and {} uses the embedded store; set `[server] backend = \"wsus\"` with the server's url and account to import into it",
            path.display()
        ));
    }
    let backend = session::open_backend(&cfg, true)?;
    let _lock = session::lock(&backend, "import-update", args.lock_timeout)?;
    let mut failed = 0;
    for id in &args.ids {
        match backend.import_catalog_update(id) {
            Ok(true) => crate::outln!("{id}: imported from the Microsoft Update Catalog"),
            Ok(false) => crate::outln!("{id}: already on the server, nothing to do"),
            Err(e) => {
                failed += 1;
                crate::errln!("error: {id}: {e}");
            }
        }
    }
    if failed > 0 {
        crate::errln!(
            "{failed} of {} update(s) failed; the others were imported",
            args.ids.len()
        );
        return Ok(EXIT_ERROR);
    }
    Ok(EXIT_OK)
}
