//! Member names from a cabinet, split and checked so they can never escape a directory.

use std::fmt;

/// Why a member name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("empty name")]
    Empty,
    #[error("absolute path")]
    Absolute,
    #[error("drive letter or colon in a component")]
    Drive,
    #[error("`..` component")]
    ParentDir,
    #[error("empty or `.` component")]
    EmptyComponent,
    #[error("NUL or control character")]
    Control,
}

/// A safe relative path inside a cabinet: non-empty components with no `..`, `.`, drive
/// letters, colons or control characters. Cabinets store `V2\x.sdp` with backslashes; both
/// separators are accepted so names from any packer compare the same.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CabPath {
    components: Vec<String>,
}

impl CabPath {
    /// Splits `name` on `\` and `/` and rejects anything that could leave the extraction root.
    pub fn parse(name: &str) -> Result<Self, PathError> {
        if name.is_empty() {
            return Err(PathError::Empty);
        }
        if name.starts_with('\\') || name.starts_with('/') {
            return Err(PathError::Absolute);
        }
        let mut components = Vec::new();
        for part in name.split(['\\', '/']) {
            if part.chars().any(|c| c.is_control()) {
                return Err(PathError::Control);
            }
            match part {
                "" | "." => return Err(PathError::EmptyComponent),
                ".." => return Err(PathError::ParentDir),
                p if p.contains(':') => return Err(PathError::Drive),
                p => components.push(p.to_string()),
            }
        }
        Ok(Self { components })
    }

    pub fn components(&self) -> &[String] {
        &self.components
    }

    /// The last component.
    pub fn file_name(&self) -> &str {
        self.components.last().map(String::as_str).unwrap_or("")
    }

    /// True when the first component equals `folder` ignoring ASCII case (`V3` = `v3`): the
    /// case vendors use is not fixed and Windows tooling does not care.
    pub fn is_in_folder(&self, folder: &str) -> bool {
        self.components.len() > 1 && self.components[0].eq_ignore_ascii_case(folder)
    }

    /// True for a member directly in the cabinet root.
    pub fn is_top_level(&self) -> bool {
        self.components.len() == 1
    }

    /// True when the name ends with `.ext`, ignoring ASCII case.
    pub fn has_extension(&self, ext: &str) -> bool {
        let name = self.file_name();
        name.len() > ext.len() + 1
            && name.as_bytes()[name.len() - ext.len() - 1] == b'.'
            && name[name.len() - ext.len()..].eq_ignore_ascii_case(ext)
    }
}

impl fmt::Display for CabPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.components.join("/"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_both_separators() {
        let p = CabPath::parse(r"V2\sub/x.sdp").unwrap();
        assert_eq!(p.components(), ["V2", "sub", "x.sdp"]);
        assert_eq!(p.to_string(), "V2/sub/x.sdp");
        assert!(p.is_in_folder("v2"));
        assert!(!p.is_in_folder("V3"));
        assert!(p.has_extension("SDP"));
        assert!(CabPath::parse("Catalog.xml").unwrap().is_top_level());
    }

    #[test]
    fn rejects_escapes() {
        assert_eq!(CabPath::parse(r"..\..\x"), Err(PathError::ParentDir));
        assert_eq!(CabPath::parse("a/../b"), Err(PathError::ParentDir));
        assert_eq!(CabPath::parse(r"\Windows\x"), Err(PathError::Absolute));
        assert_eq!(CabPath::parse("/etc/passwd"), Err(PathError::Absolute));
        assert_eq!(CabPath::parse(r"C:\x"), Err(PathError::Drive));
        assert_eq!(CabPath::parse("C:x"), Err(PathError::Drive));
        assert_eq!(CabPath::parse(r"a\\b"), Err(PathError::EmptyComponent));
        assert_eq!(CabPath::parse(r"a\"), Err(PathError::EmptyComponent));
        assert_eq!(CabPath::parse("./a"), Err(PathError::EmptyComponent));
        assert_eq!(CabPath::parse("a\0b"), Err(PathError::Control));
        assert_eq!(CabPath::parse(""), Err(PathError::Empty));
    }
}
