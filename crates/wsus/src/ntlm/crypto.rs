//! NTLMv2 key and response computation (MS-NLMP §3.3.2), over RustCrypto MD4/MD5/HMAC.
//!
//! Only NTLMv2 is implemented: NTLMv1 and LM are disabled on any supported Windows
//! Server, and supctl must never be able to downgrade to them.

use hmac::{Hmac, KeyInit as _, Mac as _};
use md4::{Digest as _, Md4};
use md5::Md5;

type HmacMd5 = Hmac<Md5>;

/// UTF-16LE, the encoding of every NTLM string when NEGOTIATE_UNICODE is agreed.
pub fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

pub fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    let mut mac = HmacMd5::new_from_slice(key).expect("HMAC takes keys of any length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// NTOWFv1 = MD4(UTF-16LE(password)): the NT hash.
pub fn nt_hash(password: &str) -> [u8; 16] {
    Md4::digest(utf16le(password)).into()
}

/// NTOWFv2 = HMAC_MD5(NT hash, UTF-16LE(UPPER(user) + domain)).
pub fn ntowf_v2(password: &str, user: &str, domain: &str) -> [u8; 16] {
    let ident = utf16le(&(user.to_uppercase() + domain));
    hmac_md5(&nt_hash(password), &[&ident])
}

/// The NTLMv2 `temp` blob: header, timestamp, client challenge and the target info.
pub fn client_blob(timestamp: u64, client_challenge: &[u8; 8], target_info: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(28 + target_info.len() + 4);
    b.extend_from_slice(&[1, 1, 0, 0, 0, 0, 0, 0]);
    b.extend_from_slice(&timestamp.to_le_bytes());
    b.extend_from_slice(client_challenge);
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(target_info);
    b.extend_from_slice(&[0; 4]);
    b
}

/// The NTLMv2 response (`NTProofStr || temp`) and the session base key.
pub fn nt_response(
    ntowf: &[u8; 16],
    server_challenge: &[u8; 8],
    blob: &[u8],
) -> (Vec<u8>, [u8; 16]) {
    let proof = hmac_md5(ntowf, &[server_challenge, blob]);
    let session_base_key = hmac_md5(ntowf, &[&proof]);
    let mut resp = proof.to_vec();
    resp.extend_from_slice(blob);
    (resp, session_base_key)
}

/// LMv2 = HMAC_MD5(NTOWFv2, server || client challenge) || client challenge.
pub fn lm_response(ntowf: &[u8; 16], server_challenge: &[u8; 8], client: &[u8; 8]) -> Vec<u8> {
    let mut r = hmac_md5(ntowf, &[server_challenge, client]).to_vec();
    r.extend_from_slice(client);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MS-NLMP §4.2.1 common values and §4.2.4 NTLMv2 results.
    const SERVER_CHALLENGE: [u8; 8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
    const CLIENT_CHALLENGE: [u8; 8] = [0xaa; 8];

    /// §4.2.4: AV pairs NetBIOS domain "Domain", NetBIOS computer "Server", EOL.
    fn target_info() -> Vec<u8> {
        let mut t = vec![0x02, 0x00, 0x0c, 0x00];
        t.extend(utf16le("Domain"));
        t.extend([0x01, 0x00, 0x0c, 0x00]);
        t.extend(utf16le("Server"));
        t.extend([0, 0, 0, 0]);
        t
    }

    #[test]
    fn ms_nlmp_nt_hash() {
        assert_eq!(
            hex::encode(nt_hash("Password")),
            "a4f49c406510bdcab6824ee7c30fd852"
        );
    }

    #[test]
    fn ms_nlmp_ntlmv2_vectors() {
        let k = ntowf_v2("Password", "User", "Domain");
        assert_eq!(hex::encode(k), "0c868a403bfd7a93a3001ef22ef02e3f");
        assert_eq!(
            hex::encode(lm_response(&k, &SERVER_CHALLENGE, &CLIENT_CHALLENGE)),
            "86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa"
        );
        let blob = client_blob(0, &CLIENT_CHALLENGE, &target_info());
        let (resp, key) = nt_response(&k, &SERVER_CHALLENGE, &blob);
        assert_eq!(hex::encode(&resp[..16]), "68cd0ab851e51c96aabc927bebef6a1c");
        assert_eq!(hex::encode(key), "8de40ccadbc14a82f15cb0ad0de95ca3");
        assert_eq!(&resp[16..], &blob[..]);
    }
}
