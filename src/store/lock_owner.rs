//! Who holds the state lock: a record of its own, so that the store's error type (which
//! names the holder) and the lock (which writes it) both use it without importing each other.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::names::LockId;

/// Who holds (or held) the lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockOwner {
    pub id: LockId,
    pub pid: u32,
    pub host: String,
    pub user: String,
    pub command: String,
    pub started: DateTime<Utc>,
    pub heartbeat: DateTime<Utc>,
    pub ttl_secs: u64,
}

impl LockOwner {
    /// A holder that has not refreshed its heartbeat within its TTL.
    pub fn is_stale(&self, now: DateTime<Utc>) -> bool {
        (now - self.heartbeat).num_milliseconds() > (self.ttl_secs as i64) * 1000
    }
}

impl fmt::Display for LockOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "lock {} (pid {} on {} by {}, `{}`, since {}, last heartbeat {})",
            self.id,
            self.pid,
            self.host,
            self.user,
            self.command,
            self.started.format("%Y-%m-%dT%H:%M:%SZ"),
            self.heartbeat.format("%Y-%m-%dT%H:%M:%SZ")
        )
    }
}
