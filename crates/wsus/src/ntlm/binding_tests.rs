use super::*;

/// The flattened struct for a 32-byte certificate hash of 0x11, laid out by hand: four
/// zero u32s (no addresses), the application data length 53 = 0x35, then the data. The
/// expected MD5 was computed outside the crate (Python `hashlib.md5`).
#[test]
fn channel_bindings_hash_matches_a_hand_built_vector() {
    let mut app = b"tls-server-end-point:".to_vec();
    app.extend([0x11; 32]);
    let mut flat = vec![0u8; 16];
    flat.extend([0x35, 0, 0, 0]);
    flat.extend(&app);
    assert_eq!(flat.len(), 16 + 4 + 53);
    let expected = "187b8ed16257050635bf9bbd99eb5e29";
    assert_eq!(hex::encode(Md5::digest(&flat)), expected);
    assert_eq!(hex::encode(channel_bindings_hash(&app)), expected);

    // A SHA-384-sized hash changes the length field (69 = 0x45).
    let mut app = b"tls-server-end-point:".to_vec();
    app.extend([0xab; 48]);
    assert_eq!(
        hex::encode(channel_bindings_hash(&app)),
        "6bf9f4251e8295d90e3bd96503d0dedc"
    );
}

fn certificate(alg: &'static rcgen::SignatureAlgorithm) -> Vec<u8> {
    let key = rcgen::KeyPair::generate_for(alg).unwrap();
    let params = rcgen::CertificateParams::new(vec!["wsus01.corp.example".to_string()]).unwrap();
    params.self_signed(&key).unwrap().der().to_vec()
}

#[test]
fn the_hash_follows_the_certificate_signature_algorithm() {
    let p256 = certificate(&rcgen::PKCS_ECDSA_P256_SHA256);
    assert_eq!(EndPointHash::for_certificate(&p256), EndPointHash::Sha256);
    let mut data = b"tls-server-end-point:".to_vec();
    data.extend(sha2::Sha256::digest(&p256));
    assert_eq!(tls_server_end_point(&p256), data);
    assert_eq!(tls_channel_binding(&p256), channel_bindings_hash(&data));

    let p384 = certificate(&rcgen::PKCS_ECDSA_P384_SHA384);
    assert_eq!(EndPointHash::for_certificate(&p384), EndPointHash::Sha384);
    let end_point = tls_server_end_point(&p384);
    assert_eq!(end_point.len(), 21 + 48);
    assert_eq!(&end_point[21..], &sha2::Sha384::digest(&p384)[..]);

    let ed = certificate(&rcgen::PKCS_ED25519);
    assert_eq!(EndPointHash::for_certificate(&ed), EndPointHash::Sha256);
    assert_eq!(
        EndPointHash::for_certificate(b"not a certificate"),
        EndPointHash::Sha256
    );
}

#[test]
fn different_certificates_bind_differently() {
    let a = certificate(&rcgen::PKCS_ECDSA_P256_SHA256);
    let b = certificate(&rcgen::PKCS_ECDSA_P256_SHA256);
    assert_ne!(tls_channel_binding(&a), tls_channel_binding(&b));
}
