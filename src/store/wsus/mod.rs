//! The `wsus` backend: a remote WSUS server driven through its ApiRemoting30 SOAP admin API
//! (`/ApiRemoting30/WebService.asmx`), without .NET.
//!
//! Layers, bottom up: [`soap`] (envelopes, answers, faults), [`rows`] (positional
//! `GenericReadableRow` results and the typed records built from them), [`ntlm`] (NTLMv2,
//! because IIS Windows authentication is the only way in).

pub mod error;
pub mod history;
pub mod ntlm;
pub mod records;
pub mod rows;
pub mod soap;
pub mod transport;

pub use error::WsusError;
