//! Authenticode verification over the committed signed fixtures (tests/fixtures/signed, made by
//! scripts/make-signed-fixtures.sh; thumbprints recorded in its README from `openssl x509
//! -fingerprint`) and, when present, the real Lenovo/PatchMyPC signature in ../shared/fixtures.

use chrono::{DateTime, TimeZone, Utc};
use supctl::ids::{Sha1, Thumbprint};
use supctl::trust::{
    DigestAlgorithm, SignatureReport, SignatureStatus, TrustDecision, approve_line,
    cab_signature_span, evaluate, inspect_signature, verify_cab, verify_file, verify_msi,
    verify_pe, verify_pkcs7,
};

const SIGNER_SHA1: &str = "6A2AB2B74B4506CD94E01BA2BC1F31173049ACEE";
const SIGNER_SHA256: &str = "3FA5F6CDD82DAEBFD343A4AC355320611C0DDF4BE32E20A59688753A18683D6C";
const OTHER_SHA1: &str = "C50F99EA04A499209E52CDCEE647AEC2A1817364";
const EXPIRED_SHA1: &str = "0CA6AD8F14726D0A37EE77339E54514F5EE386A4";
const ECDSA_SHA1: &str = "C4C2D27CBFEB9DF486CEF2C27B128779FD1BB6B7";
const TSA_SHA1: &str = "4B98EC20699D3BDF202107754BA1137AAFC430B5";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/signed/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
}

/// A day inside the current signers' validity (2025-01-01 .. 2027-04-05).
fn now() -> DateTime<Utc> {
    at(2026, 1, 1)
}

fn tp(s: &str) -> Thumbprint {
    Thumbprint::parse(s).unwrap()
}

fn assert_valid(r: &SignatureReport) {
    assert_eq!(r.status, SignatureStatus::Valid, "reason: {:?}", r.reason);
    assert!(r.reason.is_none());
}

fn assert_invalid_with(r: &SignatureReport, needle: &str) {
    assert_eq!(r.status, SignatureStatus::Invalid);
    let reason = r.reason.as_deref().unwrap_or_default();
    assert!(
        reason.contains(needle),
        "reason {reason:?} lacks {needle:?}"
    );
    assert!(r.signers.is_empty());
}

#[test]
fn dual_signed_cab_reports_both_signers() {
    let r = verify_cab(&fixture("catalog-dual.cab"), now());
    assert_valid(&r);
    assert_eq!(r.signers.len(), 2);
    let (primary, nested) = (&r.signers[0], &r.signers[1]);
    assert_eq!(primary.digest_algorithm, "sha1");
    assert!(!primary.nested);
    assert_eq!(nested.digest_algorithm, "sha256");
    assert!(nested.nested);
    for s in &r.signers {
        assert_eq!(s.certificate.sha1.to_hex(), SIGNER_SHA1);
        assert_eq!(s.certificate.sha256.to_hex(), SIGNER_SHA256);
        assert_eq!(
            s.certificate.subject,
            "CN=supctl Test Code Signer, O=Example"
        );
        assert_eq!(s.certificate.not_after, at(2027, 4, 5));
        assert_eq!(s.timestamp, None);
        assert!(!s.expired);
    }
    assert!(matches!(
        evaluate(&r, &[tp(SIGNER_SHA1)], &[], false),
        TrustDecision::Trusted { .. }
    ));
    assert!(matches!(
        evaluate(&r, &[tp(SIGNER_SHA256)], &[], false),
        TrustDecision::Trusted { .. }
    ));
}

#[test]
fn signature_span_matches_the_header() {
    let d = fixture("catalog-dual.cab");
    let span = cab_signature_span(&d).unwrap().unwrap();
    assert_eq!(span.end, d.len());
    assert_eq!(
        span.start,
        u32::from_le_bytes(d[44..48].try_into().unwrap()) as usize
    );
    assert_eq!(d[span.start], 0x30, "the PKCS#7 starts with a SEQUENCE");
    assert_eq!(
        cab_signature_span(&fixture("catalog-unsigned.cab")).unwrap(),
        None
    );
}

