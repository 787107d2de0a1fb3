//! The state lock: one writer per state directory.
//!
//! An OS file lock (fs4) on `lock` gives exclusivity and is released by the kernel when a
//! holder dies. `lock.json`, replaced atomically, says who holds it, and a heartbeat thread
//! refreshes it; a holder whose heartbeat is older than its TTL (hung, or on a file system
//! whose locks outlive processes) is stale and can be taken over with a warning, by
//! unlinking the lock file so the next writer locks a fresh one. `force_unlock` does the same
//! for an admin who names the lock ID.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::Utc;

use super::error::{Result, StoreError};
use super::location::StoreLocation;
use super::lock_owner::LockOwner;
use super::names::{LockId, unique_token};

/// How to take the lock.
#[derive(Debug, Clone)]
pub struct LockRequest {
    /// What the holder is doing, shown to whoever waits (`apply plan.json`).
    pub command: String,
    /// How long to wait for the holder (`--lock-timeout`); zero fails at once.
    pub timeout: Duration,
    /// After how long without a heartbeat the lock may be taken over.
    pub ttl: Duration,
    /// Refresh the heartbeat while held. Only tests simulating a hung holder turn it off.
    pub heartbeat: bool,
    /// Remove the temporary files killed writers left behind once the lock is held
    /// ([`super::leftovers`]). `store gc --dry-run` turns it off: it removes nothing.
    pub clean_leftovers: bool,
}

impl LockRequest {
    pub fn new(command: impl Into<String>) -> Self {
        Self {
            command: command.into(),
            timeout: Duration::ZERO,
            ttl: Duration::from_secs(60),
            heartbeat: true,
            clean_leftovers: true,
        }
    }
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
    pub fn ttl(mut self, t: Duration) -> Self {
        self.ttl = t;
        self
    }
}

/// A held lock, whatever the backend; released on drop.
pub trait HeldLock: Send + fmt::Debug {
    fn owner(&self) -> &LockOwner;
    /// Takeovers that happened while acquiring, for the CLI to print as warnings.
    fn warnings(&self) -> &[String];
    /// Fails once another process has taken the lock over; writers check between actions.
    fn check(&self) -> Result<()>;
}

/// The lock on a local state directory.
#[derive(Debug)]
pub struct FileLock {
    loc: StoreLocation,
    _file: File,
    owner: LockOwner,
    warnings: Vec<String>,
    lost: Arc<AtomicBool>,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FileLock {
    /// Takes the lock, waiting up to `req.timeout` for the holder and taking over a stale one.
    pub fn acquire(loc: &StoreLocation, req: &LockRequest) -> Result<Self> {
        fs::create_dir_all(loc.dir())
            .map_err(|e| StoreError::io(format!("creating {}", loc.dir().display()), e))?;
        let started = Instant::now();
        let mut warnings = Vec::new();
        loop {
            let file = open_lock_file(loc)?;
            match fs4::FileExt::try_lock(&file) {
                Ok(()) => {
                    if !same_file(&file, &loc.lock_path()) {
                        continue; // broken by a takeover between open and lock
                    }
                    if let Some(prev) = read_owner(loc)? {
                        warnings.push(format!(
                            "took over the state lock left behind by {prev}: that process ended without releasing it"
                        ));
                    }
                    return Self::hold(loc, file, req, warnings);
                }
                Err(fs4::TryLockError::WouldBlock) => {}
                Err(fs4::TryLockError::Error(e)) => {
                    return Err(StoreError::io(
                        format!("locking {}", loc.lock_path().display()),
                        e,
                    ));
                }
            }
            let holder = read_owner(loc)?;
            if let Some(h) = &holder
                && h.is_stale(Utc::now())
                && same_file(&file, &loc.lock_path())
            {
                break_lock(loc, &h.id)?;
                warnings.push(format!(
                    "took over a stale state lock: {h} has not refreshed its heartbeat for more than {} s",
                    h.ttl_secs
                ));
                continue;
            }
            let waited = started.elapsed();
            if waited >= req.timeout {
                return Err(match holder {
                    Some(h) => StoreError::Locked {
                        dir: loc.dir().to_path_buf(),
                        holder: Box::new(h),
                    },
                    None => StoreError::LockedUnknown {
                        dir: loc.dir().to_path_buf(),
                    },
                });
            }
            std::thread::sleep((req.timeout - waited).min(Duration::from_millis(100)));
        }
    }

    fn hold(
        loc: &StoreLocation,
        file: File,
        req: &LockRequest,
        warnings: Vec<String>,
    ) -> Result<Self> {
        let now = Utc::now();
        let owner = LockOwner {
            id: LockId::parse(&unique_token())?,
            pid: std::process::id(),
            host: host_name(),
            user: user_name(),
            command: req.command.clone(),
            started: now,
            heartbeat: now,
            ttl_secs: req.ttl.as_secs().max(1),
        };
        write_owner(loc, &owner)?;
        let lost = Arc::new(AtomicBool::new(false));
        let (stop, thread) = if req.heartbeat {
            let (tx, rx) = mpsc::channel::<()>();
            let (loc2, owner2, lost2) = (loc.clone(), owner.clone(), lost.clone());
            let every = Duration::from_millis(owner.ttl_secs * 1000 / 4);
            let t = std::thread::spawn(move || heartbeat(loc2, owner2, lost2, rx, every));
            (Some(tx), Some(t))
        } else {
            (None, None)
        };
        Ok(Self {
            loc: loc.clone(),
            _file: file,
            owner,
            warnings,
            lost,
            stop,
            thread,
        })
    }
}

impl HeldLock for FileLock {
    fn owner(&self) -> &LockOwner {
        &self.owner
    }
    fn warnings(&self) -> &[String] {
        &self.warnings
    }
    fn check(&self) -> Result<()> {
        let ours = read_owner(&self.loc)?.is_some_and(|o| o.id == self.owner.id);
        if self.lost.load(Ordering::SeqCst) || !ours {
            self.lost.store(true, Ordering::SeqCst);
            return Err(StoreError::LockLost(self.loc.dir().to_path_buf()));
        }
        Ok(())
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if !self.lost.load(Ordering::SeqCst)
            && read_owner(&self.loc)
                .ok()
                .flatten()
                .is_some_and(|o| o.id == self.owner.id)
        {
            let _ = fs::remove_file(self.loc.owner_path());
        }
        // Closing the file releases the OS lock.
    }
}

fn heartbeat(
    loc: StoreLocation,
    mut owner: LockOwner,
    lost: Arc<AtomicBool>,
    stop: mpsc::Receiver<()>,
    every: Duration,
) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(every) {
        match read_owner(&loc) {
            Ok(Some(o)) if o.id == owner.id => {
                owner.heartbeat = Utc::now();
                if write_owner(&loc, &owner).is_err() {
                    tracing::warn!("could not refresh the state lock heartbeat");
                }
            }
            _ => {
                lost.store(true, Ordering::SeqCst);
                tracing::error!("the state lock was taken over by another process");
                return;
            }
        }
    }
}

