//! What `ImportUpdateForPublishing` is sent for a metadata-only publish, revision or expiry:
//! the update XML WSUS stores (`susXml`), the SDP kept for export and expiry (`uspXml`) and
//! the file digest → URL map (`urlData`).
//!
//! The .NET `IPublisher` builds these client side; its exact output is undocumented
//! (reference §5.8, §10). The update XML here carries what the reference establishes
//! (identity and revision, properties, localized text, supersedence, files with SHA-1 and
//! the SHA-256 `AdditionalDigest` clients require) and the README lists what a live run
//! must confirm.

use quick_xml::Writer;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};

use super::client::UrlData;
use super::error::{Result, WsusError};
use crate::catalog::model::{PublicationState, UpdateRecord};
use crate::catalog::sdp;

/// The WSUS update XML namespace.
pub const NS_UPDATE: &str = "http://schemas.microsoft.com/msus/2002/12/Update";

/// Everything one import call carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub sus_xml: String,
    pub usp_xml: String,
    pub files: Vec<UrlData>,
}

/// Builds the import of `record` as revision `revision`.
pub fn import(record: &UpdateRecord, revision: u32) -> Result<Import> {
    let usp_xml = record
        .standalone_xml()
        .ok_or_else(|| WsusError::NotSupported {
            what: format!("publishing update {}", record.id),
            why: "the record carries no package XML (a cached summary); re-run plan".into(),
        })?;
    let mut files: Vec<UrlData> = Vec::new();
    for f in record.files() {
        if !files.iter().any(|u| u.sha1 == f.sha1) {
            files.push(UrlData {
                sha1: f.sha1,
                mu_url: f.uri.clone(),
            });
        }
    }
    Ok(Import {
        sus_xml: update_xml(record, revision),
        usp_xml,
        files,
    })
}

/// The expiry of a published update: its stored SDP with `PublicationState="Expired"`,
/// imported as the next revision (what the .NET `ExpirePackage` does with the saved SDP).
pub fn expiry(stored_sdp: &str, revision: u32) -> Result<Import> {
    let expired = with_publication_state(stored_sdp, "Expired")?;
    let record = sdp::parse_catalog(&expired)
        .ok()
        .and_then(|mut v| (v.len() == 1).then(|| v.remove(0)))
        .ok_or_else(|| {
            WsusError::malformed(
                "ExecuteSPGetSdpXmlForUpdate",
                "the stored SDP is not one readable package",
            )
        })?;
    import(&record, revision)
}

/// The update XML for `record`.
pub fn update_xml(r: &UpdateRecord, revision: u32) -> String {
    let mut w = Writer::new(Vec::with_capacity(2048));
    let id = r.id.to_string();
    let state = match r.publication_state {
        PublicationState::Published => "Published",
        PublicationState::Expired => "Expired",
    };
    let _ = (|| -> std::io::Result<()> {
        start(&mut w, "Update", &[("xmlns", NS_UPDATE)])?;
        empty(
            &mut w,
            "UpdateIdentity",
            &[("UpdateID", &id), ("RevisionNumber", &revision.to_string())],
        )?;
        let mut props = vec![
            ("UpdateType", &*r.update_type),
            ("PublicationState", state),
            ("CreationDate", r.created_raw.as_str()),
            ("PublisherName", &*r.vendor),
        ];
        if let Some(s) = &r.severity {
            props.push(("MsrcSeverity", &**s));
        }
        start(&mut w, "Properties", &props)?;
        if let Some(kb) = &r.kb_article {
            leaf(&mut w, "KBArticleID", kb)?;
        }
        if let Some(b) = &r.bulletin {
            leaf(&mut w, "SecurityBulletinID", b)?;
        }
        for cve in &r.cves {
            leaf(&mut w, "CveID", cve)?;
        }
        end(&mut w, "Properties")?;
        start(&mut w, "LocalizedPropertiesCollection", &[])?;
        for l in &r.localized {
            start(&mut w, "LocalizedProperties", &[])?;
            leaf(&mut w, "Language", &l.language)?;
            leaf(&mut w, "Title", &l.title)?;
            leaf(&mut w, "Description", &l.description)?;
            end(&mut w, "LocalizedProperties")?;
        }
        end(&mut w, "LocalizedPropertiesCollection")?;
        if !r.superseded.is_empty() {
            start(&mut w, "Relationships", &[])?;
            start(&mut w, "SupersededUpdates", &[])?;
            for s in &r.superseded {
                empty(&mut w, "UpdateIdentity", &[("UpdateID", &s.to_string())])?;
            }
            end(&mut w, "SupersededUpdates")?;
            end(&mut w, "Relationships")?;
        }
        start(&mut w, "Files", &[])?;
        for f in r.files() {
            let size = f.size.to_string();
            let digest = f.sha1.to_base64();
            let attrs = [
                ("Digest", digest.as_str()),
                ("DigestAlgorithm", "SHA1"),
                ("FileName", f.name.as_str()),
                ("Size", size.as_str()),
                ("Modified", f.modified.as_str()),
            ];
            match &f.sha256 {
                Some(h) => {
                    start(&mut w, "File", &attrs)?;
                    w.write_event(Event::Start(
                        BytesStart::new("AdditionalDigest")
                            .with_attributes([("Algorithm", "SHA256")]),
                    ))?;
                    w.write_event(Event::Text(BytesText::new(&h.to_base64())))?;
                    end(&mut w, "AdditionalDigest")?;
                    end(&mut w, "File")?;
                }
                None => empty(&mut w, "File", &attrs)?,
            }
        }
        end(&mut w, "Files")?;
        end(&mut w, "Update")
    })();
    String::from_utf8(w.into_inner()).unwrap_or_default()
}

