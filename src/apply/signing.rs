//! The signing certificate a plan names, with its key, found again at apply: apply installs
//! exactly the planned certificate or refuses (it never re-plans).

use chrono::{DateTime, Utc};

use crate::plan::{KeySource, SigningInstall};
use crate::signing::{SigningError, SigningMaterial, check, keys::read_key, load};
use crate::store::{SigningInstallation, StoreError};
use crate::trust::CertificateInfo;

/// What the server is to install for `install`.
pub(super) fn installation(
    install: &SigningInstall,
    now: DateTime<Utc>,
) -> Result<SigningInstallation, StoreError> {
    match install {
        SigningInstall::Server => Ok(SigningInstallation::Server),
        SigningInstall::Certificate { certificate, key } => Ok(SigningInstallation::Material(
            Box::new(material(certificate, key, now)?),
        )),
    }
}

fn material(
    planned: &CertificateInfo,
    key: &KeySource,
    now: DateTime<Utc>,
) -> Result<SigningMaterial, SigningError> {
    let m = match key {
        KeySource::Generated { key_file } => SigningMaterial {
            certificate: planned.clone(),
            key: read_key(key_file).map_err(|e| match e {
                SigningError::Read { path, source }
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    SigningError::PendingKeyGone(path)
                }
                other => other,
            })?,
        },
        KeySource::Manual(src) => {
            let m = load(src, |v| std::env::var(v).ok())?;
            if m.certificate.sha1 != planned.sha1 {
                return Err(SigningError::ChangedSincePlan {
                    path: src.certificate.clone(),
                    planned: planned.thumbprint(),
                    found: m.certificate.thumbprint(),
                });
            }
            m
        }
    };
    // The key read back must still be the planned certificate's, and the pair still usable.
    check(&m.certificate.der, &m.key, now).map_err(|problems| SigningError::Unusable {
        what: format!("signing certificate {}", m.certificate.thumbprint()),
        problems,
    })?;
    Ok(m)
}
