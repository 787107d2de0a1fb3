//! Microsoft's partner catalog list: downloading, parsing and caching a refreshed list (root
//! `Catalogs`, repeated `Catalog` with `LocalizedProperties/Publisher` and `DownloadUrl`).
//! The built-in list and the lookups are data, in `crate::partners`.

use std::borrow::Cow;

use quick_xml::Reader;
use quick_xml::XmlVersion;
use quick_xml::events::Event;

pub use crate::partners::{PartnerCatalog, builtin, find, find_among, resolve};

/// Microsoft's partner catalog list: the link ConfigMgr follows (it redirects to a CAB that
/// holds one XML of the same base name).
pub const LIST_URL: &str = "https://go.microsoft.com/fwlink/?linkid=874591";

/// Where a refreshed list is kept, inside the state directory.
pub const CACHE_FILE: &str = "partners.xml";

/// The list XML out of what was downloaded: the list CAB's top-level `.xml`, or bare XML.
pub fn list_xml(data: &[u8]) -> Result<String, PartnerListError> {
    let bytes = if data.starts_with(b"MSCF") {
        let limits = super::cab::Limits {
            max_total: 256 << 20,
            max_file: 128 << 20,
        };
        let files = super::cab::extract_all(data, &limits).map_err(|e| PartnerListError::Xml {
            offset: 0,
            reason: format!("the list CAB cannot be read: {e}"),
        })?;
        files
            .into_iter()
            .find(|(e, _)| e.path.is_top_level() && e.path.has_extension("xml"))
            .map(|(_, b)| b)
            .ok_or(PartnerListError::Missing {
                index: 0,
                what: "XML file in the list CAB",
            })?
    } else {
        data.to_vec()
    };
    String::from_utf8(bytes).map_err(|_| PartnerListError::Xml {
        offset: 0,
        reason: "the list is not UTF-8".into(),
    })
}