fn open_lock_file(loc: &StoreLocation) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(loc.lock_path())
        .map_err(|e| StoreError::io(format!("opening {}", loc.lock_path().display()), e))
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, path: &Path) -> bool {
    path.exists()
}

/// Whether the lock is held, as `store show` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockState {
    Free,
    /// A live process holds the OS lock; its owner file names it (`None`: not yet written).
    Held(Option<LockOwner>),
    /// Nobody holds the OS lock, but an owner file was left behind by a holder that ended
    /// without releasing it (`kill -9`, a crash): the next writer takes it over.
    Abandoned(LockOwner),
}

/// Probes the OS lock rather than trusting the owner file, which a killed holder leaves
/// behind. Probing takes the OS lock for an instant: a writer trying at that very moment with
/// `--lock-timeout 0` would be told to wait, so only reporting commands call this.
pub fn inspect(loc: &StoreLocation) -> Result<LockState> {
    let owner = read_owner(loc)?;
    if !loc.lock_path().exists() {
        return Ok(owner.map_or(LockState::Free, LockState::Abandoned));
    }
    let file = open_lock_file(loc)?;
    match fs4::FileExt::try_lock(&file) {
        Ok(()) => {
            drop(file);
            Ok(owner.map_or(LockState::Free, LockState::Abandoned))
        }
        Err(fs4::TryLockError::WouldBlock) => Ok(LockState::Held(read_owner(loc)?)),
        Err(fs4::TryLockError::Error(e)) => Err(StoreError::io(
            format!("locking {}", loc.lock_path().display()),
            e,
        )),
    }
}

/// Reads the current owner file; `None` when nobody holds or held the lock.
pub fn read_owner(loc: &StoreLocation) -> Result<Option<LockOwner>> {
    match fs::read(loc.owner_path()) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| StoreError::Malformed(format!("{}: {e}", loc.owner_path().display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::io(
            format!("reading {}", loc.owner_path().display()),
            e,
        )),
    }
}

fn write_owner(loc: &StoreLocation, owner: &LockOwner) -> Result<()> {
    let tmp = loc.dir().join(format!("lock.json.{}.tmp", unique_token()));
    let ctx = |e| StoreError::io(format!("writing {}", tmp.display()), e);
    let mut f = File::create(&tmp).map_err(ctx)?;
    let json = serde_json::to_vec_pretty(owner).expect("owner info serialises");
    f.write_all(&json).map_err(ctx)?;
    f.sync_all().map_err(ctx)?;
    fs::rename(&tmp, loc.owner_path()).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        StoreError::io(format!("replacing {}", loc.owner_path().display()), e)
    })
}

/// Unlinks the lock file (so the next writer locks a fresh one) and the owner file if it
/// still names `id`.
fn break_lock(loc: &StoreLocation, id: &LockId) -> Result<()> {
    if read_owner(loc)?.is_some_and(|o| &o.id == id) {
        let _ = fs::remove_file(loc.owner_path());
    }
    match fs::remove_file(loc.lock_path()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::io(
            format!("removing {}", loc.lock_path().display()),
            e,
        )),
    }
}

/// Releases a lock whatever its holder is doing, for an admin who names its ID (as
/// `terraform force-unlock`). A live holder notices at its next heartbeat and stops.
pub fn force_unlock(loc: &StoreLocation, id: &LockId) -> Result<LockOwner> {
    let owner = read_owner(loc)?.ok_or_else(|| StoreError::NotLocked(loc.dir().to_path_buf()))?;
    if &owner.id != id {
        return Err(StoreError::LockMismatch {
            given: id.clone(),
            holder: Box::new(owner),
        });
    }
    break_lock(loc, id)?;
    Ok(owner)
}

fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".into())
}

fn user_name() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown-user".into())
}
