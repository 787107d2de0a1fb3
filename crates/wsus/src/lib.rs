//! A client for a WSUS server's ApiRemoting30 SOAP admin API
//! (`/ApiRemoting30/WebService.asmx`), without .NET: a leaf crate of supctl's workspace that
//! imports nothing from supctl but its ids (`supctl-ids`).
//!
//! Layers, bottom up: [`soap`] (envelopes, answers, faults), [`rows`] / [`records`] /
//! [`history`] / [`deployments`] (positional `GenericReadableRow` results and the typed records built from
//! them), [`ntlm`] (NTLMv2, because IIS Windows authentication is the only way in) and
//! [`transport`] (one kept-alive, NTLM-authenticated HTTP/1.1 connection on its own thread),
//! then [`client`] (one typed method per operation). Every error is a [`WsusError`] that
//! names the operation. What the server's records mean to supctl (its store model, its
//! schedules) is translated in supctl's `store::wsus`, never here.

pub mod client;
pub mod deployments;
pub mod error;
pub mod history;
pub mod ntlm;
pub mod records;
pub mod rows;
pub mod soap;
pub mod transport;

pub use client::Client;
pub use error::WsusError;
