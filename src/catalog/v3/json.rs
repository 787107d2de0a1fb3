//! Decoding one V3 JSON file.

use std::borrow::Cow;
use std::fmt;

use serde::Deserializer;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::V3Error;
use crate::ids::{CategoryId, UpdateId};

/// One `V3/<guid>.json` as written, before the tree is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawCategory {
    pub id: CategoryId,
    pub display_name: String,
    pub parent: Option<CategoryId>,
    pub members: Vec<UpdateId>,
}

fn bad(file: &str, reason: impl ToString) -> V3Error {
    V3Error::File {
        file: file.to_string(),
        reason: reason.to_string(),
    }
}

/// Text of a JSON file in any encoding PowerShell writes: UTF-8 (BOM optional) or UTF-16
/// LE/BE with a BOM. UTF-8, what vendors ship, is borrowed rather than copied.
pub fn decode_text<'b>(file: &str, bytes: &'b [u8]) -> Result<Cow<'b, str>, V3Error> {
    let utf16 = |rest: &[u8], le: bool| -> Result<Cow<'b, str>, V3Error> {
        if !rest.len().is_multiple_of(2) {
            return Err(bad(file, "UTF-16 text with an odd number of bytes"));
        }
        let units = rest.chunks_exact(2).map(|c| {
            if le {
                u16::from_le_bytes([c[0], c[1]])
            } else {
                u16::from_be_bytes([c[0], c[1]])
            }
        });
        char::decode_utf16(units)
            .collect::<Result<String, _>>()
            .map(Cow::Owned)
            .map_err(|e| bad(file, format!("invalid UTF-16: {e}")))
    };
    match bytes {
        [0xef, 0xbb, 0xbf, rest @ ..] => std::str::from_utf8(rest)
            .map(Cow::Borrowed)
            .map_err(|e| bad(file, e)),
        [0xff, 0xfe, rest @ ..] => utf16(rest, true),
        [0xfe, 0xff, rest @ ..] => utf16(rest, false),
        _ => std::str::from_utf8(bytes)
            .map(Cow::Borrowed)
            .map_err(|e| bad(file, format!("not UTF-8 and no UTF-16 BOM: {e}"))),
    }
}

/// Parses `V3/<guid>.json`: keys `DisplayName`, `Id`, `Members` (array, null or string),
/// `ParentId` (`""`, null or absent for a root).
pub fn parse_category(file: &str, bytes: &[u8]) -> Result<RawCategory, V3Error> {
    parse_category_with(file, bytes, &mut |_| true)
}

/// [`parse_category`], keeping only the members `keep` returns true for. A root category
/// can list every update of the catalog (45,000 ids in a 1.8 MB file for 30,000 updates):
/// the members are read one at a time from the text, never as a JSON tree, so a caller
/// that only checks them holds none.
pub(crate) fn parse_category_with(
    file: &str,
    bytes: &[u8],
    keep: &mut dyn FnMut(&UpdateId) -> bool,
) -> Result<RawCategory, V3Error> {
    let text = decode_text(file, bytes)?;
    let mut de = serde_json::Deserializer::from_str(&text);
    let fields = CategoryFields { keep }
        .deserialize(&mut de)
        .and_then(|f| de.end().map(|()| f))
        .map_err(|e| bad(file, e))?;
    let id = match fields.id {
        Some(Value::String(s)) => CategoryId::parse(&s).map_err(|e| bad(file, e))?,
        _ => return Err(bad(file, "missing string `Id`")),
    };
    let display_name = match fields.display_name {
        Some(Value::String(s)) if !s.trim().is_empty() => s,
        _ => return Err(bad(file, "missing or empty `DisplayName`")),
    };
    let parent = match fields.parent {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(CategoryId::parse(&s).map_err(|e| bad(file, e))?),
        Some(_) => return Err(bad(file, "`ParentId` is not a string")),
    };
    Ok(RawCategory {
        id,
        display_name,
        parent,
        members: fields.members,
    })
}

