//! Updates: `ImportUpdateForPublishing`, `CatalogSiteGetMetadataAndImport`,
//! `ExecuteSPDeclineUpdate`, `ExecuteSPDeleteUpdateByUpdateID` (approvals and groups are
//! in `approvals.rs`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use supctl::catalog::model::PublicationState;
use supctl::catalog::sdp::parse_catalog;
use supctl::store::wsus::soap::Element;

use super::answers::{ACCESS_DENIED, State, Update, parse_bool, text};

pub(super) fn guid_param(params: &Element, name: &str) -> String {
    text(params, name)
        .trim()
        .trim_matches(['{', '}'])
        .to_ascii_lowercase()
}

fn xml_error(msg: impl std::fmt::Display) -> String {
    format!("System.Xml.XmlException: {msg}")
}

impl State {
    pub(super) fn admin(&self) -> Result<(), String> {
        if self.role < 2 {
            return Err(ACCESS_DENIED.into());
        }
        Ok(())
    }

    pub(super) fn import_update(&mut self, params: &Element) -> Result<String, String> {
        self.admin()?;
        let usp = text(params, "uspXml");
        let mut records = parse_catalog(usp).map_err(xml_error)?;
        if records.len() != 1 {
            return Err(xml_error(format!(
                "uspXml holds {} SoftwareDistributionPackage elements, not one",
                records.len()
            )));
        }
        let sdp = records.remove(0);
        let id = sdp.id.as_str().to_ascii_lowercase();
        let sus = Element::parse(text(params, "susXml")).map_err(xml_error)?;
        let sus_id = sus
            .child("UpdateIdentity")
            .and_then(|i| i.attr(None, "UpdateID"))
            .ok_or_else(|| xml_error("susXml has no UpdateIdentity/@UpdateID"))?;
        if !sus_id.eq_ignore_ascii_case(&id) {
            return Err(format!(
                "System.ArgumentException: susXml describes update {sus_id}, uspXml package {id}"
            ));
        }
        let digests: Vec<Vec<u8>> = params
            .child("urlData")
            .map(|a| {
                a.children_named("ServerSyncUrlData")
                    .filter_map(|d| d.child("FileDigest"))
                    .filter_map(|d| {
                        let compact: String = d.text.split_whitespace().collect();
                        B64.decode(compact).ok()
                    })
                    .collect()
            })
            .unwrap_or_default();
        for f in sdp.files() {
            if !digests.iter().any(|d| d.as_slice() == f.sha1.0.as_slice()) {
                return Err(format!(
                    "System.ArgumentException: no ServerSyncUrlData carries the digest {} of file {}",
                    f.sha1.to_base64(),
                    f.name
                ));
            }
        }
        let _sdp_only = parse_bool(text(params, "sdpOnly"));
        let expired = sdp.publication_state == PublicationState::Expired;
        let existing = self.updates.iter().position(|u| u.id == id);
        if let Some(i) = existing {
            let u = &self.updates[i];
            if u.expired && !expired {
                return Err(format!(
                    "System.InvalidOperationException: update {id} is expired and cannot be revised"
                ));
            }
            if u.sdp.as_deref() == Some(usp) {
                return Ok(String::new());
            }
        }
        // Validated: store the revision.
        let title = sdp.title().to_string();
        match existing {
            Some(i) => {
                let u = &mut self.updates[i];
                u.revision += 1;
                u.sdp = Some(usp.to_string());
                u.title = title;
                if expired {
                    u.expired = true;
                    u.declined = true;
                }
            }
            None => self.updates.push(Update {
                id: id.clone(),
                revision: 1,
                title,
                declined: expired,
                expired,
                sdp: Some(usp.to_string()),
            }),
        }
        if expired {
            self.approvals.retain(|a| a.update_id != id);
        }
        Ok(String::new())
    }

    pub(super) fn catalog_site_import(&mut self, params: &Element) -> Result<String, String> {
        self.admin()?;
        let id = guid_param(params, "updateId");
        if let Some(d) = params.child("downloadedFileDigests") {
            for b in d.children_named("base64Binary").filter(|b| !b.is_nil()) {
                let compact: String = b.text.split_whitespace().collect();
                B64.decode(compact)
                    .map_err(|_| format!("System.FormatException: {} is not base64", b.text))?;
            }
        }
        if self.updates.iter().any(|u| u.id == id) {
            return Ok(String::new());
        }
        let (_, title) = self
            .catalog_site
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(&id))
            .ok_or_else(|| {
                format!(
                    "System.Net.WebException: The update {id} was not found on the Microsoft Update Catalog"
                )
            })?;
        self.updates.push(Update {
            id,
            revision: 1,
            title: title.clone(),
            declined: false,
            expired: false,
            sdp: None,
        });
        Ok(String::new())
    }

    pub(super) fn decline(
        &mut self,
        params: &Element,
        _user: Option<&str>,
    ) -> Result<String, String> {
        self.admin()?;
        let id = guid_param(params, "updateId");
        let u = self
            .updates
            .iter_mut()
            .find(|u| u.id == id)
            .ok_or_else(|| format!("System.ArgumentException: update {id} not found"))?;
        u.declined = true;
        self.approvals.retain(|a| a.update_id != id);
        Ok(String::new())
    }

    pub(super) fn delete_update(&mut self, params: &Element) -> Result<String, String> {
        self.admin()?;
        let id = guid_param(params, "updateID");
        let i = self
            .updates
            .iter()
            .position(|u| u.id == id)
            .ok_or_else(|| format!("System.ArgumentException: update {id} not found"))?;
        self.updates.remove(i);
        self.approvals.retain(|a| a.update_id != id);
        Ok(String::new())
    }
}
