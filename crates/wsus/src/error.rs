//! What can go wrong talking to a WSUS server, typed so the CLI can say which operation
//! failed and why, and so callers can tell "no permission" from "wrong password" from
//! "the server is broken".

/// One failure of a WSUS call. Every variant names the operation (the SOAP method), because
/// "HTTP 500" alone says nothing about which of a dozen calls in a snapshot broke.
#[derive(Debug, thiserror::Error)]
pub enum WsusError {
    /// The server answered with a SOAP fault: a .NET exception; `message` is the text after
    /// the last `--->`, which is where WSUS puts the useful part.
    #[error("WSUS {operation} failed: {message}{}", if *.access_denied { " (the account lacks a WSUS role: WSUS Reporters can read, WSUS Administrators can change)" } else { "" })]
    Fault {
        operation: String,
        code: String,
        message: String,
        access_denied: bool,
    },
    /// 401 after the NTLM exchange: the credentials were refused.
    #[error(
        "WSUS {operation}: the server refused the credentials (HTTP 401 after NTLM authentication): {excerpt}"
    )]
    Unauthorized { operation: String, excerpt: String },
    /// 403: authenticated but not allowed (or SSL required on the virtual root).
    #[error(
        "WSUS {operation}: access forbidden (HTTP 403; on an SSL-enabled WSUS use https and port 8531): {excerpt}"
    )]
    Forbidden { operation: String, excerpt: String },
    /// Any other non-success answer that is not a SOAP fault, such as an IIS HTML error page.
    #[error("WSUS {operation}: HTTP {status}{}: {excerpt}", if *.html { " with an HTML page (an IIS or ASP.NET error, not a WSUS answer)" } else { "" })]
    Http {
        operation: String,
        status: u16,
        html: bool,
        excerpt: String,
    },
    /// The answer was not the SOAP shape the WSDL promises.
    #[error("WSUS {operation}: unexpected answer: {reason}")]
    Malformed { operation: String, reason: String },
    /// Connection, TLS or timeout failures.
    #[error("WSUS {operation}: {detail}")]
    Transport { operation: String, detail: String },
    /// The NTLM exchange itself failed (bad challenge, no challenge offered).
    #[error("WSUS {operation}: NTLM authentication failed: {detail}")]
    Ntlm { operation: String, detail: String },
    /// `[server]` settings cannot be used (missing URL, empty password variable).
    #[error("backend wsus: {0}")]
    Config(String),
    /// The operation exists in supctl but the WSUS admin API cannot perform it remotely.
    #[error("{what} is not supported by backend wsus: {why}")]
    NotSupported { what: String, why: String },
    /// A whole-row write was refused because the row changed since it was read.
    #[error(
        "WSUS {what} changed on the server since it was read ({field} {expected} → {found}); nothing was written, re-run plan"
    )]
    Conflict {
        what: &'static str,
        field: &'static str,
        expected: String,
        found: String,
    },
    /// A config title (product, classification, language) the server does not know.
    #[error("WSUS has no {kind} `{name}`: {detail}")]
    Resolve {
        kind: &'static str,
        name: String,
        detail: String,
    },
    /// A change made of two writes stopped after the first; repeating the apply finishes it.
    #[error("{written} was written but {pending} was not: {source}; run apply again to finish")]
    PartlyApplied {
        written: String,
        pending: String,
        #[source]
        source: Box<WsusError>,
    },
}

impl WsusError {
    pub fn malformed(operation: &str, reason: impl Into<String>) -> Self {
        WsusError::Malformed {
            operation: operation.to_string(),
            reason: reason.into(),
        }
    }
}

/// Shorthand used throughout the wsus backend.
pub type Result<T, E = WsusError> = std::result::Result<T, E>;
