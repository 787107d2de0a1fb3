//! Writing TOML by hand, line by line, so that every value can carry the comment that says
//! where it came from: the `toml` crate serialises values (we use it for quoting) but not
//! comments, and an imported config without them would hide what was inferred.

use std::fmt::Write as _;

/// A TOML file being written: key lines, comment lines, blank lines.
#[derive(Debug, Default)]
pub struct TomlText(String);

impl TomlText {
    /// `# text`, one line per line of `text` (an empty line is a bare `#`).
    pub fn comment(&mut self, text: &str) -> &mut Self {
        for line in text.lines() {
            if line.is_empty() {
                self.0.push_str("#\n");
            } else {
                let _ = writeln!(self.0, "# {line}");
            }
        }
        self
    }

    pub fn blank(&mut self) -> &mut Self {
        if !self.0.is_empty() && !self.0.ends_with("\n\n") {
            self.0.push('\n');
        }
        self
    }

    /// `[name]` (or `[[name]]` when `array`), preceded by a blank line.
    pub fn table(&mut self, name: &str, array: bool) -> &mut Self {
        self.blank();
        if array {
            let _ = writeln!(self.0, "[[{name}]]");
        } else {
            let _ = writeln!(self.0, "[{name}]");
        }
        self
    }

    pub fn string(&mut self, key: &str, value: &str) -> &mut Self {
        let _ = writeln!(self.0, "{key} = {}", quote(value));
        self
    }

    pub fn boolean(&mut self, key: &str, value: bool) -> &mut Self {
        let _ = writeln!(self.0, "{key} = {value}");
        self
    }

    pub fn number(&mut self, key: &str, value: u64) -> &mut Self {
        let _ = writeln!(self.0, "{key} = {value}");
        self
    }

    /// `key = ["a", "b"]`, one item per line when the list is long.
    pub fn strings<S: AsRef<str>>(&mut self, key: &str, items: &[S]) -> &mut Self {
        let quoted: Vec<String> = items.iter().map(|s| quote(s.as_ref())).collect();
        let one_line = format!("{key} = [{}]", quoted.join(", "));
        if one_line.len() <= 96 {
            let _ = writeln!(self.0, "{one_line}");
        } else {
            let _ = writeln!(self.0, "{key} = [");
            for q in quoted {
                let _ = writeln!(self.0, "    {q},");
            }
            self.0.push_str("]\n");
        }
        self
    }

    /// A key line commented out: what the admin may set, shown but not in force.
    pub fn commented_string(&mut self, key: &str, value: &str) -> &mut Self {
        let _ = writeln!(self.0, "# {key} = {}", quote(value));
        self
    }

    pub fn finish(self) -> String {
        self.0
    }
}

/// A TOML basic string with every character that needs it escaped.
pub fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// A bare key when it is one, else quoted (`catalog."odd key"`).
pub(super) fn key(k: &str) -> String {
    if !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        k.to_string()
    } else {
        quote(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_written_parses_back_with_its_values() {
        let mut t = TomlText::default();
        t.comment("made by a test\n\nsecond paragraph")
            .table("catalog.a-b", false)
            .string("name", "Quote \" and \\ back\nslash")
            .boolean("prune", true)
            .number("max", 7)
            .strings("short", &["x", "y"])
            .strings(
                "long",
                &(0..20)
                    .map(|i| format!("item number {i}"))
                    .collect::<Vec<_>>(),
            )
            .commented_string("url", "https://example.invalid/a.cab")
            .table("certificate", true)
            .string("kind", "content");
        let text = t.finish();
        let v: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let c = &v["catalog"]["a-b"];
        assert_eq!(c["name"].as_str(), Some("Quote \" and \\ back\nslash"));
        assert_eq!(c["prune"].as_bool(), Some(true));
        assert_eq!(c["long"].as_array().map(Vec::len), Some(20));
        assert!(c.get("url").is_none(), "a commented key is not in force");
        assert_eq!(v["certificate"][0]["kind"].as_str(), Some("content"));
    }

    #[test]
    fn keys_are_bare_only_when_they_can_be() {
        assert_eq!(key("contoso-ltd"), "contoso-ltd");
        assert_eq!(key("a b"), "\"a b\"");
    }
}
