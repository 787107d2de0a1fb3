//! The WSUS signing certificate: the certificate and key the update server signs published
//! content with, as desired state (`[signing]`).
//!
//! - `mode = "managed"`: supctl makes a self-signed code-signing certificate
//!   ([`generate()`]) and renews it `renew_before_days` before it expires. The replacement is
//!   made when the plan is made, so the plan can show the new thumbprint and apply installs
//!   exactly that certificate; its key waits in the state directory ([`keys`]), never in
//!   the plan file.
//! - `mode = "manual"`: the admin's PFX (password from the variable `password_env` names) or
//!   PEM certificate and PKCS#8 key ([`load()`]).
//!
//! Either way [`check::check()`] decides whether the pair can sign before anything is written.
//! Only RSA: WSUS signs with RSA keys, and clients verify nothing else.

pub mod check;
pub mod client_trust;
pub mod generate;
pub mod keys;
pub mod load;

use std::fmt;

use crate::trust::CertificateInfo;

pub use check::{Problem, check};
pub use generate::generate;
pub use keys::KeyDir;
pub use load::{ManualSource, load};

/// A private key in PKCS#8 DER. Its `Debug` never shows the bytes: keys are never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey(Vec<u8>);

impl SigningKey {
    pub fn from_pkcs8(der: Vec<u8>) -> Self {
        Self(der)
    }

    pub fn pkcs8(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({} bytes, redacted)", self.0.len())
    }
}

/// A certificate and the key that signs with it.
#[derive(Debug, Clone)]
pub struct SigningMaterial {
    pub certificate: CertificateInfo,
    pub key: SigningKey,
}

impl SigningMaterial {
    /// The pair as a PFX protected by `password`, for a server that takes one (WSUS's
    /// `ExecuteSetSigningCertificate`). AES-256 with PBKDF2, as current Windows exports.
    pub fn to_pfx(&self, password: &str) -> Result<Vec<u8>, SigningError> {
        use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
        let err =
            |e: p12_keystore::error::Error| SigningError::Generate(format!("making a PFX: {e}"));
        let key = PrivateKey::from_der(self.key.pkcs8()).map_err(err)?;
        let cert = Certificate::from_der(&self.certificate.der).map_err(err)?;
        let chain = PrivateKeyChain::new(self.certificate.sha1.0.to_vec(), key, [cert]);
        let mut store = KeyStore::new();
        store.add_entry("wsus-signing", KeyStoreEntry::PrivateKeyChain(chain));
        store.writer(password).write().map_err(err)
    }
}

/// Why signing material could not be made, read or kept.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("reading {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("writing {path}: {source}")]
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}: cannot open the PFX ({detail}); is the password in ${var} right, and is the file a PKCS#12 export with its private key?"
    )]
    Pfx {
        path: std::path::PathBuf,
        var: String,
        detail: String,
    },
    #[error("{path}: {detail}")]
    Format {
        path: std::path::PathBuf,
        detail: String,
    },
    #[error("the environment variable {0} (signing.password_env) is not set")]
    MissingPassword(String),
    #[error("{what}: {problems}")]
    Unusable { what: String, problems: Problems },
    #[error("creating the signing certificate: {0}")]
    Generate(String),
    #[error(
        "the key the plan made for the signing certificate ({0}) is gone (another apply installed or replaced it): make the plan again"
    )]
    PendingKeyGone(std::path::PathBuf),
    #[error(
        "{path} now holds certificate {found}, not {planned} as when the plan was made: make the plan again"
    )]
    ChangedSincePlan {
        path: std::path::PathBuf,
        planned: supctl_ids::Thumbprint,
        found: supctl_ids::Thumbprint,
    },
}

/// Everything [`check::check()`] found wrong, one per line with its fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}
