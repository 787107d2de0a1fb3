//! Saved plan files: written atomically, read back with a version check.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::model::{FORMAT_VERSION, Plan};

#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("cannot write plan file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read plan file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a supctl plan file: {reason}")]
    Format { path: PathBuf, reason: String },
    #[error(
        "{path} has plan format {found}; this supctl reads {FORMAT_VERSION}: make the plan again with this version"
    )]
    Version { path: PathBuf, found: String },
}

/// Writes the plan as JSON: temp file in the same directory, fsync, rename.
pub fn save(plan: &Plan, path: &Path) -> Result<(), PlanFileError> {
    let err = |source| PlanFileError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
    // Buffered: serde_json issues one write per token, millions for a large plan.
    let mut w = std::io::BufWriter::with_capacity(1 << 16, &mut tmp);
    serde_json::to_writer(&mut w, plan).map_err(|e| err(e.into()))?;
    w.write_all(b"\n").map_err(err)?;
    w.flush().map_err(err)?;
    drop(w);
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

pub fn load(path: &Path) -> Result<Plan, PlanFileError> {
    let bytes = std::fs::read(path).map_err(|source| PlanFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| PlanFileError::Format {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    let found = value
        .get("format_version")
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string();
    let major = |v: &str| v.split('.').next().unwrap_or("").to_string();
    if found.is_empty() || major(&found) != major(FORMAT_VERSION) {
        return Err(PlanFileError::Version {
            path: path.to_path_buf(),
            found: if found.is_empty() {
                "(none)".into()
            } else {
                found
            },
        });
    }
    serde_json::from_value(value).map_err(|e| PlanFileError::Format {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_version_check() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("plan.json");
        let plan = Plan::new("cfg".into(), vec![], vec![]);
        save(&plan, &p).unwrap();
        assert_eq!(load(&p).unwrap(), plan);
        std::fs::write(&p, r#"{"format_version":"2.0"}"#).unwrap();
        assert!(matches!(load(&p), Err(PlanFileError::Version { .. })));
        std::fs::write(&p, "garbage").unwrap();
        assert!(matches!(load(&p), Err(PlanFileError::Format { .. })));
    }
}