#[test]
fn untimestamped_signature_expires_with_its_certificate() {
    let r = verify_cab(&fixture("catalog-dual.cab"), at(2028, 6, 1));
    assert_valid(&r);
    assert!(r.signers.iter().all(|s| s.expired));
    assert!(matches!(
        evaluate(&r, &[tp(SIGNER_SHA1)], &[], false),
        TrustDecision::Expired { .. }
    ));
}

#[test]
fn timestamped_signer_stays_valid_three_years_later() {
    let d = fixture("catalog-ts.cab");
    let three_years_later = at(2028, 6, 1); // signer expired 2027-04-05
    let r = verify_cab(&d, three_years_later);
    assert_valid(&r);
    let [s] = r.signers.as_slice() else {
        panic!("{:?}", r.signers)
    };
    assert_eq!(
        s.timestamp,
        Some(Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap())
    );
    assert!(!s.expired);
    assert_eq!(s.certificate.sha1.to_hex(), SIGNER_SHA1);
    assert_eq!(s.digest_algorithm, "sha256");
    assert!(matches!(
        evaluate(&r, &[tp(SIGNER_SHA1)], &[], false),
        TrustDecision::Trusted { .. }
    ));
    let info = inspect_signature(&d[cab_signature_span(&d).unwrap().unwrap()]).unwrap();
    assert_eq!(info.timestamps, 1);
}

