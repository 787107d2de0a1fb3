//! Counts that describe a catalog at a glance (`supctl catalog inspect`): what it holds
//! and how much staging all of it would download. Counted as the catalog streams, by
//! [`super::tally`].

use std::collections::BTreeMap;

use serde::Serialize;

use super::model::DuplicatePackage;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub format: &'static str,
    pub updates: usize,
    pub vendors: BTreeMap<String, usize>,
    pub products: BTreeMap<String, usize>,
    pub classifications: BTreeMap<String, usize>,
    pub categories: usize,
    pub content_certificates: usize,
    pub expired_content_certificates: usize,
    /// True when the cab has no `ContentCertificates/` (ConfigMgr status 11523).
    pub missing_content_certificates: bool,
    /// Total `SupersededPackages/PackageID` references.
    pub superseded_refs: usize,
    /// Sum of every origin file's size.
    pub content_bytes: u64,
    pub catalog_xml: String,
    pub xml_bytes: u64,
    /// Packages dropped because another one has the same id (which one is kept, and why).
    pub duplicates: Vec<DuplicatePackage>,
}