/// Saves a refreshed list (temp file, fsync, rename) so a crash never leaves half a list.
pub fn save_cached(state_dir: &std::path::Path, xml: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    std::fs::create_dir_all(state_dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(state_dir)?;
    tmp.write_all(xml.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(state_dir.join(CACHE_FILE))
        .map_err(|e| e.error)?;
    Ok(())
}

/// The refreshed list, when one was saved and still parses.
pub fn load_cached(state_dir: &std::path::Path) -> Option<Vec<PartnerCatalog>> {
    let xml = std::fs::read_to_string(state_dir.join(CACHE_FILE)).ok()?;
    parse_list(&xml).ok()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartnerListError {
    #[error("partner catalog list, byte {offset}: {reason}")]
    Xml { offset: u64, reason: String },
    #[error("partner catalog list entry {index} has no {what}")]
    Missing { index: usize, what: &'static str },
}

/// Parses Microsoft's partner catalog list. Elements are matched by local name: the list's
/// namespace is not documented. Keys are derived from the publisher (`Dell Inc.` → `dell-inc`).
pub fn parse_list(xml: &str) -> Result<Vec<PartnerCatalog>, PartnerListError> {
    let xml = xml.strip_prefix('\u{feff}').unwrap_or(xml);
    let mut reader = Reader::from_str(xml);
    let mut out = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut cur: Option<[String; 5]> = None; // publisher, name, description, url, support
    loop {
        let ev = reader.read_event().map_err(|e| PartnerListError::Xml {
            offset: reader.error_position(),
            reason: e.to_string(),
        })?;
        match ev {
            Event::DocType(_) => {
                return Err(PartnerListError::Xml {
                    offset: reader.buffer_position(),
                    reason: "DOCTYPE refused".into(),
                });
            }
            Event::Start(e) => {
                let local = e.local_name().into_inner().to_string();
                if local == "Catalog" {
                    cur = Some(Default::default());
                }
                path.push(local);
                text.clear();
            }
            Event::Text(t) => text.push_str(&t.xml_content(XmlVersion::Implicit1_0)),
            Event::CData(t) => text.push_str(&t.xml_content(XmlVersion::Implicit1_0)),
            Event::GeneralRef(r) => match crate::catalog::sdp::resolve_entity(&r) {
                Some(c) => text.push(c),
                None => {
                    return Err(PartnerListError::Xml {
                        offset: reader.buffer_position(),
                        reason: format!(
                            "unknown entity `{}`",
                            r.xml_content(XmlVersion::Implicit1_0)
                        ),
                    });
                }
            },
            Event::End(_) => {
                let local = path.pop().unwrap_or_default();
                if let Some(c) = cur.as_mut() {
                    let slot = match local.as_str() {
                        "Publisher" => Some(0),
                        "Name" | "DisplayName" => Some(1),
                        "Description" => Some(2),
                        "DownloadUrl" => Some(3),
                        "SupportUrl" | "SupportContact" => Some(4),
                        _ => None,
                    };
                    if let Some(i) = slot
                        && c[i].is_empty()
                    {
                        c[i] = text.trim().to_string();
                    }
                }
                if local == "Catalog"
                    && let Some([publisher, name, description, url, support]) = cur.take()
                {
                    let index = out.len();
                    if publisher.is_empty() {
                        return Err(PartnerListError::Missing {
                            index,
                            what: "Publisher",
                        });
                    }
                    if url.is_empty() {
                        return Err(PartnerListError::Missing {
                            index,
                            what: "DownloadUrl",
                        });
                    }
                    out.push(PartnerCatalog {
                        key: Cow::Owned(slug(&publisher)),
                        name: Cow::Owned(if name.is_empty() {
                            publisher.clone()
                        } else {
                            name
                        }),
                        publisher: Cow::Owned(publisher),
                        description: Cow::Owned(description),
                        url: Cow::Owned(url),
                        support_url: Cow::Owned(support),
                    });
                }
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_list_is_https_with_unique_keys() {
        let mut keys: Vec<&str> = builtin().iter().map(|c| c.key.as_ref()).collect();
        assert_eq!(keys.len(), 10);
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), 10);
        assert!(
            builtin()
                .iter()
                .all(|c| c.url.starts_with("https://") && c.url.ends_with(".cab"))
        );
    }

    #[test]
    fn lookup_by_key_name_or_unique_publisher() {
        assert_eq!(
            find("dell").unwrap().url,
            "https://downloads.dell.com/Catalog/DellSDPCatalogPC.cab"
        );
        assert_eq!(
            find("DELL BUSINESS CLIENT UPDATES CATALOG").unwrap().key,
            "dell"
        );
        assert_eq!(find(" lenovo ").unwrap().key, "lenovo");
        assert_eq!(find("Hewlett Packard Enterprise").unwrap().key, "hpe");
        assert!(find("adobe").is_none(), "two Adobe catalogs: ambiguous");
        assert_eq!(find("adobe-reader").unwrap().publisher, "Adobe");
        assert!(find("contoso").is_none());
    }

    #[test]
    fn parses_the_microsoft_list_shape() {
        let xml = "\u{feff}<?xml version=\"1.0\"?>\r\n<Catalogs xmlns=\"urn:x\">\
            <Catalog><LocalizedProperties><Publisher>Dell Inc.</Publisher><Name>Dell Business Client Updates Catalog</Name>\
            <Description>Dell &amp; friends</Description></LocalizedProperties>\
            <DownloadUrl>https://downloads.dell.com/Catalog/DellSDPCatalogPC.cab</DownloadUrl><SupportUrl>https://dell.com</SupportUrl></Catalog>\
            <Catalog><LocalizedProperties><Publisher>HP</Publisher></LocalizedProperties><DownloadUrl>https://x/hp.cab</DownloadUrl></Catalog>\
            </Catalogs>";
        let list = parse_list(xml).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].key, "dell-inc");
        assert_eq!(list[0].description, "Dell & friends");
        assert_eq!(list[0].support_url, "https://dell.com");
        assert_eq!(list[1].name, "HP");
        let e = parse_list(
            "<Catalogs><Catalog><LocalizedProperties><Publisher>X</Publisher></LocalizedProperties></Catalog></Catalogs>",
        );
        assert_eq!(
            e.unwrap_err(),
            PartnerListError::Missing {
                index: 0,
                what: "DownloadUrl"
            }
        );
        assert!(parse_list("<!DOCTYPE x><Catalogs/>").is_err());
    }
}
