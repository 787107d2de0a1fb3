//! Temporary files a killed writer leaves behind, removed by the next writer.
//!
//! Every state write goes through a temporary file that is fsynced and renamed into place,
//! so a `kill -9` can leave such files but never a half-written real one. They would stay
//! until `store gc`; the next process to take the state lock removes them instead, because
//! holding the lock means no other writer can be in the middle of one. Each kind is named
//! by the pattern its writer uses, and nothing else is touched:
//!
//! | where | pattern | written by |
//! |---|---|---|
//! | `WsusContent/.tmp/` | any file | content downloads before `install` |
//! | state directory | `lock.json.*.tmp` | the lock's owner file |
//! | `plans/`, `cache/` | `.tmp*`, untouched for 10 minutes | saved plans, the parsed-catalog cache |
//!
//! `plan` writes the cache without taking the lock, so a temporary file there may belong to
//! a `plan` running right now: only files nobody has written for [`QUIET`] are taken.
//! Partial downloads in `cache/` (`*.partial`) are kept on purpose: they are how an
//! interrupted download resumes with `Range`.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::location::StoreLocation;

/// How long a temporary file in `plans/` or `cache/` must have been left alone.
pub const QUIET: Duration = Duration::from_secs(600);

/// Removes the leftovers of killed writers; returns what was removed. Errors are skipped
/// (a file that cannot be removed now is tried again by the next writer or `store gc`).
pub fn remove(loc: &StoreLocation) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let quiet = |p: &Path| {
        fs::metadata(p)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age >= QUIET)
    };
    let mut take = |dir: &Path, matches: &dyn Fn(&str, &Path) -> bool| {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let is_file = e.file_type().is_ok_and(|t| t.is_file());
            if is_file && matches(&name, &e.path()) && fs::remove_file(e.path()).is_ok() {
                removed.push(e.path());
            }
        }
    };
    take(&loc.temp_dir(), &|_, _| true);
    take(loc.dir(), &|n, _| {
        n.starts_with("lock.json.") && n.ends_with(".tmp")
    });
    for sub in ["plans", "cache"] {
        take(&loc.dir().join(sub), &|n, p| {
            n.starts_with(".tmp") && !n.ends_with(".partial") && quiet(p)
        });
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_each_kind_of_leftover_and_nothing_else() {
        let d = tempfile::tempdir().unwrap();
        let loc = StoreLocation::new(d.path());
        let old = SystemTime::now() - QUIET - Duration::from_secs(1);
        let files = [
            ("WsusContent/.tmp/abc.part", true),
            ("lock.json.XYZ.tmp", true),
            ("lock.json", false),
            ("plans/.tmpA1b2C3", true),
            ("plans/0123456789abcdef.json", false),
            ("cache/.tmpQ9", true),
            ("cache/.tmpRecent", false),
            ("cache/.tmp-contoso.partial", false),
            ("store.db", false),
        ];
        for (f, _) in files {
            let p = d.path().join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, b"x").unwrap();
            if !f.ends_with("Recent") {
                fs::File::options()
                    .write(true)
                    .open(&p)
                    .unwrap()
                    .set_modified(old)
                    .unwrap();
            }
        }
        let removed = remove(&loc);
        for (f, gone) in files {
            assert_eq!(!d.path().join(f).exists(), gone, "{f}");
        }
        assert_eq!(removed.len(), 4);
    }
}
