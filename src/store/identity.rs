//! Which update server a store is: what a saved plan records so that `apply PLANFILE` can
//! refuse it anywhere else.
//!
//! Paths and URLs do not identify a server (a state directory can be copied, a WSUS reached
//! under two names, two configs can look alike), so the identity is an id the server keeps:
//! the embedded store's id, made with the store, or the WSUS server's own `ServerId`. The
//! location is kept beside it to name the server in messages.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The identity of one update server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerIdentity {
    /// The backend's name: `local`, `wsus` (or `memory` in tests).
    pub backend: String,
    /// The embedded store's id, or the WSUS server's `ServerId`.
    pub id: String,
    /// Where it is: the state directory, or the WSUS URL.
    pub location: String,
}

impl ServerIdentity {
    /// Whether two identities name the same server; the location may differ (a moved state
    /// directory, another URL for the same WSUS).
    pub fn same_server(&self, other: &ServerIdentity) -> bool {
        self.backend == other.backend && self.id == other.id
    }
}

impl fmt::Display for ServerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.backend.as_str() {
            "local" => write!(f, "the embedded store {} in {}", self.id, self.location),
            "wsus" => write!(f, "the WSUS server {} at {}", self.id, self.location),
            other => write!(f, "the {other} store {} ({})", self.id, self.location),
        }
    }
}

/// An identity read once from a remote server and kept for the connection's life.
#[derive(Debug, Default)]
pub(crate) struct Remembered(std::sync::Mutex<Option<ServerIdentity>>);

impl Remembered {
    /// The remembered identity, or `read`'s (remembered when it succeeds).
    pub(crate) fn get_or_read<E>(
        &self,
        read: impl FnOnce() -> Result<ServerIdentity, E>,
    ) -> Result<ServerIdentity, E> {
        let mut cached = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(id) = cached.as_ref() {
            return Ok(id.clone());
        }
        let id = read()?;
        *cached = Some(id.clone());
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(backend: &str, id: &str, location: &str) -> ServerIdentity {
        ServerIdentity {
            backend: backend.into(),
            id: id.into(),
            location: location.into(),
        }
    }

    #[test]
    fn the_same_id_elsewhere_is_the_same_server() {
        let a = id("local", "ab", "/srv/a");
        assert!(a.same_server(&id("local", "ab", "/srv/moved")));
        assert!(!a.same_server(&id("local", "cd", "/srv/a")));
        assert!(!a.same_server(&id("wsus", "ab", "/srv/a")));
        assert_eq!(a.to_string(), "the embedded store ab in /srv/a");
    }
}