#[test]
fn expired_signer_without_timestamp_is_rejected_unless_allowed() {
    let r = verify_cab(&fixture("catalog-expired.cab"), now());
    assert_valid(&r);
    let [s] = r.signers.as_slice() else {
        panic!("{:?}", r.signers)
    };
    assert!(s.expired);
    assert_eq!(s.timestamp, None);
    assert_eq!(s.certificate.sha1.to_hex(), EXPIRED_SHA1);
    match evaluate(&r, &[tp(EXPIRED_SHA1)], &[], false) {
        TrustDecision::Expired { signer } => {
            assert_eq!(signer.certificate.sha1.to_hex(), EXPIRED_SHA1);
            let reason = supctl::trust::expired_signer_reason(&signer);
            assert!(reason.contains("to 2022-01-01 and has expired"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        evaluate(&r, &[tp(EXPIRED_SHA1)], &[], true),
        TrustDecision::Trusted { .. }
    ));
}

#[test]
fn expired_signer_with_timestamp_inside_validity_is_not_expired() {
    let r = verify_cab(&fixture("catalog-expired-ts.cab"), now());
    assert_valid(&r);
    let [s] = r.signers.as_slice() else {
        panic!("{:?}", r.signers)
    };
    assert!(!s.expired);
    assert_eq!(
        s.timestamp,
        Some(Utc.with_ymd_and_hms(2021, 6, 1, 12, 0, 0).unwrap())
    );
    assert!(matches!(
        evaluate(&r, &[tp(EXPIRED_SHA1)], &[], false),
        TrustDecision::Trusted { .. }
    ));
}

#[test]
fn not_yet_valid_signer_is_invalid() {
    let r = verify_cab(&fixture("catalog-dual.cab"), at(2024, 6, 1));
    assert_invalid_with(&r, "not valid at");
}

#[test]
fn tampered_cab_is_a_digest_mismatch() {
    let r = verify_cab(&fixture("catalog-tampered.cab"), now());
    assert_invalid_with(&r, "file digest mismatch (sha1)");
    assert!(matches!(
        evaluate(&r, &[tp(SIGNER_SHA1)], &[], true),
        TrustDecision::Invalid { .. }
    ));
}

#[test]
fn truncated_signature_is_invalid() {
    let r = verify_cab(&fixture("catalog-truncated.cab"), now());
    assert_invalid_with(&r, "malformed PKCS#7");
    // Cut without fixing siglen: the header no longer adds up.
    let d = fixture("catalog-dual.cab");
    assert_invalid_with(&verify_cab(&d[..d.len() - 1], now()), "sigpos");
}

#[test]
fn unsigned_cab_is_unsigned_not_invalid() {
    let r = verify_cab(&fixture("catalog-unsigned.cab"), now());
    assert_eq!(r.status, SignatureStatus::Unsigned);
    assert!(r.reason.is_some());
    assert_eq!(
        evaluate(&r, &[tp(SIGNER_SHA1)], &[], true),
        TrustDecision::Unsigned
    );
}

#[test]
fn other_signer_is_untrusted_with_an_approve_line() {
    let r = verify_cab(&fixture("catalog-other.cab"), now());
    assert_valid(&r);
    match evaluate(&r, &[tp(SIGNER_SHA1)], &[], false) {
        TrustDecision::Untrusted { signers } => {
            assert_eq!(signers.len(), 1);
            assert_eq!(signers[0].certificate.sha1.to_hex(), OTHER_SHA1);
            assert_eq!(
                approve_line(&signers[0]),
                format!(
                    "signers = [\"{OTHER_SHA1}\"]  # CN=supctl Test Other Signer, O=Example, valid until 2027-04-05"
                )
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn blocked_signer_is_untrusted_even_when_approved() {
    let r = verify_cab(&fixture("catalog-dual.cab"), now());
    for blocked in [SIGNER_SHA1, SIGNER_SHA256] {
        assert!(matches!(
            evaluate(&r, &[tp(SIGNER_SHA1)], &[tp(blocked)], false),
            TrustDecision::Untrusted { .. }
        ));
    }
}

#[test]
fn ecdsa_p256_sha384_signature_verifies() {
    let r = verify_cab(&fixture("catalog-ecdsa.cab"), now());
    assert_valid(&r);
    assert_eq!(r.signers[0].certificate.sha1.to_hex(), ECDSA_SHA1);
    assert_eq!(r.signers[0].digest_algorithm, "sha384");
}

#[test]
fn spliced_signature_speaks_for_its_own_signer_and_is_checked_byte_for_byte() {
    // Splice the "other" signer's PKCS#7 onto the dual cab's body.
    let body = fixture("catalog-dual.cab");
    let other = fixture("catalog-other.cab");
    let (bs, os) = (
        cab_signature_span(&body).unwrap().unwrap(),
        cab_signature_span(&other).unwrap().unwrap(),
    );
    let mut spliced = body[..bs.start].to_vec();
    spliced.extend_from_slice(&other[os.clone()]);
    spliced[48..52].copy_from_slice(&(os.len() as u32).to_le_bytes());
    // Both cabs share the unsigned body, so the digest matches: the splice verifies, and is
    // the other signer's — proving signer identity comes from the signature, not the file.
    let r = verify_cab(&spliced, now());
    assert_valid(&r);
    assert_eq!(r.signers[0].certificate.sha1.to_hex(), OTHER_SHA1);
    // Flip the last byte of the DER (30 82 hi lo ...): the end of the signer's RSA signature
    // value, since this signature has no unsigned attributes. The zero padding after it is
    // not part of the PKCS#7.
    let p7 = &spliced[bs.start..];
    assert_eq!(p7[..2], [0x30, 0x82]);
    let der_len = 4 + u16::from_be_bytes([p7[2], p7[3]]) as usize;
    assert!(p7[der_len..].iter().all(|b| *b == 0));
    spliced[bs.start + der_len - 1] ^= 1;
    assert_invalid_with(&verify_cab(&spliced, now()), "does not verify");
}

#[test]
fn pe_signed_nested_and_unsigned() {
    let r = verify_pe(&fixture("pe-signed.exe"), now());
    assert_valid(&r);
    assert_eq!(r.signers.len(), 1);
    assert_eq!(r.signers[0].certificate.sha1.to_hex(), SIGNER_SHA1);
    assert_eq!(r.signers[0].digest_algorithm, "sha256");

    let r = verify_pe(&fixture("pe-nested.exe"), now());
    assert_valid(&r);
    let algs: Vec<(&str, bool)> = r
        .signers
        .iter()
        .map(|s| (s.digest_algorithm.as_str(), s.nested))
        .collect();
    assert_eq!(algs, [("sha256", false), ("sha1", true)]);

    let r = verify_pe(&fixture("pe-unsigned.exe"), now());
    assert_eq!(r.status, SignatureStatus::Unsigned);

    let mut tampered = fixture("pe-signed.exe");
    tampered[0x200] ^= 0xFF; // first byte of .text
    assert_invalid_with(
        &verify_pe(&tampered, now()),
        "file digest mismatch (sha256)",
    );
    // The checksum field is excluded from the digest.
    let mut checksum = fixture("pe-signed.exe");
    checksum[0x40 + 24 + 64] ^= 0xFF;
    assert_valid(&verify_pe(&checksum, now()));
}

#[test]
fn msi_signed_with_and_without_ex_and_unsigned() {
    for name in ["msi-signed.msi", "msi-signed-dse.msi"] {
        let r = verify_msi(&fixture(name), now());
        assert_valid(&r);
        assert_eq!(
            r.signers[0].certificate.sha1.to_hex(),
            SIGNER_SHA1,
            "{name}"
        );
    }
    let r = verify_msi(&fixture("msi-unsigned.msi"), now());
    assert_eq!(r.status, SignatureStatus::Unsigned);
}

#[test]
fn msi_payload_tampering_is_detected() {
    // Find the embedded payload text and change it in place (same length, same layout).
    let mut d = fixture("msi-signed.msi");
    let needle = b"Test Product";
    let pos = d
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("product name in the string pool");
    d[pos] = b'B';
    assert_invalid_with(&verify_msi(&d, now()), "file digest mismatch (sha256)");
}

#[test]
fn verify_file_sniffs_the_container() {
    assert_valid(&verify_file(&fixture("catalog-dual.cab"), now()));
    assert_valid(&verify_file(&fixture("pe-signed.exe"), now()));
    assert_valid(&verify_file(&fixture("msi-signed-dse.msi"), now()));
    let r = verify_file(b"#!/bin/sh\necho hi\n", now());
    assert_eq!(r.status, SignatureStatus::Unsigned);
    assert!(r.reason.unwrap().contains("not a cabinet"));
    assert_eq!(verify_file(b"", now()).status, SignatureStatus::Unsigned);
}

#[test]
fn reports_serialize_with_lowercase_status() {
    let r = verify_cab(&fixture("catalog-ts.cab"), now());
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["status"], "valid");
    assert_eq!(v["signers"][0]["certificate"]["sha1"], SIGNER_SHA1);
    assert_eq!(v["signers"][0]["timestamp"], "2025-06-01T12:00:00Z");
}

#[test]
fn tsa_certificate_is_not_a_code_signer() {
    // The TSA's thumbprint never appears as a signer: it only vouches for the time.
    let r = verify_cab(&fixture("catalog-ts.cab"), now());
    assert!(
        r.signers
            .iter()
            .all(|s| s.certificate.sha1.to_hex() != TSA_SHA1)
    );
}

/// Conformance with a real signature made by Windows tooling (authenticode.md §8 expected values).
#[test]
fn lenovo_patchmypc_signature_conformance() {
    let rel = "lenovo_v3_repack/cab_signature_selfsigned_signtool.p7b";
    let Some(path) = crate::support::shared_fixture(rel) else {
        return;
    };
    let p7 = std::fs::read(path).unwrap();
    let info = inspect_signature(&p7).unwrap();
    assert_eq!(info.data_type, "1.3.6.1.4.1.311.2.1.28");
    assert_eq!(info.digest_algorithm, "sha1");
    assert_eq!(info.file_digest, "85639F93F633B6E07D0A6673EE44C61E78FEDC2F");
    assert_eq!(
        info.message_digest,
        "05CF01BD5986FCE633C52A6C2E24D703838BF2A0"
    );
    assert_eq!(info.certificates, 1);
    assert_eq!(info.timestamps, 0);
    assert_eq!(info.signer.subject, "CN=PatchMyPC Service");
    assert_eq!(
        info.signer.sha1.to_hex(),
        "B2A268F26023FDEE634469FABB1E17D889C3824E"
    );

    // Full verification against the documented CAB digest: messageDigest, the signer's RSA
    // signature over the original signed attributes, validity (2020-03-12 .. 2025-03-12).
    let digest = Sha1::from_hex("85639F93F633B6E07D0A6673EE44C61E78FEDC2F").unwrap();
    let cab_digest = |alg: DigestAlgorithm| {
        assert_eq!(alg, DigestAlgorithm::Sha1);
        Ok(digest.0.to_vec())
    };
    let r = verify_pkcs7(&p7, &cab_digest, at(2020, 6, 1));
    assert_valid(&r);
    assert_eq!(
        r.signers[0].certificate.sha1.to_hex(),
        info.signer.sha1.to_hex()
    );
    assert!(!r.signers[0].expired);
    // Three days' worth of wrong digest: the mismatch is reported, not ignored.
    let wrong = |_: DigestAlgorithm| Ok(vec![0u8; 20]);
    assert_invalid_with(
        &verify_pkcs7(&p7, &wrong, at(2020, 6, 1)),
        "file digest mismatch",
    );
    // Expired today, no timestamp.
    let r = verify_pkcs7(&p7, &cab_digest, at(2026, 1, 1));
    assert!(r.signers[0].expired);
}

#[test]
fn several_nested_signatures_in_one_attribute_are_all_verified() {
    let r = verify_cab(&fixture("catalog-triple.cab"), now());
    assert_valid(&r);
    let algs: Vec<(&str, bool)> = r
        .signers
        .iter()
        .map(|s| (s.digest_algorithm.as_str(), s.nested))
        .collect();
    assert_eq!(algs, [("sha1", false), ("sha256", true), ("sha384", true)]);
}

#[test]
fn legacy_countersignature_found_by_key_identifier_timestamps_the_signer() {
    let d = fixture("catalog-countersigned.cab");
    let r = verify_cab(&d, now());
    assert_valid(&r);
    let [s] = r.signers.as_slice() else {
        panic!("{:?}", r.signers)
    };
    assert_eq!(s.certificate.sha1.to_hex(), EXPIRED_SHA1);
    assert_eq!(
        s.timestamp,
        Some(Utc.with_ymd_and_hms(2021, 6, 1, 12, 0, 0).unwrap())
    );
    assert!(!s.expired);

    // The countersignature's own RSA signature is the last 256 bytes of the PKCS#7.
    let mut bad = d.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_invalid_with(
        &verify_cab(&bad, now()),
        "countersignature timestamp does not verify",
    );
}

#[test]
fn tampered_timestamp_token_is_invalid_not_ignored() {
    let mut d = fixture("catalog-ts.cab");
    let gen_time = b"20250601120000Z";
    let pos = d
        .windows(gen_time.len())
        .position(|w| w == gen_time)
        .expect("TSTInfo genTime");
    d[pos + 3] = b'4'; // 2024: the token's messageDigest no longer matches
    assert_invalid_with(&verify_cab(&d, now()), "RFC 3161 timestamp does not verify");
}

#[test]
fn certificate_without_code_signing_eku_cannot_sign() {
    let r = verify_cab(&fixture("catalog-wrong-eku.cab"), now());
    assert_invalid_with(&r, "lacks the codeSigning extended key usage");
}

/// Cross-check with an independent parser: the `authenticode` crate must read the same file
/// digest from every signed CAB fixture as supctl's own DER walk.
#[test]
fn own_parser_agrees_with_the_authenticode_crate() {
    for name in [
        "catalog-dual.cab",
        "catalog-triple.cab",
        "catalog-ts.cab",
        "catalog-expired.cab",
        "catalog-countersigned.cab",
        "catalog-ecdsa.cab",
    ] {
        let d = fixture(name);
        let p7 = &d[cab_signature_span(&d).unwrap().unwrap()];
        let theirs = authenticode::AuthenticodeSignature::from_bytes(p7).unwrap();
        let ours = inspect_signature(p7).unwrap();
        assert_eq!(
            ours.file_digest,
            hex::encode_upper(theirs.digest()),
            "{name}"
        );
        assert_eq!(ours.data_type, "1.3.6.1.4.1.311.2.1.25", "{name}");
    }
}