type W = Writer<Vec<u8>>;

fn start(w: &mut W, name: &str, attrs: &[(&str, &str)]) -> std::io::Result<()> {
    w.write_event(Event::Start(
        BytesStart::new(name).with_attributes(attrs.iter().copied()),
    ))
}

fn empty(w: &mut W, name: &str, attrs: &[(&str, &str)]) -> std::io::Result<()> {
    w.write_event(Event::Empty(
        BytesStart::new(name).with_attributes(attrs.iter().copied()),
    ))
}

fn end(w: &mut W, name: &str) -> std::io::Result<()> {
    w.write_event(Event::End(BytesEnd::new(name)))
}

fn leaf(w: &mut W, name: &str, text: &str) -> std::io::Result<()> {
    start(w, name, &[])?;
    w.write_event(Event::Text(BytesText::new(text)))?;
    end(w, name)
}

/// The SDP with the package's `Properties/@PublicationState` set to `state`, everything else
/// byte for byte (the attribute is added when the package has none, meaning Published).
pub fn with_publication_state(sdp_xml: &str, state: &str) -> Result<String> {
    let bad = |why: &str| WsusError::malformed("ExecuteSPGetSdpXmlForUpdate", why.to_string());
    let doc = sdp::strip_bom(sdp_xml);
    let mut reader = quick_xml::Reader::from_str(doc);
    let mut depth = 0usize;
    loop {
        let before = reader.buffer_position() as usize;
        let event = reader
            .read_event()
            .map_err(|e| bad(&format!("the stored SDP is not XML: {e}")))?;
        match event {
            Event::Start(e) | Event::Empty(e)
                if depth == 1 && e.local_name().as_ref() == "Properties" =>
            {
                let after = reader.buffer_position() as usize;
                let tag = &doc[before..after];
                let self_closing = tag.ends_with("/>");
                let mut rebuilt = BytesStart::new(e.name().as_ref().to_string());
                let mut found = false;
                for a in e.attributes() {
                    let a = a.map_err(|e| bad(&format!("bad attribute: {e}")))?;
                    if a.key.local_name().as_ref() == "PublicationState" {
                        found = true;
                        rebuilt.push_attribute((a.key.as_ref(), state));
                    } else {
                        rebuilt.push_attribute(a);
                    }
                }
                if !found {
                    rebuilt.push_attribute(("PublicationState", state));
                }
                let mut w = Writer::new(Vec::new());
                let ev = if self_closing {
                    Event::Empty(rebuilt)
                } else {
                    Event::Start(rebuilt)
                };
                w.write_event(ev).map_err(|e| bad(&e.to_string()))?;
                let tag = String::from_utf8(w.into_inner()).map_err(|_| bad("not UTF-8"))?;
                return Ok(format!("{}{tag}{}", &doc[..before], &doc[after..]));
            }
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Eof => return Err(bad("the stored SDP has no package Properties element")),
            _ => {}
        }
    }
}

#[cfg(test)]
#[path = "publish_tests.rs"]
mod tests;
