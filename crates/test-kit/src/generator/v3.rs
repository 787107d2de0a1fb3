//! The JSON side files of a v3 catalog, byte-shaped like the PowerShell that produces them
//! in the wild (`catalog-format.md` §6): `V3\<id>.json` from `ConvertTo-Json` (UTF-8 BOM,
//! CRLF, PowerShell 5's odd indentation, `Members` as array, `null` or a bare string),
//! `V3\update_categories.json` from `Out-File` (UTF-16LE with BOM) and the compact
//! `V2\update_manifest.json`.

use std::io::{self, Write};

use super::model::{Catalog, Category};

/// `V3\<id>.json`.
pub fn category_json(cat: &Catalog, c: &Category) -> Vec<u8> {
    let mut s = String::from("\u{FEFF}{\r\n");
    s.push_str(&format!("    \"DisplayName\":  {},\r\n", json_str(&c.name)));
    s.push_str(&format!("    \"Id\":  \"{}\",\r\n", c.id));
    match c.members.as_slice() {
        [] => s.push_str("    \"Members\":  null,\r\n"),
        [one] => s.push_str(&format!(
            "    \"Members\":  \"{}\",\r\n",
            cat.packages[*one as usize].id
        )),
        many => {
            s.push_str("    \"Members\":  [\r\n");
            for (i, m) in many.iter().enumerate() {
                let comma = if i + 1 < many.len() { "," } else { "" };
                s.push_str(&format!(
                    "                    \"{}\"{comma}\r\n",
                    cat.packages[*m as usize].id
                ));
            }
            s.push_str("                ],\r\n");
        }
    }
    let parent = c
        .parent
        .map(|p| cat.categories[p].id.as_str())
        .unwrap_or("");
    s.push_str(&format!("    \"ParentId\":  \"{parent}\"\r\n}}\r\n"));
    s.into_bytes()
}

/// `V3\update_categories.json`: every category id, UTF-16LE with BOM.
pub fn categories_list(cat: &Catalog) -> Vec<u8> {
    let mut s = String::from("\u{FEFF}[\r\n");
    for (i, c) in cat.categories.iter().enumerate() {
        let comma = if i + 1 < cat.categories.len() {
            ","
        } else {
            ""
        };
        s.push_str(&format!("    \"{}\"{comma}\r\n", c.id));
    }
    s.push_str("]\r\n");
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// `V2\update_manifest.json`: compact `{"<PackageID>":"<CreationDate>",…}`, streamed
/// because it grows with N.
pub fn write_manifest<W: Write + ?Sized>(w: &mut W, cat: &Catalog) -> io::Result<()> {
    w.write_all(b"{")?;
    for (i, p) in cat.packages.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        write!(w, "\"{}\":\"{}\"", p.id, p.created)?;
    }
    w.write_all(b"}")
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialize")
}

#[cfg(test)]
mod tests {
    use super::super::quickstart;
    use super::*;

    #[test]
    fn category_files_parse_and_keep_powershell_forms() {
        let mut cat = quickstart::build(1);
        cat.categories[2].members.clear();
        let strip = |b: Vec<u8>| String::from_utf8(b[3..].to_vec()).unwrap();
        let root: serde_json::Value =
            serde_json::from_str(&strip(category_json(&cat, &cat.categories[0]))).unwrap();
        assert_eq!(root["ParentId"], "");
        assert_eq!(root["Members"].as_array().unwrap().len(), 4);
        let empty: serde_json::Value =
            serde_json::from_str(&strip(category_json(&cat, &cat.categories[2]))).unwrap();
        assert!(empty["Members"].is_null());
        assert_eq!(empty["ParentId"], cat.categories[0].id.as_str());

        let list = categories_list(&cat);
        assert_eq!(&list[..2], b"\xFF\xFE");
        let units: Vec<u16> = list[2..]
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        let ids: Vec<String> = serde_json::from_str(&String::from_utf16(&units).unwrap()).unwrap();
        assert_eq!(ids.len(), 3);
    }
}
