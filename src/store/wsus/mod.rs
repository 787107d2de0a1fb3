//! The `wsus` backend: a remote WSUS server driven through its ApiRemoting30 SOAP admin API
//! (`/ApiRemoting30/WebService.asmx`), without .NET.
//!
//! Layers, bottom up: [`soap`] (envelopes, answers, faults), [`rows`] / [`records`] /
//! [`history`] (positional `GenericReadableRow` results and the typed records built from
//! them), [`ntlm`] (NTLMv2, because IIS Windows authentication is the only way in) and
//! [`transport`] (one kept-alive, NTLM-authenticated HTTP/1.1 connection on its own thread).
//! The `Backend` implementation on top of these is not built yet; `[server] backend =
//! "wsus"` still reports that it is unavailable.

pub mod error;
pub mod history;
pub mod ntlm;
pub mod records;
pub mod rows;
pub mod soap;
pub mod transport;

pub use error::WsusError;
