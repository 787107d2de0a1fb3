//! One `SoftwareDistributionPackage` → one [`UpdateRecord`].

mod fields;

use std::borrow::Cow;
use std::collections::HashSet;
use std::io::Read;

use chrono::{DateTime, Utc};
use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};

use super::text::resolve_ref;
use super::{Ns, SdpError, SdpErrorKind, XmlReader, next_event};
use crate::catalog::limits::{CatalogLimits, Limit};
use crate::catalog::model::{
    InstallableItem, Installer, Localized, OriginFile, PublicationState, UpdateRecord,
};
use crate::ids::{Sha256, UpdateId};
use fields::get;

/// The elements whose content or attributes feed the record; everything else (rules,
/// prerequisites, install properties) stays in the raw XML only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum El {
    Properties,
    ProductName,
    Localized,
    Language,
    Title,
    Description,
    TypeData,
    KbArticle,
    Bulletin,
    Cve,
    Superseded,
    SupersededId,
    Item,
    Installer,
    OriginFile,
    AdditionalDigest { sha256: bool },
    Other,
}

/// The element whose text is being collected, for messages.
fn text_element(stack: &[El]) -> &'static str {
    stack.last().map_or("", |el| el.element())
}

impl El {
    /// The XML element name of a text element.
    fn element(self) -> &'static str {
        use El::*;
        match self {
            ProductName => "ProductName",
            Language => "Language",
            Title => "Title",
            Description => "Description",
            KbArticle => "KBArticleID",
            Bulletin => "SecurityBulletinID",
            Cve => "CveID",
            SupersededId => "SupersededPackages/PackageID",
            AdditionalDigest { .. } => "AdditionalDigest",
            _ => "element",
        }
    }

    fn has_text(self) -> bool {
        use El::*;
        matches!(
            self,
            ProductName
                | Language
                | Title
                | Description
                | KbArticle
                | Bulletin
                | Cve
                | SupersededId
                | AdditionalDigest { .. }
        )
    }
}

#[derive(Default)]
struct LocalizedDraft {
    language: Option<String>,
    title: Option<String>,
    description: Option<String>,
}

struct ItemDraft {
    id: UpdateId,
    installer: Option<Installer>,
    files: Vec<OriginFile>,
    uninstallable: bool,
}

/// Accumulates one package while its events stream by. Its errors are not located yet
/// (line 0): [`parse`] places them at `at` with the tape, which the reader owns.
struct Builder<'d> {
    limits: &'d CatalogLimits,
    /// Offset of the event being handled, for error positions.
    at: usize,
    schema_version: String,
    id: Option<UpdateId>,
    created: Option<(DateTime<Utc>, String)>,
    vendor: String,
    products: Vec<String>,
    publication_state: PublicationState,
    update_type: String,
    localized: Vec<Localized>,
    /// The languages in `localized`, lower-cased: duplicates are found in constant time
    /// (a package with 200,000 languages cost quadratic time when this was a scan).
    languages: HashSet<String>,
    loc: LocalizedDraft,
    classification: Option<String>,
    severity: Option<String>,
    kb_article: Option<String>,
    bulletin: Option<String>,
    cves: Vec<String>,
    superseded: Vec<UpdateId>,
    items: Vec<InstallableItem>,
    item: Option<ItemDraft>,
    text: String,
}

type Attrs<'a> = Vec<(&'a str, Cow<'a, str>)>;

impl<'d> Builder<'d> {
    fn err(&self, kind: SdpErrorKind) -> SdpError {
        SdpError {
            line: 0,
            column: 0,
            package: self.id,
            kind,
        }
    }

    fn over(&self, limit: Limit, what: String) -> SdpError {
        self.err(SdpErrorKind::Limit(self.limits.exceeded(limit, what)))
    }

    /// Appends text of the current element, within `max_text_kib`.
    fn push_text(&mut self, element: &str, text: &str) -> Result<(), SdpError> {
        let len = (self.text.len() + text.len()) as u64;
        if len > self.limits.text_bytes {
            let what = format!("the text of `{element}` is at least {len} bytes");
            return Err(self.over(Limit::TextBytes, what));
        }
        self.text.push_str(text);
        Ok(())
    }

    fn invalid(&self, what: &'static str, value: &str, reason: impl ToString) -> SdpError {
        self.err(SdpErrorKind::Invalid {
            what,
            value: value.to_string(),
            reason: reason.to_string(),
        })
    }

