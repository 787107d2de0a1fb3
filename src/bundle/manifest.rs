//! `manifest.json`: every file of a bundle with its size and SHA-256, and the comparison of
//! a bundle directory against it. Pure: the caller walks the directory and hashes; this
//! module decides what is missing, altered, extra or unsafe, so every rule has a unit test.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{Sha1, Sha256};

/// The manifest's own name, at the bundle's root.
pub const FILE_NAME: &str = "manifest.json";
/// What `format` says, so a stray JSON file is not taken for a bundle.
pub const FORMAT: &str = "supctl-bundle";
/// The layout this build writes and reads.
pub const VERSION: u32 = 1;

/// The whole manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    /// The supctl that wrote it, for whoever reads a bundle that is refused.
    pub supctl_version: String,
    pub created: DateTime<Utc>,
    /// Every other file, sorted by path.
    pub files: Vec<ManifestFile>,
}

/// One file: its path relative to the bundle, forward slashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestFile {
    pub path: String,
    pub size: u64,
    /// Lower-case hex.
    #[serde(with = "crate::lockfile::lower_hex")]
    pub sha256: Sha256,
}

/// What a bundle file is, by where it sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `catalogs/<sha256>.cab`: a locked catalog, named by its digest.
    Catalog(Sha256),
    /// `content/<name>` or `content/<SHA1HEX>/<name>`.
    Content,
    /// `supctl.lock`.
    Lock,
}

/// Where a listed path points, by its place in the layout; `None` for anything else.
pub fn classify(path: &str) -> Option<Kind> {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        [crate::lockfile::FILE_NAME] => Some(Kind::Lock),
        ["catalogs", name] => {
            let hex = name.strip_suffix(".cab")?;
            (hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
                .then(|| Sha256::from_hex(hex).ok().map(Kind::Catalog))
                .flatten()
        }
        ["content", _] => Some(Kind::Content),
        ["content", dir, _] if Sha1::from_hex(dir).is_ok_and(|s| s.to_hex() == *dir) => {
            Some(Kind::Content)
        }
        _ => None,
    }
}

/// Why a listed path is not a plain relative path inside the bundle; `None` when it is.
pub fn unsafe_path(path: &str) -> Option<&'static str> {
    if path.is_empty() {
        return Some("an empty path");
    }
    if path.contains('\0') {
        return Some("a NUL byte in the path");
    }
    if path.starts_with('/') || path.starts_with('\\') {
        return Some("an absolute path");
    }
    if path.contains('\\') {
        return Some("a backslash (bundle paths use forward slashes)");
    }
    if path.split('/').next().is_some_and(|c| c.contains(':')) {
        return Some("an absolute path (drive or scheme)");
    }
    for c in path.split('/') {
        match c {
            "" => return Some("an empty path component"),
            ".." => return Some("`..`, which leaves the bundle"),
            "." => return Some("a `.` component"),
            _ => {}
        }
    }
    if path == FILE_NAME {
        return Some("the manifest listing itself");
    }
    None
}

/// What is at a path of the bundle directory, as the caller's walk found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    File {
        size: u64,
    },
    /// A symbolic link; `escapes` when it points outside the bundle.
    Link {
        escapes: bool,
    },
    /// A FIFO, a socket, a device.
    Other,
}

/// One reason a bundle is refused, naming the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Missing {
        path: String,
    },
    Altered {
        path: String,
        what: Alteration,
    },
    Extra {
        path: String,
    },
    Unsafe {
        path: String,
        why: &'static str,
    },
    Link {
        path: String,
        escapes: bool,
    },
    NotAFile {
        path: String,
    },
    Duplicate {
        path: String,
    },
    Unreadable {
        path: String,
        error: String,
    },
    /// Listed, safe and intact, but no part of the layout (`catalogs/`, `content/`, the lock).
    Unknown {
        path: String,
    },
}

/// How an altered file differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alteration {
    Size { expected: u64, found: u64 },
    Sha256 { expected: Sha256, found: Sha256 },
}

