//! Independent readers for the generator tests: they look at the generator's output with
//! other code (the `cab` crate's reader, quick-xml by namespace URI, external tools)
//! rather than trusting the generator's own bookkeeping.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use quick_xml::XmlVersion;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

pub(crate) const SMC: &str =
    "http://schemas.microsoft.com/sms/2005/04/CorporatePublishing/SystemsManagementCatalog.xsd";
pub(crate) const SDP: &str =
    "http://schemas.microsoft.com/wsus/2005/04/CorporatePublishing/SoftwareDistributionPackage.xsd";

/// Every file of a CAB in folder order, with the stored (backslash) names.
pub(crate) fn cab_files(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut cab = cab::Cabinet::new(File::open(path).unwrap()).unwrap();
    let names: Vec<String> = cab
        .folder_entries()
        .flat_map(|f| f.file_entries().map(|e| e.name().to_string()))
        .collect();
    names
        .into_iter()
        .map(|n| {
            let mut v = Vec::new();
            cab.read_file(&n).unwrap().read_to_end(&mut v).unwrap();
            (n, v)
        })
        .collect()
}

/// What the scan found in a catalog XML.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// `Properties/@PackageID` of each package element in the smc namespace, in order.
    pub packages: Vec<String>,
    /// `OriginFile` FileName -> (Digest, Size).
    pub origin_files: BTreeMap<String, (String, u64)>,
    /// Package id -> superseded ids.
    pub superseded: BTreeMap<String, Vec<String>>,
}

/// Scans catalog XML by namespace URI with quick-xml.
pub(crate) fn scan_xml(xml: &[u8]) -> Scan {
    let text = std::str::from_utf8(xml.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(xml)).unwrap();
    let mut r = NsReader::from_str(text);
    let mut s = Scan::default();
    let mut in_superseded = false;
    let mut in_package_id = false;
    loop {
        let ev = r.read_resolved_event().unwrap();
        match ev {
            (ResolveResult::Bound(ns), Event::Start(e) | Event::Empty(e)) => {
                let local = e.local_name().as_ref().to_string();
                let attr = |k: &str| {
                    e.attributes()
                        .map(|a| a.unwrap())
                        .find(|a| a.key.as_ref() == k)
                        .map(|a| {
                            a.normalized_value(XmlVersion::Implicit1_0)
                                .unwrap()
                                .into_owned()
                        })
                };
                match (ns.as_ref(), local.as_str()) {
                    (SMC, "SoftwareDistributionPackage") => s.packages.push(String::new()),
                    (SDP, "Properties") => {
                        let id = attr("PackageID").unwrap();
                        *s.packages.last_mut().unwrap() = id.clone();
                        s.superseded.insert(id, Vec::new());
                    }
                    (SDP, "SupersededPackages") => in_superseded = true,
                    (SDP, "PackageID") => in_package_id = in_superseded,
                    (SDP, "OriginFile") => {
                        let size = attr("Size").unwrap().parse().unwrap();
                        s.origin_files
                            .insert(attr("FileName").unwrap(), (attr("Digest").unwrap(), size));
                    }
                    _ => {}
                }
            }
            (_, Event::Text(t)) if in_package_id => {
                let id = t.to_string();
                let current = s.packages.last().unwrap().clone();
                s.superseded.get_mut(&current).unwrap().push(id);
                in_package_id = false;
            }
            (_, Event::End(e)) if e.local_name().as_ref() == "SupersededPackages" => {
                in_superseded = false
            }
            (_, Event::Eof) => break,
            _ => {}
        }
    }
    s
}

/// Whether an external tool can be run.
pub(crate) fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok()
}

/// A test PKI with a code signer: the shared one when present, else the quickstart's.
pub(crate) struct Pki {
    pub dir: PathBuf,
}

impl Pki {
    pub(crate) fn candidates() -> Vec<Pki> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        ["tests/fixtures/pki", "examples/quickstart/pki"]
            .iter()
            .map(|d| Pki { dir: root.join(d) })
            .filter(|p| p.file("signer.pem").is_file() && p.file("signer.key").is_file())
            .collect()
    }
    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
    /// The signer's notBefore + 60 s: inside its validity, as make-quickstart.sh picks it.
    pub(crate) fn sign_time(&self) -> i64 {
        let pem = std::fs::read(self.file("signer.pem")).unwrap();
        let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
        let cert = pem.parse_x509().unwrap();
        cert.validity().not_before.timestamp() + 60
    }
}