    fn open(
        &mut self,
        parent: Option<El>,
        ns: Ns,
        local: &str,
        e: &BytesStart,
    ) -> Result<El, SdpError> {
        let attrs = self.attributes(e)?;
        let sdp = ns == Ns::Sdp;
        let el = match (parent, local) {
            (None, "Properties") if sdp => {
                self.properties(&attrs)?;
                El::Properties
            }
            (None, "LocalizedProperties") if sdp => {
                self.loc = LocalizedDraft::default();
                El::Localized
            }
            (None, "UpdateSpecificData") if sdp => {
                let c = self.required(
                    &attrs,
                    "UpdateClassification",
                    "UpdateSpecificData/@UpdateClassification",
                )?;
                self.classification = Some(c.to_string());
                self.severity = get(&attrs, "MsrcSeverity").map(str::to_string);
                El::TypeData
            }
            (None, "ApplicationSpecificData") if sdp => {
                self.classification = Some("Applications".into());
                El::TypeData
            }
            (None, "SupersededPackages") if sdp => El::Superseded,
            (None, "InstallableItem") if sdp => {
                let raw = self.required(&attrs, "ID", "InstallableItem/@ID")?;
                let id = UpdateId::parse(raw)
                    .map_err(|e| self.invalid("InstallableItem/@ID", raw, e))?;
                self.item = Some(ItemDraft {
                    id,
                    installer: None,
                    files: Vec::new(),
                    uninstallable: false,
                });
                El::Item
            }
            (Some(El::Properties), "ProductName") if sdp => El::ProductName,
            (Some(El::Localized), "Language") if sdp => El::Language,
            (Some(El::Localized), "Title") if sdp => El::Title,
            (Some(El::Localized), "Description") if sdp => El::Description,
            (Some(El::TypeData), "KBArticleID") if sdp => El::KbArticle,
            (Some(El::TypeData), "SecurityBulletinID") if sdp => El::Bulletin,
            (Some(El::TypeData), "CveID") if sdp => El::Cve,
            (Some(El::Superseded), "PackageID") if sdp => El::SupersededId,
            (Some(El::Item), "UninstallProperties") if sdp => {
                if let Some(item) = &mut self.item {
                    item.uninstallable = true;
                }
                El::Other
            }
            (Some(El::Item), "OriginFile") if sdp => {
                let file = self.origin_file(&attrs)?;
                if let Some(item) = &mut self.item {
                    item.files.push(file);
                }
                El::OriginFile
            }
            (Some(El::Item), _) if !sdp => {
                let installer = self.installer(ns, local, &attrs)?;
                if let Some(item) = &mut self.item
                    && item.installer.is_none()
                {
                    item.installer = Some(installer);
                }
                El::Installer
            }
            (Some(El::OriginFile), "AdditionalDigest") if ns == Ns::Bt => El::AdditionalDigest {
                sha256: get(&attrs, "Algorithm").is_some_and(|a| a.eq_ignore_ascii_case("SHA256")),
            },
            _ => El::Other,
        };
        if el.has_text() {
            self.text.clear();
        }
        Ok(el)
    }

