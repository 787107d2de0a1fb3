//! The manual signing certificate: the admin's PFX, or a PEM/DER certificate with its PKCS#8
//! key. Reading is all this does; [`super::check()`] decides whether the pair can sign.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{SigningError, SigningKey, SigningMaterial};
use crate::trust::CertificateInfo;

/// Where the manual certificate comes from, as `[signing]` names it. The password is never
/// here, only the name of the variable that holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManualSource {
    pub certificate: PathBuf,
    /// The PKCS#8 key of a PEM or DER certificate; `None` for a PFX, which carries its key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
    /// The variable holding the PFX password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
}

impl ManualSource {
    /// True when the certificate file is a PKCS#12 bundle (by its name, as Windows names them).
    pub fn is_pfx(&self) -> bool {
        is_pfx(&self.certificate)
    }
}

pub fn is_pfx(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("pfx") || e.eq_ignore_ascii_case("p12"))
}

/// Reads the certificate and key `src` names; `env` looks up the password variable.
pub fn load(
    src: &ManualSource,
    env: impl Fn(&str) -> Option<String>,
) -> Result<SigningMaterial, SigningError> {
    if src.is_pfx() {
        let var = src.password_env.clone().unwrap_or_default();
        let password = if var.is_empty() {
            String::new()
        } else {
            env(&var).ok_or_else(|| SigningError::MissingPassword(var.clone()))?
        };
        return pfx(&src.certificate, &password, &var);
    }
    let certificate = certificate(&src.certificate)?;
    let Some(key_path) = &src.key else {
        return Err(SigningError::Format {
            path: src.certificate.clone(),
            detail: "a PEM or DER certificate needs its key: set signing.key".into(),
        });
    };
    Ok(SigningMaterial {
        certificate,
        key: key(key_path)?,
    })
}

fn read(path: &Path) -> Result<Vec<u8>, SigningError> {
    fs::read(path).map_err(|source| SigningError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn pfx(path: &Path, password: &str, var: &str) -> Result<SigningMaterial, SigningError> {
    let data = read(path)?;
    let store = p12_keystore::KeyStore::from_pkcs12(
        &data,
        password,
        p12_keystore::Pkcs12ImportPolicy::Strict,
    )
    .map_err(|e| SigningError::Pfx {
        path: path.to_path_buf(),
        var: var.to_string(),
        detail: e.to_string(),
    })?;
    let Some((_, chain)) = store.private_key_chain() else {
        return Err(SigningError::Format {
            path: path.to_path_buf(),
            detail:
                "the PFX holds no private key with its certificate: export it with the private key"
                    .into(),
        });
    };
    let Some(cert) = chain.certs().first() else {
        return Err(SigningError::Format {
            path: path.to_path_buf(),
            detail: "the PFX's key has no certificate".into(),
        });
    };
    let certificate =
        CertificateInfo::from_der(cert.as_der()).map_err(|e| SigningError::Format {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
    Ok(SigningMaterial {
        certificate,
        key: SigningKey::from_pkcs8(chain.key().as_der().to_vec()),
    })
}

fn certificate(path: &Path) -> Result<CertificateInfo, SigningError> {
    let data = read(path)?;
    let der = match pem_block(&data, path)? {
        Some((label, der)) if label == "CERTIFICATE" => der,
        Some((label, _)) => {
            return Err(SigningError::Format {
                path: path.to_path_buf(),
                detail: format!("expected a CERTIFICATE, found {label}"),
            });
        }
        None => data,
    };
    CertificateInfo::from_der(&der).map_err(|e| SigningError::Format {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })
}

fn key(path: &Path) -> Result<SigningKey, SigningError> {
    let data = read(path)?;
    let fail = |detail: &str| SigningError::Format {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    };
    match pem_block(&data, path)? {
        Some((label, der)) if label == "PRIVATE KEY" => Ok(SigningKey::from_pkcs8(der)),
        Some((label, _)) if label == "RSA PRIVATE KEY" => Err(fail(
            "a PKCS#1 key; convert it to PKCS#8 with `openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.p8`",
        )),
        Some((label, _)) if label == "ENCRYPTED PRIVATE KEY" => Err(fail(
            "an encrypted key; use a PFX with signing.password_env, or decrypt it with `openssl pkcs8 -nocrypt`",
        )),
        Some((label, _)) => Err(fail(&format!("expected a PRIVATE KEY, found {label}"))),
        None => Ok(SigningKey::from_pkcs8(data)),
    }
}

/// The first PEM block's label and DER, or `None` when the file is not PEM (then DER).
fn pem_block(data: &[u8], path: &Path) -> Result<Option<(String, Vec<u8>)>, SigningError> {
    if !data.trim_ascii_start().starts_with(b"-----BEGIN ") {
        return Ok(None);
    }
    let text = std::str::from_utf8(data).map_err(|_| SigningError::Format {
        path: path.to_path_buf(),
        detail: "PEM that is not text".into(),
    })?;
    match x509_parser::pem::Pem::iter_from_buffer(text.as_bytes()).next() {
        Some(Ok(p)) => Ok(Some((p.label, p.contents))),
        Some(Err(e)) => Err(SigningError::Format {
            path: path.to_path_buf(),
            detail: format!("bad PEM: {e}"),
        }),
        None => Err(SigningError::Format {
            path: path.to_path_buf(),
            detail: "no PEM block".into(),
        }),
    }
}
