//! Generator of realistic, deterministic, signed catalog CABs (v3, or the older v1 and v2
//! layouts) for benchmarks, the quickstart and the end-to-end tests.
//!
//! Part of the test kit, not of supctl: the product never writes catalogs. The
//! `supctl-gen-catalog` binary is its command line; supctl's tests call it as a library.

pub mod bench;
pub mod cabinet;
pub mod content;
pub mod model;
pub mod quickstart;
pub mod rng;
pub mod sdp;
pub mod sign;
pub mod v3;
pub mod xml;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use sha1::Digest as _;

use model::{Catalog, Installer};
pub use sign::Signer;

/// Which catalog to make.
#[derive(Debug, Clone)]
pub enum Profile {
    /// N updates in `categories` child categories (default: about N/12).
    Bench {
        updates: usize,
        categories: Option<usize>,
    },
    /// The four Contoso updates of the offline quickstart.
    Quickstart,
    /// One update per product of `vendors` vendors with `products` products each
    /// (`Vendor 000`/`Product 00`…), in the benchmark's shapes: a catalog that makes
    /// `vendors × (1 + products)` locally published categories on WSUS, for the
    /// category-limit tests.
    Vendors { vendors: usize, products: usize },
}

/// Which catalog CAB generation to write. ConfigMgr tells them apart by what the CAB holds,
/// and so does supctl (`catalog::extract`), so the older generations are made by leaving
/// folders out of the same catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// The catalog XML and `V2\` only: no content certificates, no categories.
    V1,
    /// Adds `ContentCertificates\`.
    V2,
    /// Adds the `V3\` category tree.
    #[default]
    V3,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub profile: Profile,
    pub format: Format,
    pub seed: u64,
    pub out: PathBuf,
    /// Write the origin files here (`None`: metadata-only catalog with synthetic digests).
    pub content_dir: Option<PathBuf>,
    /// Unsigned image size of each origin file, bytes.
    pub content_size: usize,
    pub signer: Option<Signer>,
    /// DER or PEM certificates shipped as `ContentCertificates\<SHA1>.cer`.
    pub content_certs: Vec<PathBuf>,
    /// Leave the first N origin files (in package order) unsigned, keeping their real
    /// digest in the catalog: the 11516 case (a file that matches but carries no signature).
    pub unsigned_content: usize,
    /// Sign content with this identity instead of `signer` (a content certificate the
    /// admin has not approved: TRUST_FAIL at staging).
    pub content_signer: Option<Signer>,
    /// The first N packages support uninstalling (`UninstallProperties` on their items):
    /// tests of `uninstall` approvals.
    pub uninstallable: usize,
    /// Ship each package again as `V2\<id>.sdp`, as HP does. A cabinet holds at most
    /// 65,535 files, so a catalog of 100,000 updates cannot: the benchmark's largest
    /// catalog leaves them out.
    pub v2_copies: bool,
}

/// What was written, for the caller to print.
#[derive(Debug, Clone)]
pub struct Summary {
    pub updates: Vec<(String, String)>,
    /// (path, id, member count).
    pub categories: Vec<(String, String, usize)>,
    pub content_certs: Vec<String>,
    pub content_files: usize,
    pub payload_bytes: u64,
    pub cab_bytes: u64,
    pub signed: bool,
}

/// The skeleton for `profile`; pure function of (profile, seed).
pub fn build(profile: &Profile, seed: u64) -> Catalog {
    match profile {
        Profile::Bench {
            updates,
            categories,
        } => bench::build(
            seed,
            *updates,
            categories.unwrap_or_else(|| bench::default_categories(*updates)),
        ),
        Profile::Quickstart => quickstart::build(seed),
        Profile::Vendors { vendors, products } => bench::vendors(seed, *vendors, *products),
    }
}