    fn close(&mut self, el: El) -> Result<(), SdpError> {
        let text = self.text.trim();
        match el {
            El::ProductName => self.products.push(text.to_string()),
            El::Language => self.loc.language = Some(text.to_string()),
            El::Title => self.loc.title = Some(text.to_string()),
            El::Description => self.loc.description = Some(text.to_string()),
            El::KbArticle => self.kb_article = Some(text.to_string()),
            El::Bulletin => self.bulletin = Some(text.to_string()),
            El::Cve => self.cves.push(text.to_string()),
            El::SupersededId => {
                let id = UpdateId::parse(text)
                    .map_err(|e| self.invalid("SupersededPackages/PackageID", text, e))?;
                self.superseded.push(id);
            }
            El::AdditionalDigest { sha256: true } => {
                let d = Sha256::from_base64(text)
                    .map_err(|e| self.invalid("OriginFile/AdditionalDigest", text, e))?;
                if let Some(f) = self.item.as_mut().and_then(|i| i.files.last_mut()) {
                    f.sha256 = Some(d);
                }
            }
            El::Localized => {
                let loc = std::mem::take(&mut self.loc);
                let language = loc.language.ok_or_else(|| {
                    self.err(SdpErrorKind::Missing("LocalizedProperties/Language"))
                })?;
                let title = loc
                    .title
                    .ok_or_else(|| self.err(SdpErrorKind::Missing("LocalizedProperties/Title")))?;
                // HP repeats identical LocalizedProperties; the first of each language wins.
                if self.languages.insert(language.to_ascii_lowercase()) {
                    if self.localized.len() as u64 >= self.limits.languages {
                        let what = format!(
                            "the package has more than {} languages (`{language}` is one too many)",
                            self.limits.languages
                        );
                        return Err(self.over(Limit::Languages, what));
                    }
                    self.localized.push(Localized {
                        language,
                        title,
                        description: loc.description.unwrap_or_default(),
                    });
                }
            }
            El::Item => {
                if let Some(item) = self.item.take() {
                    let installer = item.installer.ok_or_else(|| {
                        self.err(SdpErrorKind::Missing("InstallableItem installer element"))
                    })?;
                    self.items.push(InstallableItem {
                        id: item.id,
                        installer,
                        files: item.files,
                        uninstallable: item.uninstallable,
                    });
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The record, without its XML: the caller hashes or copies that from the tape.
    fn finish(&mut self) -> Result<UpdateRecord, SdpError> {
        let id = self
            .id
            .ok_or_else(|| self.err(SdpErrorKind::Missing("Properties/@PackageID")))?;
        if self.localized.is_empty() {
            return Err(self.err(SdpErrorKind::Missing("LocalizedProperties")));
        }
        let classification = self.classification.take().ok_or_else(|| {
            self.err(SdpErrorKind::Missing(
                "UpdateSpecificData or ApplicationSpecificData",
            ))
        })?;
        let (created, created_raw) = self
            .created
            .take()
            .ok_or_else(|| self.err(SdpErrorKind::Missing("Properties/@CreationDate")))?;
        use std::mem::take;
        let mut record = UpdateRecord {
            id,
            schema_version: take(&mut self.schema_version).into(),
            created,
            created_raw,
            vendor: take(&mut self.vendor).into(),
            products: take(&mut self.products).into(),
            publication_state: self.publication_state,
            update_type: take(&mut self.update_type).into(),
            localized: take(&mut self.localized),
            classification: classification.into(),
            severity: self.severity.take().map(Into::into),
            kb_article: self.kb_article.take(),
            bulletin: self.bulletin.take(),
            cves: take(&mut self.cves),
            superseded: take(&mut self.superseded),
            items: take(&mut self.items),
            raw_xml: String::new(),
            raw_hash: None,
            namespaces: Default::default(),
        };
        record.shrink_to_fit();
        Ok(record)
    }
}

/// Parses the package whose start tag (`root`, at byte `start`) was just read, reading its
/// events into `buf`.
pub(super) fn parse<R: Read>(
    reader: &mut XmlReader<R>,
    buf: &mut Vec<u8>,
    start: usize,
    root: &BytesStart,
    empty: bool,
    limits: &CatalogLimits,
) -> Result<UpdateRecord, SdpError> {
    let mut b = Builder {
        limits,
        at: start,
        schema_version: String::new(),
        id: None,
        created: None,
        vendor: String::new(),
        products: Vec::new(),
        publication_state: PublicationState::Published,
        update_type: "Software".into(),
        localized: Vec::new(),
        languages: HashSet::new(),
        loc: LocalizedDraft::default(),
        classification: None,
        severity: None,
        kb_article: None,
        bulletin: None,
        cves: Vec::new(),
        superseded: Vec::new(),
        items: Vec::new(),
        item: None,
        text: String::new(),
    };
    read(&mut b, reader, buf, start, root, empty).map_err(|e| {
        if e.line == 0 {
            reader
                .get_ref()
                .error_at(b.at as u64, e.package.as_ref(), e.kind)
        } else {
            e
        }
    })
}

fn read<R: Read>(
    b: &mut Builder,
    reader: &mut XmlReader<R>,
    buf: &mut Vec<u8>,
    start: usize,
    root: &BytesStart,
    empty: bool,
) -> Result<UpdateRecord, SdpError> {
    let attrs = b.attributes(root)?;
    b.schema_version = get(&attrs, "SchemaVersion").unwrap_or_default().to_string();
    if empty {
        return b.finish();
    }
    let mut stack: Vec<El> = Vec::with_capacity(16);
    loop {
        b.at = reader.buffer_position() as usize;
        let (ns, event) = next_event(reader, buf, b.at, b.id.as_ref())?;
        // Checked on the event just read, before any of it is copied.
        let size = reader.buffer_position() as usize - start;
        if size as u64 > b.limits.package_bytes {
            let what = format!("the package's XML is at least {size} bytes");
            b.at = start;
            return Err(b.over(Limit::PackageBytes, what));
        }
        match event {
            Event::Start(e) => {
                let el = b.open(stack.last().copied(), ns, e.local_name().into_inner(), &e)?;
                stack.push(el);
            }
            Event::Empty(e) => {
                let el = b.open(stack.last().copied(), ns, e.local_name().into_inner(), &e)?;
                b.close(el)?;
            }
            Event::End(_) => match stack.pop() {
                Some(el) => b.close(el)?,
                None => return b.finish(),
            },
            Event::Text(t) => {
                if stack.last().is_some_and(|el| el.has_text()) {
                    b.push_text(
                        text_element(&stack),
                        &t.xml_content(XmlVersion::Implicit1_0),
                    )?;
                }
            }
            Event::CData(t) => {
                if stack.last().is_some_and(|el| el.has_text()) {
                    b.push_text(
                        text_element(&stack),
                        &t.xml_content(XmlVersion::Implicit1_0),
                    )?;
                }
            }
            Event::GeneralRef(r) => {
                let c = resolve_ref(&r).map_err(|k| b.err(k))?;
                if stack.last().is_some_and(|el| el.has_text()) {
                    b.push_text(text_element(&stack), c.encode_utf8(&mut [0; 4]))?;
                }
            }
            Event::DocType(_) => return Err(b.err(SdpErrorKind::Doctype)),
            Event::Eof => {
                return Err(b.err(SdpErrorKind::Xml("document ends inside a package".into())));
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
        }
    }
}
