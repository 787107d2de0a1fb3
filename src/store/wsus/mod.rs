//! The `wsus` backend: a remote WSUS server driven through its ApiRemoting30 SOAP admin API.
//!
//! The client itself (SOAP, NTLM, transport, typed operations) is the leaf crate
//! `supctl-wsus` (`crates/wsus`), re-exported here under its old paths; this module holds
//! what relates the server to supctl: [`sync_settings`], [`publish`] and [`updates`]
//! (translations between supctl's model and the server's) and [`backend`] (the `UpdateServer`
//! implementation).

pub mod approvals;
pub mod backend;
pub mod publish;
pub mod sync_settings;
pub mod updates;

pub use backend::WsusServer;
pub use supctl_wsus::{
    WsusError, client, deployments, error, history, ntlm, records, rows, soap, transport,
};

/// The store's view of a WSUS failure: the operation and the server's answer, behind the
/// server trait's own error type.
impl From<WsusError> for super::StoreError {
    fn from(e: WsusError) -> Self {
        super::StoreError::Server(super::server::ServerError::new("wsus", e))
    }
}
