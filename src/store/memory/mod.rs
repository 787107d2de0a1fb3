//! An in-memory backend with the local store's semantics, for planner and apply tests that
//! should not touch SQLite or the file system (beyond the staging area).
//!
//! The shared semantics tests (`tests/it/store_semantics.rs`) run the same operations against
//! both backends and require equal snapshots, so this stays a faithful stand-in.

mod ops;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use chrono::Utc;

use crate::ids::UpdateId;

use super::Backend;
use super::error::{Result, StoreError};
use super::lock::{HeldLock, LockRequest};
use super::lock_owner::LockOwner;
use super::model::*;
use super::names::{Address, Fingerprint, LockId, PlanId, unique_token};
use super::op::{Applied, Capabilities, Op};
use super::state::ActualState;

use ops::Mem;

/// The in-memory backend. Cloning shares the same state, like two handles on one store.
#[derive(Debug, Clone)]
pub struct MemoryBackend {
    mem: Arc<Mutex<Mem>>,
    staging: Arc<tempfile::TempDir>,
    /// Made with the backend, as the local store's id is made with the store.
    id: String,
}

impl MemoryBackend {
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

/// The in-memory lock: same waiting and naming behaviour, within one process.
#[derive(Debug)]
struct MemLock {
    mem: Arc<Mutex<Mem>>,
    owner: LockOwner,
}

impl HeldLock for MemLock {
    fn owner(&self) -> &LockOwner {
        &self.owner
    }
    fn warnings(&self) -> &[String] {
        &[]
    }
    fn check(&self) -> Result<()> {
        let m = self.mem.lock().unwrap_or_else(|p| p.into_inner());
        if m.lock.as_ref().is_some_and(|o| o.id == self.owner.id) {
            Ok(())
        } else {
            Err(StoreError::LockLost(PathBuf::from("memory")))
        }
    }
}

impl Drop for MemLock {
    fn drop(&mut self) {
        let mut m = self.mem.lock().unwrap_or_else(|p| p.into_inner());
        if m.lock.as_ref().is_some_and(|o| o.id == self.owner.id) {
            m.lock = None;
        }
    }
}

impl Backend for MemoryBackend {
    fn name(&self) -> &'static str {
        "memory"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }
    fn identity(&self) -> Result<super::ServerIdentity> {
        Ok(super::ServerIdentity {
            backend: self.name().to_string(),
            id: self.id.clone(),
            location: "memory".into(),
        })
    }
    fn snapshot(&self) -> Result<ActualState> {
        Ok(self.mem().snapshot())
    }
    fn apply(&self, op: Op) -> Result<Applied> {
        self.mem().apply(op)
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
    fn last_journal(&self) -> Result<Option<Journal>> {
        let plan = self.mem().journal.last().map(|e| e.plan.clone());
        match plan {
            Some(p) => self.journal(&p),
            None => Ok(None),
        }
    }
    fn journal(&self, plan: &PlanId) -> Result<Option<Journal>> {
        let entries: Vec<JournalEntry> = self
            .mem()
            .journal
            .iter()
            .filter(|e| &e.plan == plan)
            .cloned()
            .collect();
        Ok((!entries.is_empty()).then(|| Journal {
            plan: plan.clone(),
            entries,
        }))
    }
    fn status_messages(&self, limit: usize) -> Result<Vec<RecordedMessage>> {
        Ok(self
            .mem()
            .messages
            .iter()
            .rev()
            .take(limit)
            .cloned()
            .collect())
    }
    fn sync_runs(&self, limit: usize) -> Result<Vec<SyncRun>> {
        let mut v: Vec<SyncRun> = self.mem().runs.values().cloned().collect();
        v.sort_by(|a, b| {
            b.started
                .cmp(&a.started)
                .then_with(|| a.scope.cmp(&b.scope))
        });
        v.truncate(limit);
        Ok(v)
    }
    fn next_runs(&self) -> Result<Vec<crate::store::NextRun>> {
        Ok(self.mem().next_runs.values().cloned().collect())
    }
    fn findings(&self) -> Result<Vec<crate::store::Finding>> {
        Ok(self.mem().findings.values().cloned().collect())
    }
    fn shipped_certificates(&self) -> Result<Vec<crate::store::ShippedCertificates>> {
        Ok(self.mem().shipped.values().cloned().collect())
    }
    fn staging_dir(&self) -> Result<PathBuf> {
        Ok(self.staging.path().to_path_buf())
    }
    fn lock(&self, request: &LockRequest) -> Result<Box<dyn HeldLock>> {
        let start = Instant::now();
        loop {
            {
                let mut m = self.mem();
                match &m.lock {
                    None => {
                        let now = Utc::now();
                        let owner = LockOwner {
                            id: LockId::parse(&unique_token())?,
                            pid: std::process::id(),
                            host: "memory".into(),
                            user: "memory".into(),
                            command: request.command.clone(),
                            started: now,
                            heartbeat: now,
                            ttl_secs: request.ttl.as_secs().max(1),
                        };
                        m.lock = Some(owner.clone());
                        return Ok(Box::new(MemLock {
                            mem: self.mem.clone(),
                            owner,
                        }));
                    }
                    Some(holder) if start.elapsed() >= request.timeout => {
                        return Err(StoreError::Locked {
                            dir: PathBuf::from("memory"),
                            holder: Box::new(holder.clone()),
                        });
                    }
                    Some(_) => {}
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}
