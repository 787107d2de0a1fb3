//! Partner catalogs: the vendor catalogs pre-registered with Microsoft that ConfigMgr lists
//! in its console, plus other public vendor catalogs admins subscribe to by URL.
//!
//! supctl ships the list built in so `kind = "partner"` works offline and reviewably; the
//! Microsoft list (root `Catalogs`, repeated `Catalog` with `LocalizedProperties/Publisher`
//! and `DownloadUrl`) can be parsed with [`parse_list`] when available.

use std::borrow::Cow;

use quick_xml::Reader;
use quick_xml::XmlVersion;
use quick_xml::events::Event;
use serde::Serialize;

/// One partner catalog. Fields borrow for the built-in list and own for parsed lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartnerCatalog {
    /// Short stable key used in TOML (`[catalog.dell]`) and on the command line.
    pub key: Cow<'static, str>,
    pub publisher: Cow<'static, str>,
    pub name: Cow<'static, str>,
    pub description: Cow<'static, str>,
    /// The catalog CAB (always https).
    pub url: Cow<'static, str>,
    pub support_url: Cow<'static, str>,
}

macro_rules! partner {
    ($key:expr, $publisher:expr, $name:expr, $description:expr, $url:expr, $support:expr) => {
        PartnerCatalog {
            key: Cow::Borrowed($key),
            publisher: Cow::Borrowed($publisher),
            name: Cow::Borrowed($name),
            description: Cow::Borrowed($description),
            url: Cow::Borrowed($url),
            support_url: Cow::Borrowed($support),
        }
    };
}

static BUILTIN: &[PartnerCatalog] = &[
    partner!(
        "dell",
        "Dell",
        "Dell Business Client Updates Catalog",
        "Drivers, BIOS and firmware for Dell business clients (Latitude, OptiPlex, Precision)",
        "https://downloads.dell.com/Catalog/DellSDPCatalogPC.cab",
        "https://www.dell.com/support"
    ),
    partner!(
        "dell-server",
        "Dell",
        "Dell Server Updates Catalog",
        "Drivers and firmware for Dell PowerEdge servers",
        "https://downloads.dell.com/Catalog/DellSDPCatalog.cab",
        "https://www.dell.com/support"
    ),
    partner!(
        "hp",
        "HP",
        "HP Client Updates Catalog",
        "Drivers, BIOS, firmware and software for HP business clients",
        "https://hpia.hpcloud.hp.com/downloads/sccmcatalog/HpCatalogForSms.latest.cab",
        "https://support.hp.com"
    ),
    partner!(
        "lenovo",
        "Lenovo",
        "Lenovo Updates Catalog v3",
        "Drivers, BIOS and firmware for Lenovo ThinkPad, ThinkCentre and ThinkStation, with V3 categories",
        "https://download.lenovo.com/luc/v3/LenovoUpdatesCatalogv3.cab",
        "https://support.lenovo.com"
    ),
    partner!(
        "fujitsu",
        "Fujitsu",
        "Fujitsu Updates Catalog",
        "Drivers and firmware for Fujitsu clients and servers",
        "https://support.ts.fujitsu.com/GFSMS/globalflash/FJSVUMCatalogForSCCM.cab",
        "https://support.ts.fujitsu.com"
    ),
    partner!(
        "hpe",
        "Hewlett Packard Enterprise",
        "HPE ProLiant Updates Catalog",
        "Drivers and firmware for HPE ProLiant servers",
        "https://downloads.hpe.com/pub/softlib/puc/hppuc.cab",
        "https://support.hpe.com"
    ),
    partner!(
        "adobe-acrobat",
        "Adobe",
        "Adobe Acrobat DC Catalog",
        "Adobe Acrobat DC updates",
        "https://armmf.adobe.com/arm-manifests/win/SCUP/AcrobatCatalog-DC.cab",
        "https://www.adobe.com/devnet-docs/acrobatetk/tools/DesktopDeployment/sccm.html"
    ),
    partner!(
        "adobe-reader",
        "Adobe",
        "Adobe Reader DC Catalog",
        "Adobe Acrobat Reader DC updates",
        "https://armmf.adobe.com/arm-manifests/win/SCUP/ReaderCatalog-DC.cab",
        "https://www.adobe.com/devnet-docs/acrobatetk/tools/DesktopDeployment/sccm.html"
    ),
    partner!(
        "panasonic",
        "Panasonic",
        "Panasonic Update Catalog",
        "Drivers and firmware for Panasonic Toughbook devices",
        "https://pc-dl.panasonic.co.jp/public/sccmcatalog/PanasonicUpdateCatalog.cab",
        "https://pc-dl.panasonic.co.jp"
    ),
    partner!(
        "dynabook",
        "Dynabook",
        "Dynabook Driver Pack Catalog",
        "Drivers for Dynabook (formerly Toshiba) PCs",
        "https://content.us.dynabook.com/content/support/drivers/Dynabook_DriverPack_Catalog.cab",
        "https://support.dynabook.com"
    ),
];

/// The built-in public catalog list.
pub fn builtin() -> &'static [PartnerCatalog] {
    BUILTIN
}

/// Finds a built-in catalog by key or name, ignoring case; a publisher name matches only
/// when that publisher has a single catalog ("hp" yes, "adobe" no).
pub fn find(name: &str) -> Option<&'static PartnerCatalog> {
    find_among(BUILTIN, name)
}

/// Looks a partner catalog up by key, name or (when unambiguous) publisher, ignoring case.
pub fn find_among<'a>(list: &'a [PartnerCatalog], name: &str) -> Option<&'a PartnerCatalog> {
    let n = name.trim();
    let eq = |s: &str| s.eq_ignore_ascii_case(n) || s.to_lowercase() == n.to_lowercase();
    if let Some(c) = list.iter().find(|c| eq(&c.key) || eq(&c.name)) {
        return Some(c);
    }
    let mut by_publisher = list.iter().filter(|c| eq(&c.publisher));
    match (by_publisher.next(), by_publisher.next()) {
        (Some(c), None) => Some(c),
        _ => None,
    }
}

/// A partner catalog from a refreshed list when it names it, else from the built-in list.
pub fn resolve(refreshed: &[PartnerCatalog], name: &str) -> Option<PartnerCatalog> {
    find_among(refreshed, name).or_else(|| find(name)).cloned()
}

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
