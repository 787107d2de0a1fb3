//! An object as a plan shows it to reviewers (an action's `before` and `after`), kept as
//! JSON text.
//!
//! A plan of 100,000 publishes held each `after` as a `serde_json::Value` tree: a map node,
//! a string per key and per value, some 850 bytes per update and 85 MB in all, kept from
//! planning to the end of apply. Nothing reads it but rendering and the run's summary, a
//! few objects at a time, so the plan keeps the text (a third of the size) and parses an
//! object back when it is shown. It serializes as the JSON it holds, so plan files and
//! `--json` output do not change.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Shown(Box<RawValue>);

impl Shown {
    /// `value` as text. A `Value` always serializes; were it not to, the object shows as
    /// `null` rather than failing the plan.
    pub fn new(value: &Value) -> Self {
        Shown(serde_json::value::to_raw_value(value).unwrap_or_else(|_| RawValue::NULL.to_owned()))
    }

    /// The object, parsed back.
    pub fn value(&self) -> Value {
        serde_json::from_str(self.0.get()).unwrap_or(Value::Null)
    }

    /// One field of the object, when it is an object that has it.
    pub fn get(&self, key: &str) -> Option<Value> {
        match self.value() {
            Value::Object(mut map) => map.remove(key),
            _ => None,
        }
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }
}

impl From<Value> for Shown {
    fn from(value: Value) -> Self {
        Shown::new(&value)
    }
}

impl PartialEq for Shown {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl std::fmt::Debug for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_serializes_as_the_json_it_holds_and_reads_back() {
        let v = serde_json::json!({ "id": "x", "title": "Tool 10", "files": 1 });
        let shown = Shown::new(&v);
        assert_eq!(serde_json::to_value(&shown).unwrap(), v);
        assert_eq!(shown.value(), v);
        assert_eq!(shown.get("title"), Some("Tool 10".into()));
        assert_eq!(shown.get("missing"), None);
        let back: Shown = serde_json::from_str(&serde_json::to_string(&shown).unwrap()).unwrap();
        assert_eq!(back, shown);
    }
}
