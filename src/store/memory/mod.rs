//! An in-memory update server with the embedded server's semantics, for planner and apply
//! tests that should not touch SQLite for the server's objects. supctl's bookkeeping stays
//! in SQLite even here ([`super::Store::memory`] puts it in a temporary directory): there
//! is one bookkeeping implementation, whatever the server.
//!
//! The shared semantics tests (`tests/it/store_semantics.rs`) run the same operations against
//! both servers and require equal snapshots, so this stays a faithful stand-in.

mod ops;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::ids::UpdateId;

use super::actual::ActualState;
use super::error::{Result, StoreError};
use super::identity::ServerIdentity;
use super::names::{Address, Fingerprint, unique_token};
use super::op::{Applied, Capabilities, Change};
use super::server::UpdateServer;

use ops::Mem;

/// The in-memory server. Cloning shares the same objects, like two handles on one server.
#[derive(Debug, Clone)]
pub struct MemoryServer {
    mem: Arc<Mutex<Mem>>,
    staging: Arc<tempfile::TempDir>,
    /// Made with the server, as the embedded server's id is made with its database.
    id: String,
}

impl MemoryServer {
    pub fn new() -> Result<Self> {
        let staging =
            tempfile::tempdir().map_err(|e| StoreError::io("creating a staging directory", e))?;
        Ok(Self {
            mem: Arc::new(Mutex::new(Mem::default())),
            staging: Arc::new(staging),
            id: unique_token(),
        })
    }

    fn mem(&self) -> MutexGuard<'_, Mem> {
        self.mem.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl UpdateServer for MemoryServer {
    fn name(&self) -> &'static str {
        "memory"
    }
    fn describe(&self) -> String {
        "in-memory server".into()
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }
    fn identity(&self) -> Result<ServerIdentity> {
        Ok(ServerIdentity {
            backend: self.name().to_string(),
            id: self.id.clone(),
            location: "memory".into(),
        })
    }
    fn snapshot(&self) -> Result<ActualState> {
        Ok(self.mem().snapshot())
    }
    fn apply(&self, change: Change) -> Result<Applied> {
        self.mem().apply(change)
    }
    fn fingerprint(&self, address: &Address) -> Result<Option<Fingerprint>> {
        Ok(self.mem().snapshot().fingerprint(address))
    }
    fn raw_xml(&self, id: &UpdateId, revision: Option<u32>) -> Result<Option<String>> {
        let mem = self.mem();
        Ok(mem.updates.get(id).and_then(|m| {
            let r = revision.unwrap_or(m.stored.revision) as usize;
            m.revisions.get(r.checked_sub(1)?).map(|(_, x)| x.clone())
        }))
    }
    fn staging_dir(&self) -> Result<PathBuf> {
        Ok(self.staging.path().to_path_buf())
    }
}
