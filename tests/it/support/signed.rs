//! Catalogs signed at test time: the quickstart's four updates (same generator seed as the
//! committed fixtures) in a chosen format, signed and shipping the certificates a test
//! names, with content. A committed fixture cannot hold a certificate that expires "within
//! 30 days" of whenever the tests run, so the short-lived one is made here with rcgen.
//!
//! Signing needs osslsigncode: without it (outside CI) [`osslsigncode`] says so and the
//! test returns early, as `apply_scale` does.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{Datelike, Duration, Utc};
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair,
    KeyUsagePurpose, date_time_ymd,
};
use supctl_test_kit::generator::{self, Format, Options, Profile, Signer};

use super::e2e::repo;

/// The e2e fixtures' generator seed (`scripts/make-e2e-fixtures.sh`).
const SEED: u64 = 1;

/// True when osslsigncode can sign; false (outside CI only) when the test should skip.
pub(crate) fn osslsigncode() -> bool {
    let have = Command::new("osslsigncode")
        .arg("--version")
        .output()
        .is_ok();
    if !have {
        assert!(
            std::env::var_os("CI").is_none(),
            "osslsigncode is required under CI"
        );
        eprintln!("skipped: osslsigncode is not installed");
    }
    have
}

/// A code-signing certificate and its key as files, for the generator.
pub(crate) struct TestSigner {
    pub(crate) signer: Signer,
    /// The certificate, DER, to ship as a content certificate.
    pub(crate) der: PathBuf,
    /// SHA-1 thumbprint, upper-case hex.
    pub(crate) thumbprint: String,
}

/// The quickstart's signer (`examples/quickstart/pki`), signing a minute after its
/// notBefore as the fixture scripts do.
pub(crate) fn quickstart_signer() -> TestSigner {
    let pki = repo("examples/quickstart/pki");
    let pem = std::fs::read(pki.join("signer.pem")).unwrap();
    let (_, parsed) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    let time = parsed
        .parse_x509()
        .unwrap()
        .validity()
        .not_before
        .timestamp()
        + 60;
    TestSigner {
        signer: Signer {
            cert: pki.join("signer.pem"),
            key: pki.join("signer.key"),
            time,
        },
        der: pki.join("signer.cer"),
        thumbprint: super::e2e::QS_SIGNER.to_string(),
    }
}

/// A self-signed code-signing certificate valid from yesterday until `days` from now,
/// written into `dir`.
pub(crate) fn short_lived_signer(dir: &Path, days: i64) -> TestSigner {
    let ymd = |d: chrono::DateTime<Utc>| date_time_ymd(d.year(), d.month() as u8, d.day() as u8);
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CommonName,
        "Contoso Short-Lived Signing (supctl test)",
    );
    params.distinguished_name = dn;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    params.not_before = ymd(Utc::now() - Duration::days(2));
    params.not_after = ymd(Utc::now() + Duration::days(days));
    let cert = params.self_signed(&key).expect("certificate");
    std::fs::create_dir_all(dir).unwrap();
    let (pem, key_path, der) = (
        dir.join("short.pem"),
        dir.join("short.key"),
        dir.join("short.cer"),
    );
    std::fs::write(&pem, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    std::fs::write(&der, cert.der().as_ref()).unwrap();
    TestSigner {
        signer: Signer {
            cert: pem,
            key: key_path,
            time: (Utc::now() - Duration::days(1)).timestamp(),
        },
        der,
        thumbprint: generator::thumbprint(cert.der()),
    }
}

/// What to generate.
pub(crate) struct Spec<'a> {
    pub(crate) format: Format,
    /// Signs the CAB.
    pub(crate) catalog: &'a TestSigner,
    /// Signs the content (`None`: the catalog's signer).
    pub(crate) content: Option<&'a TestSigner>,
    /// Shipped in `ContentCertificates/`.
    pub(crate) ships: &'a [&'a TestSigner],
}

/// Writes `dir/contoso.cab` and `dir/content/`; returns their paths.
pub(crate) fn generate(dir: &Path, spec: &Spec<'_>) -> (PathBuf, PathBuf) {
    let (cab, content) = (dir.join("contoso.cab"), dir.join("content"));
    generator::run(&Options {
        profile: Profile::Quickstart,
        format: spec.format,
        seed: SEED,
        out: cab.clone(),
        content_dir: Some(content.clone()),
        content_size: 1024,
        signer: Some(spec.catalog.signer.clone()),
        content_certs: spec.ships.iter().map(|s| s.der.clone()).collect(),
        unsigned_content: 0,
        uninstallable: 0,
        v2_copies: true,
        content_signer: spec.content.map(|s| s.signer.clone()),
    })
    .expect("generate the catalog");
    (cab, content)
}

/// Writes `dir/contoso.cab`: the quickstart's four updates, metadata-only, signed by the
/// quickstart signer, the first `n` of them (Tool 1.0 first) supporting uninstall.
pub(crate) fn uninstallable_quickstart(dir: &Path, n: usize) -> PathBuf {
    let cab = dir.join("contoso.cab");
    generator::run(&Options {
        profile: Profile::Quickstart,
        format: Format::V3,
        seed: SEED,
        out: cab.clone(),
        content_dir: None,
        content_size: 1024,
        signer: Some(quickstart_signer().signer),
        content_certs: Vec::new(),
        unsigned_content: 0,
        uninstallable: n,
        v2_copies: true,
        content_signer: None,
    })
    .expect("generate the catalog");
    cab
}