/// Upper-case hex SHA-1 of the DER: the `ContentCertificates\` file name and the
/// thumbprint ConfigMgr shows.
pub fn thumbprint(der: &[u8]) -> String {
    hex::encode_upper(sha1::Sha1::digest(der))
}

/// Reads a certificate as DER, accepting PEM too.
pub fn read_cert_der(path: &Path) -> Result<Vec<u8>> {
    let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let Some(text) = std::str::from_utf8(&bytes)
        .ok()
        .filter(|t| t.contains("-----BEGIN CERTIFICATE-----"))
    else {
        return Ok(bytes);
    };
    let b64: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .with_context(|| format!("{}: bad PEM base64", path.display()))
}

/// Only PE content can be generated, so when content is requested every package installs
/// through a command line and ships `.exe` files (MSI packages exist only in
/// metadata-only catalogs).
fn exe_only(cat: &mut Catalog) {
    for p in &mut cat.packages {
        if let Installer::Msi { .. } = p.installer {
            p.installer = Installer::CommandLine {
                arguments: "/quiet".into(),
            };
            for i in &mut p.items {
                i.file_name = i.file_name.replace(".msi", ".exe");
            }
        }
    }
}

pub fn run(opts: &Options) -> Result<Summary> {
    for s in opts.signer.iter().chain(&opts.content_signer) {
        sign::require_osslsigncode()?;
        for f in [&s.cert, &s.key] {
            if !f.is_file() {
                bail!("signing file {} does not exist", f.display());
            }
        }
    }
    if opts.format == Format::V1 && !opts.content_certs.is_empty() {
        bail!("a v1 catalog ships no content certificates; drop --content-cert or use --format v2");
    }
    let mut cat = build(&opts.profile, opts.seed);
    if opts.format != Format::V3 {
        cat.categories.clear();
    }
    if cat.packages.is_empty() {
        bail!("--updates must be at least 1");
    }
    for p in cat.packages.iter_mut().take(opts.uninstallable) {
        p.uninstallable = true;
    }
    let mut content_files = 0;
    if let Some(dir) = &opts.content_dir {
        exe_only(&mut cat);
        content::generate(
            &mut cat,
            opts.seed,
            dir,
            opts.content_size,
            opts.content_signer.as_ref().or(opts.signer.as_ref()),
            opts.unsigned_content,
        )?;
        content_files = cat.packages.iter().map(|p| p.items.len()).sum();
    }
    let mut certs = Vec::new();
    for path in &opts.content_certs {
        let der = read_cert_der(path)?;
        let name = format!("{}.cer", thumbprint(&der));
        if !certs.iter().any(|c: &cabinet::CertFile| c.name == name) {
            certs.push(cabinet::CertFile { name, der });
        }
    }

    if let Some(parent) = opts.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let tmp = opts.out.with_extension("cab.unsigned.tmp");
    let payload_bytes =
        cabinet::write_cab(&tmp, &cat, opts.seed, &certs, opts.format, opts.v2_copies)?;
    match &opts.signer {
        Some(s) => {
            let r = s.sign_dual(&tmp, &opts.out, "supctl generated catalog");
            let _ = fs::remove_file(&tmp);
            r?;
        }
        None => fs::rename(&tmp, &opts.out)
            .with_context(|| format!("moving the catalog to {}", opts.out.display()))?,
    }
    let cab_bytes = fs::metadata(&opts.out)?.len();
    Ok(Summary {
        updates: cat
            .packages
            .iter()
            .map(|p| (p.id.clone(), p.title.clone()))
            .collect(),
        categories: (0..cat.categories.len())
            .map(|i| {
                let c = &cat.categories[i];
                (cat.category_path(i), c.id.clone(), c.members.len())
            })
            .collect(),
        content_certs: certs
            .iter()
            .map(|c| c.name.trim_end_matches(".cer").to_string())
            .collect(),
        content_files,
        payload_bytes,
        cab_bytes,
        signed: opts.signer.is_some(),
    })
}
