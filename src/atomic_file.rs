//! One way to replace a file: temp file (owner-only from its creation) in the same
//! directory, write, set `mode`, fsync, rename over the target, fsync the directory. A
//! reader never sees half a file, and a `kill -9` at any moment leaves the old file or the
//! new one. Keys, the client trust bundle and the lockfile are written through it.

use std::fs;
use std::io::Write as _;
use std::path::Path;

/// Replaces `path` with `bytes`, mode `mode` on Unix (ignored elsewhere).
pub fn write(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    // tempfile creates its files 0600 on Unix.
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
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
