//! NTLM (NTLMv2 only) for IIS Windows authentication, enough to authenticate an HTTP
//! connection: NEGOTIATE, CHALLENGE parsing and AUTHENTICATE with a MIC (MS-NLMP).
//!
//! Why our own ~300 lines rather than `sspi`: supctl needs only the client side of NTLMv2
//! over HTTP (no sealing/signing, no Kerberos), `sspi` is a large dependency tree with an
//! MSRV above supctl's and a picky pin (crates.md §7), and `ntlmclient` pins old RustCrypto
//! versions. The code is checked against the MS-NLMP §4.2.4 test vectors. Over HTTPS the
//! AUTHENTICATE message carries the TLS channel binding IIS Extended Protection checks
//! (`binding`). Kerberos is not implemented.

pub mod binding;
pub mod crypto;
mod message;

pub use binding::tls_channel_binding;
pub use message::{
    AV_CHANNEL_BINDINGS, Authenticate, Challenge, Credentials, authenticate, negotiate,
};

/// Why an NTLM message could not be read or built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NtlmError(pub String);
