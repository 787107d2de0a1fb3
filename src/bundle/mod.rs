//! Disconnected bundles: `supctl export --out DIR` on the connected side writes the locked
//! catalog CABs, the content staged for them, the lock and a manifest into `DIR`; the admin
//! carries `DIR` across the air gap; `supctl import-bundle DIR` checks it and installs it in
//! the state directory, where a `--locked` plan and apply find it with no network.
//!
//! Layout of a bundle:
//!
//! ```text
//! DIR/catalogs/<sha256>.cab        each locked catalog, named by its pin (as in [archive])
//! DIR/content/<name>               each staged file, under the name the catalog gives it
//! DIR/content/<SHA1HEX>/<name>     ... when two different files share that name
//! DIR/supctl.lock                  the lock, restricted to the exported catalogs
//! DIR/manifest.json                every other file's path, size and SHA-256; written last
//! ```
//!
//! Rules, and why:
//! - **The manifest is written last, atomically**: a bundle whose export was interrupted has
//!   no manifest and is refused whole, never imported half.
//! - **Import refuses a missing, altered or extra file, naming each**, and a path that could
//!   leave `DIR` (`..`, absolute, a symbolic link): media and hands between two networks lose
//!   and change files, and a file nobody listed is one nobody vouches for. Every problem is
//!   reported at once, and nothing is installed while any remains.
//! - **Catalogs are checked like any catalog**: their SHA-256 is their name and the bundle
//!   lock's pin, and their Authenticode signature verifies (under the config's approved
//!   signers when the config has the catalog). Content is checked when it is staged: its
//!   SHA-1 against the catalog and its signature against the approved content certificates.
//! - **A bundle made for another lock is refused**, catalog by catalog, expected and found:
//!   the disconnected side applies what the lab tested, and the admin commits the lab's lock
//!   first. With no lock yet, the bundle's becomes the config's.
//! - **Installed beside the store, not in it**: CABs in `<state>/archive/<sha256>.cab` (read
//!   by a `--locked` plan after the configured `[archive]`), content in
//!   `<state>/bundle-content/` (searched after each catalog's `content_source`). Both are
//!   whole files put in place by rename, so an apply running meanwhile sees a file or none.
//! - **Everything streams** through a fixed buffer, hashing while it copies, and says on
//!   stderr how far it is: bundles carry gigabytes.
//! - **Two files, one name**: a catalog can give the same file name to two different files
//!   (two versions of `setup.exe`). Flat, one would overwrite the other; refusing would make
//!   such a catalog impossible to carry. So every file whose name is shared (ignoring case, as
//!   the content lookup does) goes under `content/<SHA1HEX>/`, which the lookup tries first.

pub mod export;
pub mod import;
pub mod manifest;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use manifest::Found;

use crate::ids::Sha256;

/// Where `import-bundle` keeps the catalogs it installed: `<state>/archive/`.
pub fn installed_archive(state_dir: &Path) -> PathBuf {
    state_dir.join("archive")
}

/// Where `import-bundle` keeps the content it installed: `<state>/bundle-content/`.
pub fn installed_content(state_dir: &Path) -> PathBuf {
    state_dir.join("bundle-content")
}

/// The size and SHA-256 of a file, read through a fixed buffer.
pub fn sha256_of_file(path: &Path) -> std::io::Result<(u64, Sha256)> {
    let mut f = std::fs::File::open(path)?;
    let mut bytes = 0u64;
    let (_, sha) = crate::apply::hash_stream(&mut f, |c| {
        bytes += c.len() as u64;
        Ok(())
    })?;
    Ok((bytes, sha))
}

/// How many entries a walk reads before it gives up: a bundle is a few thousand files; a
/// directory with millions is not one, and walking it would look like a hang.
const WALK_LIMIT: usize = 1_000_000;

/// Every entry below `dir` (directories excepted), by path relative to it with forward
/// slashes. Symbolic links are reported, never followed.
pub fn walk(dir: &Path) -> std::io::Result<BTreeMap<String, Found>> {
    let root = std::fs::canonicalize(dir)?;
    let mut out = BTreeMap::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((d, prefix)) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let t = e.file_type()?;
            if t.is_dir() {
                stack.push((e.path(), rel));
                continue;
            }
            let found = if t.is_symlink() {
                let escapes = std::fs::canonicalize(e.path())
                    .map(|p| !p.starts_with(&root))
                    .unwrap_or(true);
                Found::Link { escapes }
            } else if t.is_file() {
                Found::File {
                    size: e.metadata()?.len(),
                }
            } else {
                Found::Other
            };
            out.insert(rel, found);
            if out.len() > WALK_LIMIT {
                return Err(std::io::Error::other(format!(
                    "more than {WALK_LIMIT} files: not a bundle"
                )));
            }
        }
    }
    Ok(out)
}

/// `bundle-relative/path` as a path below `dir` (the path was checked by
/// [`manifest::unsafe_path`] or made by the export).
pub fn below(dir: &Path, rel: &str) -> PathBuf {
    rel.split('/').fold(dir.to_path_buf(), |p, c| p.join(c))
}

/// Progress on stderr: a line per file, with the bytes done of the total.
pub struct Progress {
    verb: &'static str,
    files: usize,
    total: u64,
    done_files: usize,
    done: u64,
}

impl Progress {
    pub fn new(verb: &'static str, files: usize, total: u64) -> Self {
        Self {
            verb,
            files,
            total,
            done_files: 0,
            done: 0,
        }
    }

    /// Counts a chunk copied.
    pub fn chunk(&mut self, n: u64) {
        self.done += n;
    }

    /// Says a file is done.
    pub fn file(&mut self, rel: &str) {
        self.done_files += 1;
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "{} [{}/{}] {rel} ({} of {})",
            self.verb,
            self.done_files,
            self.files,
            size(self.done),
            size(self.total)
        );
    }
}

/// Bytes for people: `812 B`, `8.5 KiB`, `1.2 GiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_a_file_manager() {
        assert_eq!(size(812), "812 B");
        assert_eq!(size(8676), "8.5 KiB");
        assert_eq!(size(3 << 30), "3.0 GiB");
    }

    #[cfg(unix)]
    #[test]
    fn the_walk_reports_links_without_following_them() {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path().join("b");
        std::fs::create_dir_all(b.join("content")).unwrap();
        std::fs::write(b.join("content/a.exe"), b"a").unwrap();
        std::os::unix::fs::symlink("/etc", b.join("content/out")).unwrap();
        std::os::unix::fs::symlink("a.exe", b.join("content/in")).unwrap();
        let w = walk(&b).unwrap();
        assert_eq!(w["content/a.exe"], Found::File { size: 1 });
        assert_eq!(w["content/out"], Found::Link { escapes: true });
        assert_eq!(w["content/in"], Found::Link { escapes: false });
        assert_eq!(below(&b, "content/a.exe"), b.join("content").join("a.exe"));
    }
}
