//! One way to replace a file: temp file (owner-only from its creation) in the same
//! directory, write, set `mode`, fsync, rename over the target, fsync the directory. A
//! reader never sees half a file, and a `kill -9` at any moment leaves the old file or the
//! new one. Keys, the client trust bundle and the lockfile are written through it; archived
//! CABs and bundle files are copied through [`copy`], which streams, and the embedded
//! server's snapshot cache through [`write_with`].

use std::fs;
use std::io::Write as _;
use std::path::Path;

use crate::ids::{Sha1, Sha256};

/// Replaces `path` with `bytes`, mode `mode` on Unix (ignored elsewhere).
pub fn write(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    // tempfile creates its files 0600 on Unix.
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    persist(tmp, path, dir, mode)
}

/// Replaces `path` with what `fill` writes, the same way as [`write()`], without the whole
/// file in memory first: for files of tens of megabytes written in pieces.
pub fn write_with(
    path: &Path,
    mode: u32,
    fill: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, tmp);
    fill(&mut out)?;
    let tmp = out.into_inner().map_err(|e| e.into_error())?;
    persist(tmp, path, dir, mode)
}

/// What [`copy`] read: the size and digests of the bytes it copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    pub bytes: u64,
    pub sha1: Sha1,
    pub sha256: Sha256,
}

/// Whether [`copy`] put the file in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyOutcome {
    Written(Copied),
    /// `accept` refused what was read: nothing was written, the temp file is gone.
    Refused(Copied),
}

/// Replaces `to` with a copy of `from` the same way as [`write()`], reading through a fixed
/// buffer (never the whole file in memory) and hashing on the way; `progress` hears each
/// chunk's length. `accept` sees the size and digests before the rename: a copy whose bytes
/// are not the expected ones never appears under `to`, and since the check is made on the
/// bytes copied, a source replaced after an earlier check cannot slip through.
pub fn copy(
    from: &Path,
    to: &Path,
    mode: u32,
    mut progress: impl FnMut(u64),
    accept: impl FnOnce(&Copied) -> bool,
) -> std::io::Result<CopyOutcome> {
    let dir = to.parent().unwrap_or(Path::new("."));
    let mut input = fs::File::open(from)?;
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    let mut bytes = 0u64;
    let (sha1, sha256) = crate::apply::hash_stream(&mut input, |chunk| {
        bytes += chunk.len() as u64;
        progress(chunk.len() as u64);
        tmp.write_all(chunk)
    })?;
    let copied = Copied {
        bytes,
        sha1,
        sha256,
    };
    if !accept(&copied) {
        return Ok(CopyOutcome::Refused(copied));
    }
    persist(tmp, to, dir, mode)?;
    Ok(CopyOutcome::Written(copied))
}

fn persist(
    tmp: tempfile::NamedTempFile,
    path: &Path,
    dir: &Path,
    mode: u32,
) -> std::io::Result<()> {
    #[cfg(unix)]
    if mode != 0o600 {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_is_in_place_only_when_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("from");
        fs::write(&from, b"bytes").unwrap();
        let to = dir.path().join("to");
        let mut seen = 0;
        let out = copy(
            &from,
            &to,
            0o644,
            |n| seen += n,
            |c| c.sha256 != Sha256::of(b"bytes"),
        )
        .unwrap();
        assert!(matches!(out, CopyOutcome::Refused(c) if c.bytes == 5));
        assert_eq!(seen, 5);
        assert!(!to.exists());
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
        let out = copy(
            &from,
            &to,
            0o644,
            |_| {},
            |c| c.sha256 == Sha256::of(b"bytes"),
        )
        .unwrap();
        assert!(matches!(out, CopyOutcome::Written(c) if c.sha1 == Sha1::of(b"bytes")));
        assert_eq!(fs::read(&to).unwrap(), b"bytes");
    }
}
