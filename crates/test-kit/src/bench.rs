//! A synthetic, deterministic workload: catalogs of N updates with small content files.
//!
//! Drives `supctl-test-kit bench-write`, which the crash test kills at random points and then
//! checks, and the store tests, so both exercise the real write path.

use std::io::Write as _;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use serde::Serialize;

use supctl::catalog::model::{
    InstallableItem, Installer, Localized, OriginFile, PublicationState, UpdateRecord,
};
use supctl::ids::{Sha1, Sha256, UpdateId};
use supctl::store::error::{Result, StoreError};
use supctl::store::model::{CatalogKind, CatalogRecord, Selection};
use supctl::store::names::CatalogKey;
use supctl::store::op::StageRequest;
use supctl::store::{Change, Store};

/// What to write.
#[derive(Debug, Clone)]
pub struct BenchSpec {
    pub updates: usize,
    /// Updates per `PublishUpdates` operation (one transaction each).
    pub batch: usize,
    /// Stage the content of every n-th update; 0 stages none.
    pub stage_every: usize,
}

/// What was written and how long it took.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BenchReport {
    pub published: u64,
    pub unchanged: u64,
    pub staged: u64,
    pub elapsed_ms: u128,
}

/// The catalog every synthetic update belongs to.
pub fn catalog_key() -> CatalogKey {
    CatalogKey::parse("bench").expect("valid key")
}

/// The id of synthetic update `i`.
pub fn update_id(i: usize) -> UpdateId {
    UpdateId::parse(&format!("5eed0000-0000-4000-8000-{i:012x}")).expect("valid GUID")
}

/// The content bytes of synthetic update `i`.
pub fn content(i: usize) -> Vec<u8> {
    format!("synthetic content of update {i}\n")
        .repeat(16)
        .into_bytes()
}

/// Synthetic update `i`: 20 vendors with two products each (60 locally published
/// categories: a WSUS takes at most 100, Microsoft KB 945536, and the embedded server
/// refuses more), one origin file, supersedes `i - 1` except at every tenth.
pub fn update(i: usize) -> UpdateRecord {
    let id = update_id(i);
    let data = content(i);
    let vendor = format!("Vendor {:02}", i % 20);
    let product = format!("Product {:02}", i % 20 + 20 * ((i / 20) % 2));
    let classification = ["Updates", "Security Updates", "Critical Updates"][i % 3].to_string();
    let title = format!("Synthetic update {i:06}");
    let file = OriginFile {
        name: format!("setup-{i}.exe"),
        size: data.len() as u64,
        sha1: Sha1::of(&data),
        sha256: Some(Sha256::of(&data)),
        uri: Some(format!("http://downloads.example.com/{i}/setup.exe")),
        modified: "2024-01-01T00:00:00Z".into(),
    };
    let raw_xml = format!(
        "<sdp:SoftwareDistributionPackage xmlns:sdp=\"http://schemas.microsoft.com/wsus/2005/04/CorporatePublishing/SoftwareDistributionPackage.xsd\" PackageID=\"{id}\" CreationDate=\"2024-01-01T00:00:00Z\">\
<sdp:Properties VendorName=\"{vendor}\" PublicationState=\"Published\"><sdp:ProductName>{product}</sdp:ProductName></sdp:Properties>\
<sdp:LocalizedProperties><sdp:Language>en</sdp:Language><sdp:Title>{title}</sdp:Title><sdp:Description>{}</sdp:Description></sdp:LocalizedProperties>\
<sdp:UpdateSpecificData><sdp:UpdateClassification>{classification}</sdp:UpdateClassification></sdp:UpdateSpecificData>\
<sdp:InstallableItem ID=\"{id}\"><sdp:OriginFile Digest=\"{}\" FileName=\"{}\" Size=\"{}\" /></sdp:InstallableItem>\
</sdp:SoftwareDistributionPackage>",
        "A synthetic update used to measure and crash-test the store. ".repeat(12),
        file.sha1.to_base64(),
        file.name,
        file.size
    );
    UpdateRecord {
        id,
        schema_version: "1.0".into(),
        created: Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(),
        created_raw: "2024-01-01T00:00:00Z".into(),
        vendor: vendor.into(),
        products: vec![product].into(),
        publication_state: PublicationState::Published,
        update_type: "Software".into(),
        localized: vec![Localized {
            language: "en".into(),
            title,
            description: "A synthetic update".into(),
        }],
        classification: classification.into(),
        severity: None,
        kb_article: Some(format!("{}", 5_000_000 + i)),
        bulletin: None,
        cves: Vec::new(),
        superseded: if i.is_multiple_of(10) {
            Vec::new()
        } else {
            vec![update_id(i - 1)]
        },
        items: vec![InstallableItem {
            uninstallable: false,
            id,
            installer: Installer::CommandLine {
                program: "setup.exe".into(),
                arguments: Some("/quiet".into()),
            },
            files: vec![file],
        }],
        raw_xml,
        raw_hash: None,
        namespaces: Default::default(),
    }
}

/// The synthetic catalog's subscription.
pub fn catalog() -> CatalogRecord {
    CatalogRecord {
        key: catalog_key(),
        kind: CatalogKind::Custom,
        name: "Synthetic catalog".into(),
        publisher: "supctl".into(),
        source: "bench.cab".into(),
        description: None,
        support_url: None,
        support_contact: None,
        subscribed: true,
        schedule: None,
        categories: Selection::All,
        staging: Selection::None,
        signers: Vec::new(),
        content_certificates: Vec::new(),
        prune: false,
    }
}

/// Writes the workload batch by batch; idempotent, so a rerun after a crash completes it.
pub fn write(backend: &Store, spec: &BenchSpec) -> Result<BenchReport> {
    let start = Instant::now();
    let mut report = BenchReport::default();
    backend.apply(Change::UpsertCatalog(catalog()))?;
    let batch = spec.batch.max(1);
    for first in (0..spec.updates).step_by(batch) {
        let range = first..(first + batch).min(spec.updates);
        let updates: Vec<UpdateRecord> = range.clone().map(update).collect();
        let applied = backend.apply(Change::PublishUpdates {
            catalog: catalog_key(),
            updates,
            packed: Default::default(),
        })?;
        report.published += applied.counts.created + applied.counts.updated;
        report.unchanged += applied.counts.unchanged;
        if spec.stage_every == 0 {
            continue;
        }
        for i in range.filter(|i| i.is_multiple_of(spec.stage_every)) {
            if stage(backend, i)? {
                report.staged += 1;
            }
        }
    }
    report.elapsed_ms = start.elapsed().as_millis();
    Ok(report)
}

fn stage(backend: &Store, i: usize) -> Result<bool> {
    let data = content(i);
    let dir = backend.staging_dir()?;
    let mut tmp = tempfile::Builder::new()
        .suffix(".part")
        .tempfile_in(&dir)
        .map_err(|e| StoreError::io(format!("creating a temp file in {}", dir.display()), e))?;
    tmp.write_all(&data)
        .map_err(|e| StoreError::io("writing synthetic content", e))?;
    let (_, path) = tmp
        .keep()
        .map_err(|e| StoreError::io("keeping a temp file", e.error))?;
    let applied = backend.apply(Change::StageContent(StageRequest {
        update: update_id(i),
        sha1: Sha1::of(&data),
        sha256: Sha256::of(&data),
        temp_path: path,
        ext: "exe".into(),
    }))?;
    Ok(applied.changed)
}
