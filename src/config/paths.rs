//! Catalog `path` sources as the state records them: relative to the config root and
//! normalised.
//!
//! The config makes paths absolute at load (so nothing depends on the working directory),
//! but an absolute path names the checkout, not the catalog: a CI checkout and the `watch`
//! checkout of the same repository, or a moved checkout, would each plan a catalog
//! *replace*. So the planner stores and compares the path as it is relative to the config
//! root, with `.` and `dir/..` folded and `/` as separator: the same file reached from any
//! copy of the config is the same source. A path written absolute names a place outside
//! any checkout (a share) and is recorded absolute, normalised. Everything here is lexical
//! (no file system), so the planner stays free of I/O; the price is that `link/..` is
//! folded as written, not as a symbolic link would resolve.

use std::path::{Component, Path, PathBuf};

use super::model::Config;

impl super::model::Catalog {
    /// How the state records this catalog's `path` under a config at `root`: relative to the
    /// root when it was written relative, else absolute; normalised either way.
    pub fn stored_path(&self, root: Option<&Path>) -> Option<String> {
        let path = self.path.as_deref()?;
        Some(match root {
            Some(root) if self.path_written_relative => stored_path_source(path, root),
            _ => slashes(&normalize(path)),
        })
    }
}

impl Config {
    /// The directory the config was loaded from (the `-c` directory, or the directory of the
    /// `-c` file): the root that relative paths and stored path sources are relative to.
    pub fn root(&self) -> Option<&Path> {
        self.files.first().and_then(|f| f.parent())
    }
}

/// `path` with `.` dropped and `dir/..` folded, without touching the file system (a `..`
/// that cannot be folded is kept; `/..` is `/`).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out: Vec<Component> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(c),
            },
            _ => out.push(c),
        }
    }
    out.iter().collect()
}

/// How the state records a catalog read from `path` (absolute, as loaded) under a config at
/// `root`: relative to `root`, normalised, `/`-separated (`../vendor/hp.cab`). A path that
/// shares no prefix with the root (another drive) stays absolute, normalised.
pub fn stored_path_source(path: &Path, root: &Path) -> String {
    let path = normalize(path);
    let root = normalize(root);
    let (p, r): (Vec<Component>, Vec<Component>) =
        (path.components().collect(), root.components().collect());
    let common = p.iter().zip(&r).take_while(|(a, b)| a == b).count();
    let shares_prefix = !p.is_empty() && p.first() == r.first();
    if !shares_prefix || !path.is_absolute() || !root.is_absolute() {
        return slashes(&path);
    }
    let mut parts: Vec<String> = r[common..].iter().map(|_| "..".to_string()).collect();
    parts.extend(
        p[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

/// True when `stored` (a source recorded by this or an older supctl: relative to the root,
/// or absolute in any spelling) names the file at `path`.
pub fn same_path_source(stored: &str, path: &Path, root: &Path) -> bool {
    let stored = Path::new(stored);
    let resolved = if stored.is_absolute() {
        normalize(stored)
    } else {
        normalize(&root.join(stored))
    };
    resolved == normalize(path)
}

fn slashes(path: &Path) -> String {
    let s = path.to_string_lossy();
    if std::path::MAIN_SEPARATOR == '\\' {
        s.replace('\\', "/")
    } else {
        s.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_folds_dots_lexically() {
        assert_eq!(
            normalize(Path::new("/a/cfg/../hpcab/./hp.cab")),
            Path::new("/a/hpcab/hp.cab")
        );
        assert_eq!(normalize(Path::new("/../x")), Path::new("/x"));
        assert_eq!(normalize(Path::new("../x/../../y")), Path::new("../../y"));
    }

    #[test]
    fn stored_sources_are_relative_to_the_root() {
        let root = Path::new("/work/repo/cfg");
        for (path, stored) in [
            ("/work/repo/cfg/../hpcab/hp.cab", "../hpcab/hp.cab"),
            ("/work/repo/cfg/catalogs/./hp.cab", "catalogs/hp.cab"),
            ("/srv/share/hp.cab", "../../../srv/share/hp.cab"),
        ] {
            assert_eq!(stored_path_source(Path::new(path), root), stored, "{path}");
        }
    }

    #[test]
    fn any_spelling_of_the_same_file_is_the_same_source() {
        let root = Path::new("/ci/checkout/cfg");
        let path = Path::new("/ci/checkout/cfg/../hpcab/hp.cab");
        assert!(same_path_source("../hpcab/hp.cab", path, root));
        assert!(same_path_source("/ci/checkout/hpcab/hp.cab", path, root));
        assert!(same_path_source(
            "/ci/checkout/cfg/../hpcab/hp.cab",
            path,
            root
        ));
        assert!(!same_path_source("/elsewhere/hpcab/hp.cab", path, root));
        assert!(!same_path_source("../hpcab/other.cab", path, root));
    }
}