/// The four keys of a category file, matched ignoring ASCII case (the casing vendors must
/// use is not documented). A key written exactly so wins over another casing of it; among
/// equals, the last one wins, as in a JSON object read whole.
#[derive(Default)]
struct Fields {
    id: Option<Value>,
    display_name: Option<Value>,
    parent: Option<Value>,
    members: Vec<UpdateId>,
    /// Whether each key (in the order above, then `Members`) was seen exactly so.
    exact: [Option<bool>; 4],
}

/// Reads a category object, handing each member to `keep` as it is read.
struct CategoryFields<'k> {
    keep: &'k mut dyn FnMut(&UpdateId) -> bool,
}

impl<'de> DeserializeSeed<'de> for CategoryFields<'_> {
    type Value = Fields;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Fields, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CategoryFields<'_> {
    type Value = Fields;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
        const KEYS: [&str; 4] = ["Id", "DisplayName", "ParentId", "Members"];
        let mut fields = Fields::default();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            let Some(slot) = KEYS.iter().position(|k| k.eq_ignore_ascii_case(&key)) else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let exact = KEYS[slot] == key;
            // A value is read either way: the document must be valid JSON throughout.
            let wins = fields.exact[slot].is_none_or(|seen| exact || !seen);
            if slot == 3 {
                let members = map.next_value_seed(Members {
                    keep: &mut *self.keep,
                })?;
                if wins {
                    fields.members = members;
                }
            } else {
                let value = map.next_value::<Value>()?;
                if wins {
                    let target = match slot {
                        0 => &mut fields.id,
                        1 => &mut fields.display_name,
                        _ => &mut fields.parent,
                    };
                    *target = Some(value);
                }
            }
            if wins {
                fields.exact[slot] = Some(exact);
            }
        }
        Ok(fields)
    }
}

/// `Members`: an array of ids, one id, or null.
struct Members<'k> {
    keep: &'k mut dyn FnMut(&UpdateId) -> bool,
}

impl Members<'_> {
    fn one<E: de::Error>(&mut self, s: &str, out: &mut Vec<UpdateId>) -> Result<(), E> {
        let id = UpdateId::parse(s).map_err(E::custom)?;
        if (self.keep)(&id) {
            out.push(id);
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Members<'_> {
    type Value = Vec<UpdateId>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<UpdateId>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Members<'_> {
    type Value = Vec<UpdateId>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("`Members` as an array of ids, one id or null")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Vec<UpdateId>, E> {
        Ok(Vec::new())
    }

    fn visit_str<E: de::Error>(mut self, s: &str) -> Result<Vec<UpdateId>, E> {
        let mut out = Vec::new();
        self.one(s, &mut out)?;
        Ok(out)
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Vec<UpdateId>, A::Error> {
        let mut out = Vec::new();
        while let Some(entry) = seq.next_element_seed(Entry)? {
            self.one(&entry, &mut out)?;
        }
        Ok(out)
    }
}

/// One `Members` entry: a string, borrowed from the text when it has no escapes.
struct Entry;

impl<'de> DeserializeSeed<'de> for Entry {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Entry {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("each `Members` entry to be a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(s))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(s.to_string()))
    }
}

/// Parses `V3/update_categories.json`: a JSON array of category ids (a bare string when
/// there is only one).
pub fn parse_category_list(file: &str, bytes: &[u8]) -> Result<Vec<CategoryId>, V3Error> {
    let text = decode_text(file, bytes)?;
    let v: Value = serde_json::from_str(&text).map_err(|e| bad(file, e))?;
    let one = |v: &Value| match v {
        Value::String(s) => CategoryId::parse(s).map_err(|e| bad(file, e)),
        _ => Err(bad(file, "an entry is not a string")),
    };
    match &v {
        Value::Array(a) => a.iter().map(one).collect(),
        Value::String(_) => Ok(vec![one(&v)?]),
        Value::Null => Ok(Vec::new()),
        _ => Err(bad(file, "not a JSON array of ids")),
    }
}
