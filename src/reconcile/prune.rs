//! Pruning what the state directory accumulates: saved plans beyond `[server] keep_plans`
//! and the fetch cache of catalogs no longer configured (issue 19: a year of daily passes
//! left thousands of plans, each as large as the catalogs it published).
//!
//! Rules, and why:
//! - **The newest plans stay**, by modification time (the order they were saved), and so
//!   does every plan named in `protect`: the plan an interrupted apply needs for
//!   `apply --resume` is never pruned, however old.
//! - **Only supctl's own files are touched**: `*.json` plans in `plans/`, and in `cache/`
//!   the `<key>.cab`, `<key>.json`, `<key>.summary` (and the `<key>.parsed.json` earlier
//!   builds wrote) and `<key>.*.partial` of a key the config no longer names. Anything
//!   else is left where it is.
//! - **A dry run says what would go** and removes nothing (`store gc --dry-run`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

/// What a prune removed (or would remove).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    pub files: Vec<PathBuf>,
    pub bytes: u64,
}

impl Pruned {
    fn take(&mut self, path: PathBuf, bytes: u64, dry_run: bool) -> std::io::Result<()> {
        if !dry_run {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                // Someone else pruned it: the same outcome.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        self.files.push(path);
        self.bytes += bytes;
        Ok(())
    }
}

fn files_in(dir: &Path) -> std::io::Result<Vec<(PathBuf, u64, SystemTime)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let Ok(meta) = e.metadata() else { continue };
        if meta.is_file() {
            let at = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            out.push((e.path(), meta.len(), at));
        }
    }
    Ok(out)
}

/// Removes the saved plans in `dir` beyond the newest `keep`, except those whose id (file
/// stem) is in `protect`.
pub fn plans(
    dir: &Path,
    keep: usize,
    protect: &BTreeSet<String>,
    dry_run: bool,
) -> std::io::Result<Pruned> {
    let mut plans: Vec<_> = files_in(dir)?
        .into_iter()
        .filter(|(p, _, _)| p.extension().is_some_and(|e| e == "json"))
        .collect();
    // Newest first; the name breaks ties (ids start with the time).
    plans.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| b.0.cmp(&a.0)));
    let mut out = Pruned::default();
    for (path, bytes, _) in plans.into_iter().skip(keep.max(1)) {
        let id = path
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        if !protect.contains(&id) {
            out.take(path, bytes, dry_run)?;
        }
    }
    Ok(out)
}

/// The catalog key a fetch-cache file belongs to, when it is one of supctl's.
fn cache_key(name: &str) -> Option<&str> {
    let (key, rest) = name.split_once('.')?;
    let ours =
        matches!(rest, "cab" | "json" | "summary" | "parsed.json") || rest.ends_with(".partial");
    ours.then_some(key)
}

/// Removes the fetch-cache files in `dir` of catalogs not in `configured`.
pub fn cache(dir: &Path, configured: &BTreeSet<String>, dry_run: bool) -> std::io::Result<Pruned> {
    let mut out = Pruned::default();
    for (path, bytes, _) in files_in(dir)? {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if cache_key(&name).is_some_and(|k| !configured.contains(k)) {
            out.take(path, bytes, dry_run)?;
        }
    }
    out.files.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(dir: &Path, name: &str, age_secs: u64) {
        let p = dir.join(name);
        std::fs::write(&p, name).unwrap();
        let t = SystemTime::now() - std::time::Duration::from_secs(age_secs);
        std::fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(t)
            .unwrap();
    }

    fn names(p: &Pruned) -> Vec<String> {
        let mut v: Vec<String> = p
            .files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().to_string())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn the_newest_plans_and_the_protected_one_stay() {
        let d = tempfile::tempdir().unwrap();
        for (name, age) in [("a", 40), ("b", 30), ("c", 20), ("d", 10)] {
            touch(d.path(), &format!("{name}.json"), age);
        }
        touch(d.path(), "notes.txt", 99);
        let protect: BTreeSet<String> = ["a".to_string()].into();
        let dry = plans(d.path(), 2, &protect, true).unwrap();
        assert_eq!(names(&dry), ["b.json"]);
        assert!(
            d.path().join("b.json").exists(),
            "a dry run removes nothing"
        );
        let done = plans(d.path(), 2, &protect, false).unwrap();
        assert_eq!(names(&done), ["b.json"]);
        for left in ["a.json", "c.json", "d.json", "notes.txt"] {
            assert!(d.path().join(left).exists(), "{left}");
        }
        assert!(
            plans(&d.path().join("none"), 2, &protect, false)
                .unwrap()
                .files
                .is_empty()
        );
    }

    #[test]
    fn only_cache_files_of_catalogs_no_longer_configured_go() {
        let d = tempfile::tempdir().unwrap();
        for n in [
            "hp.cab",
            "hp.json",
            "hp.parsed.json",
            "hp.summary",
            "dell.cab",
            "dell.json",
            "dell.summary",
            "dell.parsed.json",
            "dell.x1y2.partial",
            "partners.xml",
            "README",
        ] {
            touch(d.path(), n, 1);
        }
        let configured: BTreeSet<String> = ["hp".to_string()].into();
        let done = cache(d.path(), &configured, false).unwrap();
        assert_eq!(
            names(&done),
            [
                "dell.cab",
                "dell.json",
                "dell.parsed.json",
                "dell.summary",
                "dell.x1y2.partial"
            ]
        );
        for left in [
            "hp.cab",
            "hp.json",
            "hp.parsed.json",
            "hp.summary",
            "partners.xml",
            "README",
        ] {
            assert!(d.path().join(left).exists(), "{left}");
        }
    }
}