impl Problem {
    /// The bundle-relative path the problem is about.
    pub fn path(&self) -> &str {
        match self {
            Problem::Missing { path }
            | Problem::Altered { path, .. }
            | Problem::Extra { path }
            | Problem::Unsafe { path, .. }
            | Problem::Link { path, .. }
            | Problem::NotAFile { path }
            | Problem::Duplicate { path }
            | Problem::Unreadable { path, .. }
            | Problem::Unknown { path } => path,
        }
    }
}

fn hex(s: &Sha256) -> String {
    s.to_hex().to_ascii_lowercase()
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Missing { path } => {
                write!(
                    f,
                    "missing: {path} (listed in {FILE_NAME}, not in the bundle)"
                )
            }
            Problem::Altered { path, what } => match what {
                Alteration::Size { expected, found } => write!(
                    f,
                    "altered: {path}: expected {expected} bytes, found {found} bytes"
                ),
                Alteration::Sha256 { expected, found } => write!(
                    f,
                    "altered: {path}: expected sha256 {}, found {}",
                    hex(expected),
                    hex(found)
                ),
            },
            Problem::Extra { path } => {
                write!(
                    f,
                    "extra: {path} (in the bundle, not listed in {FILE_NAME})"
                )
            }
            Problem::Unsafe { path, why } => {
                write!(f, "unsafe path: {path:?} in {FILE_NAME}: {why}")
            }
            Problem::Link { path, escapes } => {
                if *escapes {
                    write!(f, "symbolic link: {path} points outside the bundle")
                } else {
                    write!(f, "symbolic link: {path} (a bundle holds plain files only)")
                }
            }
            Problem::NotAFile { path } => write!(f, "not a file: {path}"),
            Problem::Duplicate { path } => write!(f, "listed twice in {FILE_NAME}: {path}"),
            Problem::Unreadable { path, error } => write!(f, "unreadable: {path}: {error}"),
            Problem::Unknown { path } => write!(
                f,
                "not a bundle file: {path} (a bundle holds catalogs/, content/ and supctl.lock)"
            ),
        }
    }
}

/// Compares the bundle directory (`found`, every entry below it but the manifest) with the
/// manifest: every problem, sorted by path, not just the first. `sha256` is asked only for a
/// listed, safe, present regular file whose size is the listed one, so a big extra or
/// truncated file is never read.
pub fn compare(
    manifest: &Manifest,
    found: &BTreeMap<String, Found>,
    mut sha256: impl FnMut(&str) -> Result<Sha256, String>,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut listed = BTreeSet::new();
    for f in &manifest.files {
        let path = f.path.clone();
        if let Some(why) = unsafe_path(&path) {
            problems.push(Problem::Unsafe { path, why });
            continue;
        }
        if !listed.insert(path.clone()) {
            problems.push(Problem::Duplicate { path });
            continue;
        }
        match found.get(&path) {
            None => problems.push(Problem::Missing { path }),
            Some(Found::Link { escapes }) => problems.push(Problem::Link {
                path,
                escapes: *escapes,
            }),
            Some(Found::Other) => problems.push(Problem::NotAFile { path }),
            Some(Found::File { size }) if *size != f.size => problems.push(Problem::Altered {
                path,
                what: Alteration::Size {
                    expected: f.size,
                    found: *size,
                },
            }),
            Some(Found::File { .. }) => match sha256(&path) {
                Err(error) => problems.push(Problem::Unreadable { path, error }),
                Ok(got) if got != f.sha256 => problems.push(Problem::Altered {
                    path,
                    what: Alteration::Sha256 {
                        expected: f.sha256,
                        found: got,
                    },
                }),
                Ok(_) if classify(&path).is_none() => problems.push(Problem::Unknown { path }),
                Ok(_) => {}
            },
        }
    }
    for (path, what) in found {
        if path == FILE_NAME || listed.contains(path) {
            continue;
        }
        problems.push(match what {
            Found::Link { escapes } => Problem::Link {
                path: path.clone(),
                escapes: *escapes,
            },
            _ => Problem::Extra { path: path.clone() },
        });
    }
    problems.sort_by(|a, b| a.path().cmp(b.path()));
    problems
}

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("not a bundle manifest: {0}")]
    Parse(String),
    #[error("a `{found}` manifest, not a {FORMAT} one")]
    Format { found: String },
    #[error(
        "bundle layout {found}; this supctl reads {VERSION}: import it with the supctl that exported it, or export again"
    )]
    Version { found: u32 },
}

