//! A span-aware reader over one parsed TOML file.
//!
//! serde stops at the first error and loses positions; admins want every problem at once with
//! `file:line:col`. This reader walks toml's spanned tree, records a diagnostic for each bad
//! value and keeps going.

use std::ops::Range;
use std::path::PathBuf;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::source::{Diagnostic, Loc, SourceFile, suggest};

pub(super) type Value<'i> = Spanned<DeValue<'i>>;

/// Reads values out of one file, collecting diagnostics.
pub(super) struct Cx<'a> {
    pub file: &'a SourceFile,
    pub diags: Vec<Diagnostic>,
}

/// A table being read: its dotted name (for messages) and contents.
pub(super) struct Table<'t, 'i> {
    pub name: String,
    pub table: &'t DeTable<'i>,
    pub span: Range<usize>,
}

impl<'t, 'i> Table<'t, 'i> {
    pub(super) fn get(&self, key: &str) -> Option<&'t Value<'i>> {
        self.table
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == key)
            .map(|(_, v)| v)
    }

    fn key_span(&self, key: &str) -> Option<Range<usize>> {
        self.table
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == key)
            .map(|(k, _)| k.span())
    }
}

impl<'a> Cx<'a> {
    pub(super) fn new(file: &'a SourceFile) -> Self {
        Self {
            file,
            diags: Vec::new(),
        }
    }

    pub(super) fn loc(&self, span: &Range<usize>) -> Loc {
        self.file.loc_of(span)
    }

    pub(super) fn error(
        &mut self,
        span: &Range<usize>,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        let mut d = Diagnostic::error(Some(self.loc(span)), message);
        d.hint = hint;
        self.diags.push(d);
    }

    pub(super) fn warn(
        &mut self,
        span: &Range<usize>,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        let mut d = Diagnostic::warning(Some(self.loc(span)), message);
        d.hint = hint;
        self.diags.push(d);
    }

