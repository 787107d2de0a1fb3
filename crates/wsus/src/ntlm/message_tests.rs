use super::*;
use crate::ntlm::crypto::utf16le;

fn creds() -> Credentials {
    Credentials {
        user: "User".into(),
        domain: "Domain".into(),
        password: "Password".into(),
    }
}

fn target_info(timestamp: Option<u64>) -> Vec<u8> {
    let mut t = vec![0x02, 0x00, 0x0c, 0x00];
    t.extend(utf16le("Domain"));
    t.extend([0x01, 0x00, 0x0c, 0x00]);
    t.extend(utf16le("Server"));
    if let Some(ts) = timestamp {
        t.extend([0x07, 0x00, 0x08, 0x00]);
        t.extend(ts.to_le_bytes());
    }
    t.extend([0, 0, 0, 0]);
    t
}

fn challenge(timestamp: Option<u64>) -> Challenge {
    Challenge {
        flags: FLAGS | TARGET_INFO,
        server_challenge: [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef],
        target_info: target_info(timestamp),
        timestamp,
    }
}

#[test]
fn negotiate_is_a_type_1_message() {
    let m = negotiate();
    assert_eq!(&m[..12], b"NTLMSSP\0\x01\0\0\0");
    assert_eq!(u32::from_le_bytes(m[12..16].try_into().unwrap()), FLAGS);
}

#[test]
fn challenge_round_trips_and_rejects_garbage() {
    let c = challenge(Some(42));
    assert_eq!(Challenge::parse(&c.to_bytes()).unwrap(), c);
    assert!(Challenge::parse(b"NTLMSSP\0\x03\0\0\0").is_err());
    assert!(Challenge::parse(b"garbage").is_err());
    let mut short = c.to_bytes();
    short.truncate(60);
    assert!(Challenge::parse(&short).unwrap_err().0.contains("outside"));
}

/// Without a server timestamp the type 3 message reproduces the MS-NLMP §4.2.4 values.
#[test]
fn authenticate_matches_the_ms_nlmp_vectors() {
    let c = challenge(None).to_bytes();
    let m = authenticate(&creds(), &negotiate(), &c, [0xaa; 8], 0, None).unwrap();
    let a = Authenticate::parse(&m).unwrap();
    assert_eq!((a.user.as_str(), a.domain.as_str()), ("User", "Domain"));
    assert_eq!(
        hex::encode(&a.nt_response[..16]),
        "68cd0ab851e51c96aabc927bebef6a1c"
    );
    assert!(a.verify("Password", &challenge(None).server_challenge));
    assert!(!a.verify("password", &challenge(None).server_challenge));
    assert!(!a.verify("Password", &[0; 8]));
    assert_eq!(&m[72..88], &[0; 16], "no MIC without a server timestamp");
}

#[test]
fn with_a_server_timestamp_a_mic_is_sent() {
    let c = challenge(Some(0x01d9_0000_0000_0000)).to_bytes();
    let n = negotiate();
    let m = authenticate(&creds(), &n, &c, [0x11; 8], 5, None).unwrap();
    let a = Authenticate::parse(&m).unwrap();
    assert!(a.verify("Password", &challenge(None).server_challenge));
    // The blob echoes the server's timestamp, not the local clock.
    assert_eq!(
        &a.nt_response[24..32],
        &0x01d9_0000_0000_0000u64.to_le_bytes()
    );
    assert_ne!(&m[72..88], &[0; 16]);
    // The MIC is the HMAC of all three messages under the session key.
    let key = crate::ntlm::crypto::ntowf_v2("Password", "User", "Domain");
    let proof = &a.nt_response[..16];
    let session = hmac_md5(&key, &[proof]);
    let mut zeroed = m.clone();
    zeroed[72..88].fill(0);
    assert_eq!(hmac_md5(&session, &[&n, &c, &zeroed]), m[72..88]);
}

/// Over HTTPS the blob carries MsvAvChannelBindings after MsvAvFlags and before MsvAvEOL;
/// the proof and the MIC cover it, so it cannot be swapped afterwards.
#[test]
fn channel_bindings_ride_in_the_blob_under_the_mic() {
    let cb = [0x5c; 16];
    let c = challenge(Some(0x01d9_0000_0000_0000)).to_bytes();
    let n = negotiate();
    let m = authenticate(&creds(), &n, &c, [0x22; 8], 5, Some(cb)).unwrap();
    let a = Authenticate::parse(&m).unwrap();
    assert!(a.verify("Password", &challenge(None).server_challenge));
    assert_eq!(a.channel_bindings().unwrap(), Some(cb));
    let ids: Vec<u16> = a.av_pairs().unwrap().iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [2, 1, AV_TIMESTAMP, AV_FLAGS, AV_CHANNEL_BINDINGS]);
    let flags = &a.av_pairs().unwrap()[3].1;
    assert_eq!(flags, &AV_FLAG_MIC.to_le_bytes());
    // The target info ends with MsvAvEOL and the blob's 4 zero bytes.
    assert_eq!(&a.nt_response[a.nt_response.len() - 8..], &[0; 8]);
    // MIC over all three messages.
    let key = crate::ntlm::crypto::ntowf_v2("Password", "User", "Domain");
    let session = hmac_md5(&key, &[&a.nt_response[..16]]);
    let mut zeroed = m.clone();
    zeroed[72..88].fill(0);
    assert_eq!(hmac_md5(&session, &[&n, &c, &zeroed]), m[72..88]);
    // A binding changed in transit breaks the NTLMv2 proof.
    let at = m.windows(16).position(|w| w == cb).unwrap();
    let mut tampered = m.clone();
    tampered[at] ^= 1;
    let t = Authenticate::parse(&tampered).unwrap();
    assert_ne!(t.channel_bindings().unwrap(), Some(cb));
    assert!(!t.verify("Password", &challenge(None).server_challenge));
}

#[test]
fn without_a_channel_there_is_no_binding_pair() {
    let c = challenge(Some(0x01d9_0000_0000_0000)).to_bytes();
    let m = authenticate(&creds(), &negotiate(), &c, [0x22; 8], 5, None).unwrap();
    let a = Authenticate::parse(&m).unwrap();
    assert_eq!(a.channel_bindings().unwrap(), None);
    assert!(
        a.av_pairs()
            .unwrap()
            .iter()
            .all(|(id, _)| *id != AV_CHANNEL_BINDINGS)
    );
    // An NTLMv1-sized response has no blob to read.
    let short = Authenticate {
        nt_response: vec![0; 24],
        ..a
    };
    assert!(short.av_pairs().is_err());
}

#[test]
fn credentials_debug_hides_the_password() {
    let s = format!("{:?}", creds());
    assert!(!s.contains("Password"), "{s}");
    assert!(s.contains("Domain\\User"));
}
