//! Saved plan files: written atomically with a checksum, read back with a version and
//! checksum check.
//!
//! The checksum is the SHA-256 of the plan's JSON without the `checksum` field, as this
//! version serializes it: reading a file re-serializes the typed plan and compares, so
//! whitespace or key order do not matter, while any change to what apply would do does.
//! It guards against a plan edited after review, not against someone who can rewrite the
//! checksum too (signing plans would need a key that the reviewer trusts).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::Digest as _;

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
    #[error(
        "{path} was modified after it was saved (its checksum does not match its content); make the plan again with `supctl plan -o` and review it"
    )]
    Checksum { path: PathBuf },
    #[error(
        "{path} has no checksum (it was saved by an older supctl); make the plan again with `supctl plan -o`"
    )]
    NoChecksum { path: PathBuf },
}

/// Hashes what is written to it.
struct HashWriter(sha2::Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Passes everything on but the last byte written, so the checksum can be added before a
/// serialized object's closing brace without holding the whole JSON in memory.
struct HoldLast<W: std::io::Write> {
    inner: W,
    held: Option<u8>,
}

impl<W: std::io::Write> std::io::Write for HoldLast<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let Some((&last, rest)) = buf.split_last() else {
            return Ok(0);
        };
        if let Some(b) = self.held.take() {
            self.inner.write_all(&[b])?;
        }
        self.inner.write_all(rest)?;
        self.held = Some(last);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// `sha256:<hex>` of the plan serialized without its checksum. Streams: a plan with a
/// hundred thousand updates is not copied to compute it.
fn checksum_of(plan: &Plan) -> serde_json::Result<String> {
    let mut h = HashWriter(sha2::Sha256::new());
    if plan.checksum.is_some() {
        let bare = Plan {
            checksum: None,
            ..plan.clone()
        };
        serde_json::to_writer(&mut h, &bare)?;
    } else {
        serde_json::to_writer(&mut h, plan)?;
    }
    Ok(format!("sha256:{}", hex::encode(h.0.finalize())))
}

/// Writes the plan as JSON with its checksum: temp file in the same directory, fsync, rename.
pub fn save(plan: &Plan, path: &Path) -> Result<(), PlanFileError> {
    let err = |source| PlanFileError::Write {
        path: path.to_path_buf(),
        source,
    };
    let checksum = checksum_of(plan).map_err(|e| err(e.into()))?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
    // Buffered: serde_json issues one write per token, millions for a large plan.
    let mut w = std::io::BufWriter::with_capacity(1 << 16, &mut tmp);
    let mut body = HoldLast {
        inner: &mut w,
        held: None,
    };
    if plan.checksum.is_some() {
        let bare = Plan {
            checksum: None,
            ..plan.clone()
        };
        serde_json::to_writer(&mut body, &bare).map_err(|e| err(e.into()))?;
    } else {
        serde_json::to_writer(&mut body, plan).map_err(|e| err(e.into()))?;
    }
    if body.held != Some(b'}') {
        return Err(err(std::io::Error::other("a plan serializes as an object")));
    }
    writeln!(w, ",\"checksum\":\"{checksum}\"}}").map_err(err)?;
    w.flush().map_err(err)?;
    drop(w);
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

/// Reads a plan file given by a user (`apply PLANFILE`, `show`): it must carry a checksum
/// that matches its content.
pub fn load(path: &Path) -> Result<Plan, PlanFileError> {
    let plan = read(path)?;
    match &plan.checksum {
        None => Err(PlanFileError::NoChecksum {
            path: path.to_path_buf(),
        }),
        Some(_) => verified(plan, path),
    }
}

/// Reads a plan supctl saved in its own state directory (`apply --resume`, the daemon's
/// start-up): the checksum is checked when present; plans saved before checksums existed
/// can still be resumed after an upgrade.
pub fn load_own(path: &Path) -> Result<Plan, PlanFileError> {
    let plan = read(path)?;
    match &plan.checksum {
        None => Ok(plan),
        Some(_) => verified(plan, path),
    }
}

fn verified(mut plan: Plan, path: &Path) -> Result<Plan, PlanFileError> {
    // Hashed without its checksum, taken out and put back rather than hashing a copy: a
    // plan can hold a hundred thousand actions.
    let recorded = plan.checksum.take();
    let expected = checksum_of(&plan).map_err(|e| PlanFileError::Format {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    plan.checksum = recorded;
    if plan.checksum.as_deref() != Some(expected.as_str()) {
        return Err(PlanFileError::Checksum {
            path: path.to_path_buf(),
        });
    }
    Ok(plan)
}

fn read(path: &Path) -> Result<Plan, PlanFileError> {
    let bytes = std::fs::read(path).map_err(|source| PlanFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    // The version first, the rest skimmed (borrowed, not decoded), then the plan itself:
    // decoding the file into a `serde_json::Value` on the way held a 70 MB plan as some
    // 500 MB of tree.
    let format = |e: serde_json::Error| PlanFileError::Format {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    type Fields<'a> =
        std::collections::BTreeMap<std::borrow::Cow<'a, str>, &'a serde_json::value::RawValue>;
    let found = match serde_json::from_slice::<Fields<'_>>(&bytes) {
        Ok(fields) => fields
            .get("format_version")
            .and_then(|v| serde_json::from_str::<String>(v.get()).ok())
            .unwrap_or_default(),
        // JSON, but not an object: no version, as a file without one.
        Err(e) if e.is_data() => String::new(),
        Err(e) => return Err(format(e)),
    };
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
    serde_json::from_slice(&bytes).map_err(format)
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
        let loaded = load(&p).unwrap();
        assert!(loaded.checksum.as_deref().unwrap().starts_with("sha256:"));
        assert_eq!(
            Plan {
                checksum: None,
                ..loaded.clone()
            },
            plan
        );
        // Saving a loaded plan again keeps one, valid checksum.
        save(&loaded, &p).unwrap();
        assert_eq!(load(&p).unwrap(), loaded);
        std::fs::write(&p, r#"{"format_version":"1.1"}"#).unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(
            e.contains("plan format 1.1") && e.contains("make the plan again"),
            "{e}"
        );
        std::fs::write(&p, r#"{"format_version":"3.0"}"#).unwrap();
        assert!(matches!(load(&p), Err(PlanFileError::Version { .. })));
        std::fs::write(&p, "garbage").unwrap();
        assert!(matches!(load(&p), Err(PlanFileError::Format { .. })));
        // JSON that is not an object has no version, as before the version was read alone.
        std::fs::write(&p, "[1, 2]").unwrap();
        let e = load(&p).unwrap_err();
        assert!(
            matches!(&e, PlanFileError::Version { found, .. } if found == "(none)"),
            "{e}"
        );
        std::fs::write(&p, r#"{"format_version": 2}"#).unwrap();
        assert!(matches!(load(&p), Err(PlanFileError::Version { .. })));
    }

    #[test]
    fn a_modified_or_unchecked_plan_is_refused_where_it_must_be() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("plan.json");
        save(&Plan::new("cfg".into(), vec![], vec![]), &p).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        // Reformatting changes nothing that matters.
        let pretty: serde_json::Value = serde_json::from_str(&text).unwrap();
        std::fs::write(&p, serde_json::to_string_pretty(&pretty).unwrap()).unwrap();
        assert!(load(&p).is_ok());
        std::fs::write(&p, text.replace("\"cfg\"", "\"other\"")).unwrap();
        assert!(matches!(load(&p), Err(PlanFileError::Checksum { .. })));
        assert!(matches!(load_own(&p), Err(PlanFileError::Checksum { .. })));
        let mut old: serde_json::Value = serde_json::from_str(&text).unwrap();
        old.as_object_mut().unwrap().remove("checksum");
        std::fs::write(&p, old.to_string()).unwrap();
        assert!(matches!(load(&p), Err(PlanFileError::NoChecksum { .. })));
        assert!(load_own(&p).is_ok(), "an older supctl's own plan resumes");
    }
}
