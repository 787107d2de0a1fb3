//! What can go wrong in the store, typed so the CLI can explain it and tests can match it.

use std::io;
use std::path::PathBuf;

use crate::ids::{Sha1, UpdateId};

use super::lock_owner::LockOwner;
use super::names::{CatalogKey, LockId, NameError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("signing certificate: {0}")]
    Signing(#[from] crate::signing::SigningError),
    #[error("no store at {0} (a write command such as `supctl apply` creates it)")]
    NotFound(PathBuf),
    #[error("{path} is not a supctl store: {reason}; it was left untouched")]
    NotAStore { path: PathBuf, reason: String },
    #[error(
        "{path} was written by a newer supctl (schema version {found}, this build supports up to {supported}); upgrade supctl to use it"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error(
        "store database {path} is corrupt: {details}; it was left untouched (restore it from a backup or move it aside)"
    )]
    Corrupt { path: PathBuf, details: String },
    #[error("the state directory {dir} is locked by {holder}")]
    Locked {
        dir: PathBuf,
        holder: Box<LockOwner>,
    },
    #[error("the state directory {dir} is locked but its holder is unknown (no owner file yet)")]
    LockedUnknown { dir: PathBuf },
    #[error("lock ID `{given}` does not match the current holder {holder}")]
    LockMismatch {
        given: LockId,
        holder: Box<LockOwner>,
    },
    #[error("the state directory {0} is not locked")]
    NotLocked(PathBuf),
    #[error("the lock on {0} was taken over by another process; stop writing")]
    LockLost(PathBuf),
    #[error(
        "another process took over the state lock on {} (lock generation {current}; this process held {held}): this process stopped writing, and its write was refused before it changed anything; `supctl store show` names the current holder",
        dir.display()
    )]
    Fenced {
        dir: PathBuf,
        held: i64,
        current: i64,
    },
    #[error("unknown catalog `{0}`")]
    UnknownCatalog(CatalogKey),
    #[error("update {0} is not in the store")]
    UnknownUpdate(UpdateId),
    #[error("update {update} has no file with SHA-1 {sha1}")]
    UnknownFile { update: UpdateId, sha1: Sha1 },
    #[error("{path} does not match its digest: expected {algorithm} {expected}, got {actual}")]
    DigestMismatch {
        path: PathBuf,
        algorithm: &'static str,
        expected: String,
        actual: String,
    },
    #[error("invalid {what}: `{value}`")]
    Invalid { what: &'static str, value: String },
    #[error(transparent)]
    Name(#[from] NameError),
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    #[error("stored data is malformed: {0}")]
    Malformed(String),
    /// An update server implementation refused or failed an operation; the inner error
    /// names the operation and carries the server's answer.
    #[error(transparent)]
    Server(#[from] super::server::ServerError),
    /// A publication would take the server past WSUS's limit on locally published
    /// categories (the plan refuses it first; this catches an apply that bypassed it).
    #[error(transparent)]
    CategoryLimit(#[from] super::local_categories::CategoryLimitError),
    /// The backend cannot do this at all (as opposed to failing at it).
    #[error("{what} is not supported by backend {backend}: {why}")]
    Unsupported {
        what: String,
        backend: &'static str,
        why: String,
    },
}

impl StoreError {
    /// Wraps an I/O error with the path or step it concerns, which `io::Error` never says.
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        StoreError::Io {
            context: context.into(),
            source,
        }
    }
}

/// Shorthand used throughout the store.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
