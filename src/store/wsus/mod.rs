//! The `wsus` backend: a remote WSUS server driven through its ApiRemoting30 SOAP admin API
//! (`/ApiRemoting30/WebService.asmx`), without .NET.
//!
//! Layers, bottom up: [`soap`] (envelopes, answers, faults), [`rows`] / [`records`] /
//! [`history`] (positional `GenericReadableRow` results and the typed records built from
//! them), [`ntlm`] (NTLMv2, because IIS Windows authentication is the only way in) and
//! [`transport`] (one kept-alive, NTLM-authenticated HTTP/1.1 connection on its own thread),
//! [`client`] (one typed method per operation), then [`sync_settings`], [`publish`] and
//! [`updates`] (translations between supctl's model and the server's) and [`backend`]
//! (the `Backend` implementation with its local bookkeeping).

pub mod backend;
pub mod client;
pub mod error;
pub mod history;
pub mod ntlm;
pub mod publish;
pub mod records;
pub mod rows;
pub mod soap;
pub mod sync_settings;
pub mod transport;
pub mod updates;

pub use backend::WsusBackend;
pub use error::WsusError;