    /// Reports every key of `t` that is not in `known`, with the closest known key.
    pub(super) fn check_keys(&mut self, t: &Table<'_, '_>, known: &[&str]) {
        for (k, _) in t.table.iter() {
            let key = k.get_ref().as_ref();
            if known.contains(&key) {
                continue;
            }
            let where_ = if t.name.is_empty() {
                "at the top level".to_string()
            } else {
                format!("in [{}]", t.name)
            };
            let hint = match suggest(key, known) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("known keys {where_}: {}", known.join(", ")),
            };
            self.error(
                &k.span(),
                format!("unknown key `{key}` {where_}"),
                Some(hint),
            );
        }
    }

    fn type_error(&mut self, t: &Table<'_, '_>, key: &str, v: &Value<'_>, want: &str) {
        self.error(
            &v.span(),
            format!(
                "`{}` must be {want}, found {}",
                dotted(&t.name, key),
                v.get_ref().type_str()
            ),
            None,
        );
    }

    pub(super) fn table<'t, 'i>(&mut self, t: &Table<'t, 'i>, key: &str) -> Option<Table<'t, 'i>> {
        let v = t.get(key)?;
        match v.get_ref() {
            DeValue::Table(inner) => Some(Table {
                name: dotted(&t.name, key),
                table: inner,
                span: t.key_span(key).unwrap_or(v.span()),
            }),
            _ => {
                self.type_error(t, key, v, "a table");
                None
            }
        }
    }

    /// An array of tables (`[[certificate]]`), each with its own name `certificate[i]`.
    pub(super) fn table_array<'t, 'i>(
        &mut self,
        t: &Table<'t, 'i>,
        key: &str,
    ) -> Vec<Table<'t, 'i>> {
        let Some(v) = t.get(key) else {
            return Vec::new();
        };
        let DeValue::Array(items) = v.get_ref() else {
            self.type_error(t, key, v, "an array of tables ([[...]])");
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item.get_ref() {
                DeValue::Table(inner) => out.push(Table {
                    name: format!("{key}[{i}]"),
                    table: inner,
                    span: item.span(),
                }),
                _ => self.type_error(t, key, item, "a table"),
            }
        }
        out
    }

    pub(super) fn string(&mut self, t: &Table<'_, '_>, key: &str) -> Option<Spanned<String>> {
        let v = t.get(key)?;
        match v.get_ref() {
            DeValue::String(s) => Some(Spanned::new(v.span(), s.to_string())),
            _ => {
                self.type_error(t, key, v, "a string");
                None
            }
        }
    }

    pub(super) fn boolean(&mut self, t: &Table<'_, '_>, key: &str) -> Option<bool> {
        let v = t.get(key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.type_error(t, key, v, "true or false");
                None
            }
        }
    }

    pub(super) fn uint(&mut self, t: &Table<'_, '_>, key: &str, max: u64) -> Option<u64> {
        let v = t.get(key)?;
        let parsed = match v.get_ref() {
            DeValue::Integer(i) => {
                u64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok()
            }
            _ => {
                self.type_error(t, key, v, "a whole number");
                return None;
            }
        };
        match parsed {
            Some(n) if n <= max => Some(n),
            _ => {
                self.error(
                    &v.span(),
                    format!("`{}` must be between 0 and {max}", dotted(&t.name, key)),
                    None,
                );
                None
            }
        }
    }

    /// A list of strings; a single string is accepted as a one-element list.
    pub(super) fn strings(&mut self, t: &Table<'_, '_>, key: &str) -> Option<Vec<Spanned<String>>> {
        let v = t.get(key)?;
        match v.get_ref() {
            DeValue::String(s) => Some(vec![Spanned::new(v.span(), s.to_string())]),
            DeValue::Array(items) => {
                let mut out = Vec::new();
                for item in items.iter() {
                    match item.get_ref() {
                        DeValue::String(s) => out.push(Spanned::new(item.span(), s.to_string())),
                        _ => self.type_error(t, key, item, "a string"),
                    }
                }
                Some(out)
            }
            _ => {
                self.type_error(t, key, v, "a list of strings");
                None
            }
        }
    }

    /// An array of strings, strictly: a bare string is an error whose hint is the array to
    /// write. For lists where one value and a list mean different things to a reader
    /// (`signers = "…"` reads like "the signer", and silently became one).
    pub(super) fn string_array(
        &mut self,
        t: &Table<'_, '_>,
        key: &str,
        what: &str,
    ) -> Option<Vec<Spanned<String>>> {
        let v = t.get(key)?;
        if let DeValue::String(s) = v.get_ref() {
            self.error(
                &v.span(),
                format!(
                    "`{}` must be an array of {what}, found string",
                    dotted(&t.name, key)
                ),
                Some(format!("{key} = [{:?}]", s.as_ref())),
            );
            return None;
        }
        self.strings(t, key)
    }

    /// A path, resolved against the directory of the file that contains it.
    pub(super) fn path(&mut self, t: &Table<'_, '_>, key: &str) -> Option<Spanned<PathBuf>> {
        let s = self.string(t, key)?;
        let span = s.span();
        Some(Spanned::new(span, self.file.dir().join(s.into_inner())))
    }

    /// One of a fixed set of words.
    pub(super) fn choice(
        &mut self,
        t: &Table<'_, '_>,
        key: &str,
        allowed: &[&str],
    ) -> Option<String> {
        let s = self.string(t, key)?;
        let word = s.get_ref().as_str();
        if allowed.contains(&word) {
            return Some(word.to_string());
        }
        let hint = match suggest(word, allowed) {
            Some(m) => format!("did you mean `{m}`?"),
            None => format!("use one of: {}", allowed.join(", ")),
        };
        self.error(
            &s.span(),
            format!("`{}` cannot be `{word}`", dotted(&t.name, key)),
            Some(hint),
        );
        None
    }
}

pub(super) fn dotted(section: &str, key: &str) -> String {
    if section.is_empty() {
        key.to_string()
    } else {
        format!("{section}.{key}")
    }
}