/// Parses a manifest and checks it is one this build reads.
pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
    let m: Manifest =
        serde_json::from_str(text).map_err(|e| ManifestError::Parse(e.to_string()))?;
    if m.format != FORMAT {
        return Err(ManifestError::Format { found: m.format });
    }
    if m.version != VERSION {
        return Err(ManifestError::Version { found: m.version });
    }
    Ok(m)
}

/// The manifest's text: pretty JSON, files sorted, one trailing newline.
pub fn to_text(m: &Manifest) -> String {
    let mut m = m.clone();
    m.files.sort_by(|a, b| a.path.cmp(&b.path));
    let mut text = serde_json::to_string_pretty(&m).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(files: &[(&str, &[u8])]) -> Manifest {
        Manifest {
            format: FORMAT.into(),
            version: VERSION,
            supctl_version: "0.0.0".into(),
            created: Utc::now(),
            files: files
                .iter()
                .map(|(p, b)| ManifestFile {
                    path: p.to_string(),
                    size: b.len() as u64,
                    sha256: Sha256::of(b),
                })
                .collect(),
        }
    }

    /// The directory as the walk would find it, and the hashes of its files.
    fn check(m: &Manifest, dir: &[(&str, &[u8])]) -> Vec<Problem> {
        let files: BTreeMap<String, Vec<u8>> = dir
            .iter()
            .map(|(p, b)| (p.to_string(), b.to_vec()))
            .collect();
        let found = files
            .iter()
            .map(|(p, b)| {
                (
                    p.clone(),
                    Found::File {
                        size: b.len() as u64,
                    },
                )
            })
            .collect();
        compare(m, &found, |p| Ok(Sha256::of(&files[p])))
    }

    const LOCK: (&str, &[u8]) = ("supctl.lock", b"version = 1\n");
    const TOOL: (&str, &[u8]) = ("content/tool.exe", b"MZ tool");

    #[test]
    fn an_intact_bundle_has_no_problem() {
        let m = manifest(&[LOCK, TOOL]);
        assert_eq!(check(&m, &[LOCK, TOOL, ("manifest.json", b"{}")]), vec![]);
    }

    #[test]
    fn a_missing_file_is_named() {
        let m = manifest(&[LOCK, TOOL]);
        let p = check(&m, &[LOCK]);
        assert_eq!(
            p,
            vec![Problem::Missing {
                path: "content/tool.exe".into()
            }]
        );
        assert!(p[0].to_string().starts_with("missing: content/tool.exe"));
    }

    #[test]
    fn an_extra_file_is_named_but_not_read() {
        let m = manifest(&[LOCK]);
        let mut found = BTreeMap::new();
        found.insert("supctl.lock".to_string(), Found::File { size: 12 });
        found.insert("notes.txt".to_string(), Found::File { size: 1 << 40 });
        let p = compare(&m, &found, |path| {
            assert_eq!(path, "supctl.lock", "only listed files are hashed");
            Ok(Sha256::of(LOCK.1))
        });
        assert_eq!(
            p,
            vec![Problem::Extra {
                path: "notes.txt".into()
            }]
        );
    }

    #[test]
    fn an_altered_file_says_expected_and_found() {
        let m = manifest(&[LOCK, TOOL]);
        let p = check(&m, &[LOCK, ("content/tool.exe", b"MZ toot")]);
        let text = p[0].to_string();
        let (want, got) = (hex(&Sha256::of(b"MZ tool")), hex(&Sha256::of(b"MZ toot")));
        assert_eq!(
            text,
            format!("altered: content/tool.exe: expected sha256 {want}, found {got}")
        );
        let p = check(&m, &[LOCK, ("content/tool.exe", b"MZ")]);
        assert_eq!(
            p[0].to_string(),
            "altered: content/tool.exe: expected 7 bytes, found 2 bytes"
        );
    }

    #[test]
    fn a_path_that_escapes_is_refused_by_name_and_never_looked_at() {
        for (path, why) in [
            ("../etc/passwd", "`..`"),
            ("content/../../x", "`..`"),
            ("/etc/passwd", "absolute"),
            ("C:/Windows/x", "absolute"),
            ("content\\x", "backslash"),
            ("content//x", "empty path component"),
            ("", "empty path"),
            ("manifest.json", "listing itself"),
        ] {
            let m = manifest(&[(path, b"x")]);
            let p = compare(&m, &BTreeMap::new(), |_| panic!("{path} was read"));
            assert_eq!(p.len(), 1, "{path}: {p:?}");
            let text = p[0].to_string();
            assert!(
                text.contains(&format!("{path:?}")) && text.contains(why),
                "{text}"
            );
        }
    }

    #[test]
    fn links_and_duplicates_are_refused() {
        let mut m = manifest(&[LOCK, TOOL]);
        m.files.push(m.files[0].clone());
        let mut found = BTreeMap::new();
        found.insert("supctl.lock".to_string(), Found::File { size: 12 });
        found.insert(
            "content/tool.exe".to_string(),
            Found::Link { escapes: true },
        );
        found.insert("content/x".to_string(), Found::Link { escapes: false });
        let p = compare(&m, &found, |_| Ok(Sha256::of(LOCK.1)));
        let text: Vec<String> = p.iter().map(ToString::to_string).collect();
        assert!(
            text.contains(&"symbolic link: content/tool.exe points outside the bundle".to_string()),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("symbolic link: content/x")),
            "{text:?}"
        );
        assert!(
            text.iter().any(|t| t.starts_with("listed twice")),
            "{text:?}"
        );
    }

    #[test]
    fn only_the_layout_is_a_bundle() {
        let sha = Sha256::of(b"cab");
        let cab = format!("catalogs/{}.cab", hex(&sha));
        assert_eq!(classify(&cab), Some(Kind::Catalog(sha)));
        assert_eq!(classify(&cab.to_ascii_uppercase()), None);
        assert_eq!(classify("supctl.lock"), Some(Kind::Lock));
        assert_eq!(classify("content/a.exe"), Some(Kind::Content));
        let sha1 = Sha1::of(b"a").to_hex();
        assert_eq!(
            classify(&format!("content/{sha1}/a.exe")),
            Some(Kind::Content)
        );
        assert_eq!(classify("content/sub/a.exe"), None);
        assert_eq!(classify("notes.txt"), None);
        let m = manifest(&[("notes.txt", b"n")]);
        let p = check(&m, &[("notes.txt", b"n")]);
        assert!(
            p[0].to_string().starts_with("not a bundle file: notes.txt"),
            "{p:?}"
        );
    }

    #[test]
    fn the_manifest_round_trips_and_a_stranger_is_refused() {
        let m = manifest(&[TOOL, LOCK]);
        let text = to_text(&m);
        assert!(text.contains(&hex(&Sha256::of(TOOL.1))), "{text}");
        let back = parse(&text).unwrap();
        assert_eq!(back.files[0].path, "content/tool.exe");
        assert_eq!(back.files.len(), 2);
        let e = parse(&text.replace(FORMAT, "other")).unwrap_err();
        assert!(e.to_string().contains("`other`"), "{e}");
        let e = parse(&text.replace("\"version\": 1", "\"version\": 9")).unwrap_err();
        assert!(e.to_string().contains("layout 9"), "{e}");
        assert!(parse("[]").is_err());
    }
}
