//! Reading a package element's attributes into the record: every attribute checked, the
//! modelled ones (`Properties`, `OriginFile`, installer data) parsed.

use quick_xml::XmlVersion;
use quick_xml::events::BytesStart;

use super::super::check::is_xml_char;
use super::super::text::parse_xml_datetime;
use super::super::{Ns, SdpError, SdpErrorKind};
use super::{Attrs, Builder};
use crate::catalog::limits::Limit;
use crate::catalog::model::{Installer, OriginFile, PublicationState};
use crate::ids::{Sha1, UpdateId};

impl Builder<'_> {
    /// Unprefixed attributes, unescaped and normalised; every attribute of every element is
    /// checked (well-formed, within `max_text_kib`, XML characters only) so malformed rule
    /// XML cannot hide inside the raw slice. Sizes are checked on the raw value, before
    /// anything is copied.
    pub(super) fn attributes<'a>(&self, e: &'a BytesStart) -> Result<Attrs<'a>, SdpError> {
        let mut out = Vec::new();
        for a in e.attributes() {
            let a = a.map_err(|err| self.err(SdpErrorKind::Xml(err.to_string())))?;
            let key = a.key.0;
            if key.starts_with("xmlns") {
                continue;
            }
            if a.value.len() as u64 > self.limits.text_bytes {
                let what = format!(
                    "attribute `{key}` of `{}` is {} bytes",
                    e.name().0,
                    a.value.len()
                );
                return Err(self.over(Limit::TextBytes, what));
            }
            let value = a
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|err| self.err(SdpErrorKind::Xml(format!("attribute `{key}`: {err}"))))?;
            // Literal characters were checked with the document; references are not. A value
            // normalisation left borrowed has none, nor anything else to look at again.
            if let std::borrow::Cow::Owned(v) = &value
                && let Some(c) = v.chars().find(|&c| !is_xml_char(c))
            {
                return Err(self.err(SdpErrorKind::InvalidChar(u32::from(c))));
            }
            if !key.contains(':') {
                out.push((key, value));
            }
        }
        Ok(out)
    }

    pub(super) fn required<'a>(
        &self,
        attrs: &'a Attrs,
        name: &str,
        what: &'static str,
    ) -> Result<&'a str, SdpError> {
        get(attrs, name).ok_or_else(|| self.err(SdpErrorKind::Missing(what)))
    }

    pub(super) fn properties(&mut self, attrs: &Attrs) -> Result<(), SdpError> {
        let raw = self.required(attrs, "PackageID", "Properties/@PackageID")?;
        self.id =
            Some(UpdateId::parse(raw).map_err(|e| self.invalid("Properties/@PackageID", raw, e))?);
        let raw = self.required(attrs, "CreationDate", "Properties/@CreationDate")?;
        let parsed = parse_xml_datetime(raw)
            .ok_or_else(|| self.invalid("Properties/@CreationDate", raw, "not an xs:dateTime"))?;
        self.created = Some((parsed, raw.to_string()));
        self.vendor = get(attrs, "VendorName").unwrap_or_default().to_string();
        self.publication_state = match get(attrs, "PublicationState") {
            None | Some("Published") => PublicationState::Published,
            Some("Expired") => PublicationState::Expired,
            Some(other) => {
                return Err(self.invalid(
                    "Properties/@PublicationState",
                    other,
                    "expected Published or Expired",
                ));
            }
        };
        self.update_type = get(attrs, "UpdateType").unwrap_or("Software").to_string();
        Ok(())
    }

    pub(super) fn origin_file(&self, attrs: &Attrs) -> Result<OriginFile, SdpError> {
        let digest = self.required(attrs, "Digest", "OriginFile/@Digest")?;
        let sha1 =
            Sha1::from_base64(digest).map_err(|e| self.invalid("OriginFile/@Digest", digest, e))?;
        let size = self.required(attrs, "Size", "OriginFile/@Size")?;
        let size = size
            .trim()
            .parse::<u64>()
            .map_err(|e| self.invalid("OriginFile/@Size", size, e))?;
        Ok(OriginFile {
            name: self
                .required(attrs, "FileName", "OriginFile/@FileName")?
                .to_string(),
            size,
            sha1,
            sha256: None,
            uri: get(attrs, "OriginUri").map(str::to_string),
            modified: self
                .required(attrs, "Modified", "OriginFile/@Modified")?
                .to_string(),
        })
    }

    pub(super) fn installer(
        &self,
        ns: Ns,
        local: &str,
        attrs: &Attrs,
    ) -> Result<Installer, SdpError> {
        Ok(match (ns, local) {
            (Ns::Cmd, "CommandLineInstallerData") => Installer::CommandLine {
                program: self
                    .required(attrs, "Program", "CommandLineInstallerData/@Program")?
                    .to_string(),
                arguments: get(attrs, "Arguments").map(str::to_string),
            },
            (Ns::Msi, "MsiInstallerData") => Installer::Msi {
                product_code: self
                    .required(attrs, "ProductCode", "MsiInstallerData/@ProductCode")?
                    .to_string(),
                msi_file: self
                    .required(attrs, "MsiFile", "MsiInstallerData/@MsiFile")?
                    .to_string(),
            },
            (Ns::Msp, "MspInstallerData") => Installer::Msp {
                patch_code: get(attrs, "PatchCode").map(str::to_string),
            },
            _ => Installer::Other {
                element: local.to_string(),
            },
        })
    }
}

pub(super) fn get<'a>(attrs: &'a Attrs, name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.as_ref())
}
