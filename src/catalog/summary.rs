//! Counts that describe a catalog at a glance (`supctl catalog inspect`): what it holds
//! and how much staging all of it would download.

use std::collections::BTreeMap;

use serde::Serialize;

use super::extract::Extracted;
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

pub fn summarize(x: &Extracted) -> Summary {
    let c = &x.content;
    let mut vendors = BTreeMap::new();
    let mut products = BTreeMap::new();
    let mut classifications = BTreeMap::new();
    for u in &c.updates {
        *vendors.entry(u.vendor.clone()).or_default() += 1;
        for p in &u.products {
            *products.entry(p.clone()).or_default() += 1;
        }
        *classifications.entry(u.classification.clone()).or_default() += 1;
    }
    Summary {
        format: c.format.as_str(),
        updates: c.updates.len(),
        vendors,
        products,
        classifications,
        categories: c.categories.len(),
        content_certificates: c.content_certificates.len(),
        expired_content_certificates: x.expired_content_certificates.len(),
        missing_content_certificates: x.missing_content_certificates,
        superseded_refs: c.updates.iter().map(|u| u.superseded.len()).sum(),
        content_bytes: c.updates.iter().map(|u| u.content_bytes()).sum(),
        catalog_xml: x.xml_name.clone(),
        xml_bytes: x.xml_bytes,
        duplicates: c.duplicates.clone(),
    }
}
