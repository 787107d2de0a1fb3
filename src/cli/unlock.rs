//! `supctl force-unlock <ID>`: release a state lock whose holder is gone or hung.

use clap::Args;

use crate::store::LockId;
use crate::store::lock::force_unlock;

use super::store::{StoreArgs, emit, print_json};

#[derive(Debug, Args)]
pub struct ForceUnlockArgs {
    /// The lock ID shown by the failing command or `supctl store show`.
    pub id: LockId,
    #[command(flatten)]
    pub store: StoreArgs,
}

pub fn run(a: ForceUnlockArgs) -> anyhow::Result<u8> {
    let owner = force_unlock(&a.store.location()?, &a.id)?;
    if a.store.json {
        print_json(&serde_json::json!({ "released": owner }))?;
    } else {
        emit(&format!("released {owner}\n"))?;
    }
    Ok(super::EXIT_OK)
}
