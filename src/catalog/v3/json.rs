//! Decoding one V3 JSON file.

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
/// LE/BE with a BOM.
pub fn decode_text(file: &str, bytes: &[u8]) -> Result<String, V3Error> {
    let utf16 = |rest: &[u8], le: bool| -> Result<String, V3Error> {
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
            .map_err(|e| bad(file, format!("invalid UTF-16: {e}")))
    };
    match bytes {
        [0xef, 0xbb, 0xbf, rest @ ..] => String::from_utf8(rest.to_vec()).map_err(|e| bad(file, e)),
        [0xff, 0xfe, rest @ ..] => utf16(rest, true),
        [0xfe, 0xff, rest @ ..] => utf16(rest, false),
        _ => String::from_utf8(bytes.to_vec())
            .map_err(|e| bad(file, format!("not UTF-8 and no UTF-16 BOM: {e}"))),
    }
}

/// Looks a key up ignoring ASCII case: the key casing vendors must use is not documented.
fn field<'v>(obj: &'v serde_json::Map<String, Value>, key: &str) -> Option<&'v Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// Parses `V3/<guid>.json`: keys `DisplayName`, `Id`, `Members` (array, null or string),
/// `ParentId` (`""`, null or absent for a root).
pub fn parse_category(file: &str, bytes: &[u8]) -> Result<RawCategory, V3Error> {
    let text = decode_text(file, bytes)?;
    let v: Value = serde_json::from_str(&text).map_err(|e| bad(file, e))?;
    let obj = v
        .as_object()
        .ok_or_else(|| bad(file, "not a JSON object"))?;
    let id = match field(obj, "Id") {
        Some(Value::String(s)) => CategoryId::parse(s).map_err(|e| bad(file, e))?,
        _ => return Err(bad(file, "missing string `Id`")),
    };
    let display_name = match field(obj, "DisplayName") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        _ => return Err(bad(file, "missing or empty `DisplayName`")),
    };
    let parent = match field(obj, "ParentId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(CategoryId::parse(s).map_err(|e| bad(file, e))?),
        Some(_) => return Err(bad(file, "`ParentId` is not a string")),
    };
    let member = |v: &Value| match v {
        Value::String(s) => UpdateId::parse(s).map_err(|e| bad(file, e)),
        _ => Err(bad(file, "a `Members` entry is not a string")),
    };
    let members = match field(obj, "Members") {
        None | Some(Value::Null) => Vec::new(),
        Some(v @ Value::String(_)) => vec![member(v)?],
        Some(Value::Array(a)) => a.iter().map(member).collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(bad(
                file,
                "`Members` is neither an array, a string nor null",
            ));
        }
    };
    Ok(RawCategory {
        id,
        display_name,
        parent,
        members,
    })
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
