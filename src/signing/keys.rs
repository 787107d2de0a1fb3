//! Where signing keys live: `<state>/signing/`, owner-only (directories 0700, files 0600),
//! each file written to a temporary name, synced and renamed, so a kill leaves either the
//! old file or the new one.
//!
//! - `pending/<SHA1>.cer` and `.key`: a managed certificate a plan made and showed, waiting
//!   for the apply that installs it. A later plan reuses it (same thumbprint, so re-planning
//!   does not churn) while it is still fit to install.
//! - `<SHA1>.cer` and `.key`: certificates the embedded server signs with.

use std::fs;
use std::path::{Path, PathBuf};

use supctl_ids::Thumbprint;

use super::{SigningError, SigningKey, SigningMaterial};
use crate::trust::CertificateInfo;

/// The signing key directory of one state directory.
#[derive(Debug, Clone)]
pub struct KeyDir {
    root: PathBuf,
}

impl KeyDir {
    pub fn new(state_dir: &Path) -> Self {
        Self {
            root: state_dir.join("signing"),
        }
    }

    fn pending_dir(&self) -> PathBuf {
        self.root.join("pending")
    }

    /// Keeps a candidate for a later apply; returns its key file.
    pub fn put_pending(&self, m: &SigningMaterial) -> Result<PathBuf, SigningError> {
        private_dir(&self.root)?;
        write_pair(&self.pending_dir(), m)
    }

    /// Pending candidates, newest `notBefore` first.
    pub fn pending(&self) -> Vec<SigningMaterial> {
        let mut out = read_pairs(&self.pending_dir());
        out.sort_by_key(|m| std::cmp::Reverse(m.certificate.not_before));
        out
    }

    /// The key file a pending candidate keeps for `thumbprint`.
    pub fn pending_key_path(&self, thumbprint: &Thumbprint) -> PathBuf {
        self.pending_dir().join(format!("{thumbprint}.key"))
    }

    /// Makes `m` a certificate in force and drops every pending candidate.
    pub fn install(&self, m: &SigningMaterial) -> Result<(), SigningError> {
        write_pair(&self.root, m)?;
        let _ = fs::remove_dir_all(self.pending_dir());
        Ok(())
    }

    /// The key of a certificate in force.
    pub fn key(&self, thumbprint: &Thumbprint) -> Result<Option<SigningKey>, SigningError> {
        let path = self.root.join(format!("{thumbprint}.key"));
        match fs::read(&path) {
            Ok(b) => Ok(Some(SigningKey::from_pkcs8(b))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(SigningError::Read { path, source }),
        }
    }
}

/// What `supctl trust export` last gave clients: the signing certificate they were told to
/// trust, so `status` can say when the one in force is another.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExportRecord {
    pub thumbprint: Thumbprint,
    pub at: chrono::DateTime<chrono::Utc>,
    pub dir: PathBuf,
}

impl KeyDir {
    fn export_path(&self) -> PathBuf {
        self.root.join("exported.json")
    }

    /// Records an export (temp + fsync + rename, like the keys).
    pub fn record_export(&self, r: &ExportRecord) -> Result<(), SigningError> {
        private_dir(&self.root)?;
        let json = serde_json::to_vec_pretty(r).map_err(|e| SigningError::Write {
            path: self.export_path(),
            source: std::io::Error::other(e),
        })?;
        write_private(&self.export_path(), &json)
    }

    /// The last export, `None` when there was none (or its record does not read).
    pub fn last_export(&self) -> Option<ExportRecord> {
        serde_json::from_slice(&fs::read(self.export_path()).ok()?).ok()
    }
}

/// Reads the key a plan named, refusing one that is not the planned certificate's.
pub fn read_key(path: &Path) -> Result<SigningKey, SigningError> {
    fs::read(path)
        .map(SigningKey::from_pkcs8)
        .map_err(|source| SigningError::Read {
            path: path.to_path_buf(),
            source,
        })
}

fn write_pair(dir: &Path, m: &SigningMaterial) -> Result<PathBuf, SigningError> {
    private_dir(dir)?;
    let t = m.certificate.thumbprint();
    write_private(&dir.join(format!("{t}.cer")), &m.certificate.der)?;
    let key = dir.join(format!("{t}.key"));
    write_private(&key, m.key.pkcs8())?;
    Ok(key)
}

fn read_pairs(dir: &Path) -> Vec<SigningMaterial> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "cer"))
        .filter_map(|cer| {
            let certificate = CertificateInfo::from_der(&fs::read(&cer).ok()?).ok()?;
            let key = SigningKey::from_pkcs8(fs::read(cer.with_extension("key")).ok()?);
            Some(SigningMaterial { certificate, key })
        })
        .collect()
}

fn private_dir(dir: &Path) -> Result<(), SigningError> {
    let err = |source| SigningError::Write {
        path: dir.to_path_buf(),
        source,
    };
    fs::create_dir_all(dir).map_err(err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(err)?;
    }
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), SigningError> {
    write_atomic(path, bytes, 0o600)
}

/// [`crate::atomic_file::write`], its error naming the file.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), SigningError> {
    crate::atomic_file::write(path, bytes, mode).map_err(|source| SigningError::Write {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_owner_only_and_install_clears_pending() {
        let d = tempfile::tempdir().unwrap();
        let dir = KeyDir::new(d.path());
        let m = super::super::generate("test", 30, chrono::Utc::now()).unwrap();
        let key = dir.put_pending(&m).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&key), 0o600);
            assert_eq!(mode(&d.path().join("signing")), 0o700);
            assert_eq!(mode(&d.path().join("signing/pending")), 0o700);
        }
        assert_eq!(dir.pending().len(), 1);
        assert_eq!(read_key(&key).unwrap(), m.key);
        dir.install(&m).unwrap();
        assert!(dir.pending().is_empty());
        assert_eq!(
            dir.key(&m.certificate.thumbprint()).unwrap(),
            Some(m.key.clone())
        );
        assert_eq!(dir.last_export(), None);
        let r = ExportRecord {
            thumbprint: m.certificate.thumbprint(),
            at: chrono::Utc::now(),
            dir: PathBuf::from("out"),
        };
        dir.record_export(&r).unwrap();
        assert_eq!(dir.last_export(), Some(r));
    }
}
