//! Config files as text, and diagnostics that point into them.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One config file read into memory, with a line index for `line:col` positions.
#[derive(Debug)]
pub(super) struct SourceFile {
    pub path: Arc<PathBuf>,
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub(super) fn new(path: PathBuf, text: String) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self {
            path: Arc::new(path),
            text,
            line_starts,
        }
    }

    /// The directory relative paths in this file resolve against.
    pub(super) fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub(super) fn loc(&self, offset: usize) -> Loc {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let col = self
            .text
            .get(start..offset)
            .map(|s| s.chars().count())
            .unwrap_or(offset - start);
        Loc {
            file: self.path.clone(),
            line: line + 1,
            col: col + 1,
        }
    }

    pub(super) fn loc_of(&self, span: &Range<usize>) -> Loc {
        self.loc(span.start)
    }
}

/// Where something was written: file, 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loc {
    pub file: Arc<PathBuf>,
    pub line: usize,
    pub col: usize,
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

pub use crate::vocab::Severity;

/// One problem found in the desired state, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub loc: Option<Loc>,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn error(loc: Option<Loc>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            loc,
            message: message.into(),
            hint: None,
        }
    }
    pub fn warning(loc: Option<Loc>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(loc, message)
        }
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = self.severity.as_str();
        match &self.loc {
            Some(loc) => write!(f, "{loc}: {level}: {}", self.message)?,
            None => write!(f, "{level}: {}", self.message)?,
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Every diagnostic of a failed load, so an admin fixes them all in one pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.severity == Severity::Error)
    }
    pub fn error_count(&self) -> usize {
        self.errors().count()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// Levenshtein distance, for "did you mean" suggestions.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest known name, when it is close enough to be a plausible typo.
pub fn suggest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (distance(&lower, k), *k))
        .filter(|(d, k)| *d <= (k.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loc_counts_lines_and_characters() {
        let f = SourceFile::new("a.toml".into(), "x = 1\né = 2\n  y".into());
        let l = f.loc(f.text.find('y').unwrap());
        assert_eq!((l.line, l.col), (3, 3));
        let l = f.loc(f.text.find('=').unwrap() + 6);
        assert_eq!(l.line, 2);
        assert_eq!(l.to_string(), "a.toml:2:2");
    }

    #[test]
    fn suggestion_finds_typos_only() {
        let known = ["schedule", "signers", "subscribed"];
        assert_eq!(suggest("schedul", &known), Some("schedule"));
        assert_eq!(suggest("singers", &known), Some("signers"));
        assert_eq!(suggest("colour", &known), None);
    }
}
