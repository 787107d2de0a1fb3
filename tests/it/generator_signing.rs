//! Signed output of the catalog generator: the CAB and the content verify with
//! osslsigncode, `OriginFile` digests and sizes match the files, and the committed
//! quickstart assets are exactly what the generator makes today.

use crate::support::generator as generator_support;
use supctl_test_kit::generator;

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use sha1::Digest as _;

use generator::{Options, Profile, Signer};
use generator_support::{Pki, cab_files, have, scan_xml};

fn verify(ca: &Path, file: &Path) {
    let out = Command::new("osslsigncode")
        .args(["verify", "-CAfile"])
        .arg(ca)
        .arg("-in")
        .arg(file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{} does not verify:\n{text}",
        file.display()
    );
}

/// Every `OriginFile` names a file in `dir` whose SHA-1 and size it states.
fn assert_digests_match(xml: &[u8], dir: &Path) -> usize {
    let scan = scan_xml(xml);
    assert!(!scan.origin_files.is_empty());
    for (name, (digest, size)) in &scan.origin_files {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let sha1 = base64::engine::general_purpose::STANDARD.encode(sha1::Sha1::digest(&bytes));
        assert_eq!(&sha1, digest, "{name}");
        assert_eq!(bytes.len() as u64, *size, "{name}");
        let pe = goblin::pe::PE::parse(&bytes).unwrap();
        assert_eq!(pe.sections.len(), 1, "{name}");
    }
    let on_disk = std::fs::read_dir(dir).unwrap().count();
    assert_eq!(
        on_disk,
        scan.origin_files.len(),
        "stray files in {}",
        dir.display()
    );
    on_disk
}

#[test]
fn unsigned_content_digests_match_the_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let content = dir.path().join("content");
    let cab = dir.path().join("c.cab");
    generator::run(&Options {
        format: generator::Format::V3,
        profile: Profile::Bench {
            updates: 25,
            categories: None,
        },
        seed: 11,
        out: cab.clone(),
        content_dir: Some(content.clone()),
        content_size: 3000,
        signer: None,
        content_certs: Vec::new(),
        unsigned_content: 0,
        uninstallable: 0,
        v2_copies: true,
        content_signer: None,
    })
    .unwrap();
    let files = cab_files(&cab);
    let n = assert_digests_match(&files[0].1, &content);
    assert!(n > 25, "expected some packages with several origin files");
    let text = String::from_utf8_lossy(&files[0].1);
    assert!(
        !text.contains("msi:MsiInstallerData"),
        "MSI packages need MSI content"
    );
    assert!(text.contains("OriginUri=\"https://content.contoso.example/cts000001"));
}

#[test]
fn signed_catalog_and_content_verify() {
    if !have("osslsigncode") {
        eprintln!("skipped: osslsigncode is not installed");
        return;
    }
    let Some(pki) = Pki::candidates().into_iter().next() else {
        panic!("no test PKI: run scripts/make-quickstart.sh");
    };
    let dir = tempfile::tempdir().unwrap();
    let content = dir.path().join("content");
    let cab = dir.path().join("signed.cab");
    let s = generator::run(&Options {
        format: generator::Format::V3,
        profile: Profile::Bench {
            updates: 6,
            categories: Some(3),
        },
        seed: 2,
        out: cab.clone(),
        content_dir: Some(content.clone()),
        content_size: 2048,
        signer: Some(Signer {
            cert: pki.file("signer.pem"),
            key: pki.file("signer.key"),
            time: pki.sign_time(),
        }),
        content_certs: vec![pki.file("signer.pem")],
        unsigned_content: 0,
        uninstallable: 0,
        v2_copies: true,
        content_signer: None,
    })
    .unwrap();
    assert!(s.signed);
    verify(&pki.file("ca.pem"), &cab);
    let out = Command::new("osslsigncode")
        .args(["verify", "-CAfile"])
        .arg(pki.file("ca.pem"))
        .arg("-in")
        .arg(&cab)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Number of verified signatures: 2"), "{text}");
    for f in std::fs::read_dir(&content).unwrap() {
        verify(&pki.file("ca.pem"), &f.unwrap().path());
    }
    let files = cab_files(&cab);
    assert_digests_match(&files[0].1, &content);

    // The content certificate is the signer's DER, named by its upper-case SHA-1.
    let der = generator::read_cert_der(&pki.file("signer.pem")).unwrap();
    let name = format!("ContentCertificates\\{}.cer", generator::thumbprint(&der));
    assert_eq!(files[1], (name, der));
}

#[test]
fn committed_quickstart_is_what_the_generator_makes() {
    if !have("osslsigncode") {
        eprintln!("skipped: osslsigncode is not installed");
        return;
    }
    let qs = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    let committed_cab = qs.join("catalog/contoso-v3.cab");
    let committed = cab_files(&committed_cab);
    // The PKI that signed the committed files is the one whose signer is the shipped
    // content certificate.
    let cert_name = committed[1].0.clone();
    let pki = Pki::candidates()
        .into_iter()
        .find(|p| {
            let der = generator::read_cert_der(&p.file("signer.pem")).unwrap();
            cert_name == format!("ContentCertificates\\{}.cer", generator::thumbprint(&der))
        })
        .expect("the PKI that signed the quickstart is committed");
    verify(&pki.file("ca.pem"), &committed_cab);

    let dir = tempfile::tempdir().unwrap();
    let content = dir.path().join("content");
    let cab = dir.path().join("contoso-v3.cab");
    generator::run(&Options {
        format: generator::Format::V3,
        profile: Profile::Quickstart,
        seed: 1,
        out: cab.clone(),
        content_dir: Some(content.clone()),
        content_size: 4096,
        signer: Some(Signer {
            cert: pki.file("signer.pem"),
            key: pki.file("signer.key"),
            time: pki.sign_time(),
        }),
        content_certs: vec![pki.file("signer.pem")],
        unsigned_content: 0,
        uninstallable: 0,
        v2_copies: true,
        content_signer: None,
    })
    .unwrap();
    assert!(
        std::fs::read(&cab).unwrap() == std::fs::read(&committed_cab).unwrap(),
        "examples/quickstart is stale: run scripts/make-quickstart.sh and commit the result"
    );
    for f in std::fs::read_dir(&content).unwrap() {
        let f = f.unwrap();
        let theirs = std::fs::read(qs.join("content").join(f.file_name())).unwrap();
        assert!(
            std::fs::read(f.path()).unwrap() == theirs,
            "{:?} is stale",
            f.file_name()
        );
    }
    assert_digests_match(&committed[0].1, &qs.join("content"));
}
