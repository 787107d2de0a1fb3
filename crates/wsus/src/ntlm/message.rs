//! NTLM message encoding (MS-NLMP §2.2.1): NEGOTIATE, CHALLENGE, AUTHENTICATE.

use super::NtlmError;
use super::crypto::{client_blob, hmac_md5, lm_response, nt_response, ntowf_v2, utf16le};

const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";
const UNICODE: u32 = 0x0000_0001;
const REQUEST_TARGET: u32 = 0x0000_0004;
const NTLM: u32 = 0x0000_0200;
const ALWAYS_SIGN: u32 = 0x0000_8000;
const EXTENDED_SESSION_SECURITY: u32 = 0x0008_0000;
const TARGET_INFO: u32 = 0x0080_0000;
const NEGOTIATE_128: u32 = 0x2000_0000;
const NEGOTIATE_56: u32 = 0x8000_0000;
/// What supctl asks for: Unicode, NTLM with extended session security, no sealing.
pub(super) const FLAGS: u32 = UNICODE
    | REQUEST_TARGET
    | NTLM
    | ALWAYS_SIGN
    | EXTENDED_SESSION_SECURITY
    | NEGOTIATE_128
    | NEGOTIATE_56;
const AV_EOL: u16 = 0;
const AV_FLAGS: u16 = 6;
const AV_TIMESTAMP: u16 = 7;
/// MsvAvChannelBindings: MD5 of the TLS channel bindings (Extended Protection).
pub const AV_CHANNEL_BINDINGS: u16 = 0x000a;
/// MsvAvFlags bit: the AUTHENTICATE message carries a MIC.
const AV_FLAG_MIC: u32 = 0x2;
/// Offset of the MIC in AUTHENTICATE (after the Version field).
const MIC_OFFSET: usize = 72;
const AUTH_HEADER: usize = 88;

/// The account; `Debug` never shows the password.
#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    pub domain: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Credentials({}\\{}, password hidden)",
            self.domain, self.user
        )
    }
}

/// The type 1 message.
pub fn negotiate() -> Vec<u8> {
    let mut m = Vec::with_capacity(32);
    m.extend_from_slice(SIGNATURE);
    m.extend_from_slice(&1u32.to_le_bytes());
    m.extend_from_slice(&FLAGS.to_le_bytes());
    m.extend_from_slice(&[0; 16]); // empty domain and workstation fields
    m
}

/// The server's type 2 message, the parts the client needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub flags: u32,
    pub server_challenge: [u8; 8],
    pub target_info: Vec<u8>,
    /// `MsvAvTimestamp` when the server sent one; its presence means a MIC is expected.
    pub timestamp: Option<u64>,
}

fn field<'a>(m: &'a [u8], at: usize, what: &str) -> Result<&'a [u8], NtlmError> {
    let hdr = m
        .get(at..at + 8)
        .ok_or_else(|| NtlmError(format!("message too short for its {what} field")))?;
    let len = u16::from_le_bytes([hdr[0], hdr[1]]) as usize;
    let off = u32::from_le_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]) as usize;
    m.get(off..off.saturating_add(len))
        .ok_or_else(|| NtlmError(format!("the {what} field points outside the message")))
}

fn check_header(m: &[u8], kind: u32) -> Result<(), NtlmError> {
    if m.len() < 12 || &m[..8] != SIGNATURE {
        return Err(NtlmError("not an NTLMSSP message".into()));
    }
    let found = u32::from_le_bytes([m[8], m[9], m[10], m[11]]);
    if found != kind {
        return Err(NtlmError(format!(
            "expected NTLM message type {kind}, got {found}"
        )));
    }
    Ok(())
}

/// The AV pairs of a target info block, as (id, value); stops at MsvAvEOL.
fn av_pairs(mut t: &[u8]) -> Result<Vec<(u16, &[u8])>, NtlmError> {
    let mut out = Vec::new();
    while t.len() >= 4 {
        let id = u16::from_le_bytes([t[0], t[1]]);
        let len = u16::from_le_bytes([t[2], t[3]]) as usize;
        if id == AV_EOL {
            return Ok(out);
        }
        let v = t
            .get(4..4 + len)
            .ok_or_else(|| NtlmError("truncated target info".into()))?;
        out.push((id, v));
        t = &t[4 + len..];
    }
    Err(NtlmError("target info without MsvAvEOL".into()))
}

impl Challenge {
    /// Encodes a type 2 message the way IIS does (no target name, version zero): the
    /// server side, used by the test double and by round-trip tests.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut m = Vec::with_capacity(56 + self.target_info.len());
        m.extend_from_slice(SIGNATURE);
        m.extend_from_slice(&2u32.to_le_bytes());
        m.extend_from_slice(&[0, 0, 0, 0, 56, 0, 0, 0]); // empty target name
        m.extend_from_slice(&(self.flags | TARGET_INFO).to_le_bytes());
        m.extend_from_slice(&self.server_challenge);
        m.extend_from_slice(&[0; 8]);
        let len = self.target_info.len() as u16;
        m.extend_from_slice(&len.to_le_bytes());
        m.extend_from_slice(&len.to_le_bytes());
        m.extend_from_slice(&56u32.to_le_bytes());
        m.extend_from_slice(&[0; 8]); // version
        m.extend_from_slice(&self.target_info);
        m
    }

    pub fn parse(m: &[u8]) -> Result<Self, NtlmError> {
        check_header(m, 2)?;
        if m.len() < 48 {
            return Err(NtlmError("CHALLENGE message too short".into()));
        }
        let flags = u32::from_le_bytes([m[20], m[21], m[22], m[23]]);
        if flags & UNICODE == 0 {
            return Err(NtlmError("the server does not offer Unicode NTLM".into()));
        }
        let server_challenge = m[24..32].try_into().expect("8 bytes");
        let target_info = field(m, 40, "target info")?.to_vec();
        let timestamp = av_pairs(&target_info)?
            .into_iter()
            .find(|(id, v)| *id == AV_TIMESTAMP && v.len() == 8)
            .map(|(_, v)| u64::from_le_bytes(v.try_into().expect("8 bytes")));
        Ok(Challenge {
            flags,
            server_challenge,
            target_info,
            timestamp,
        })
    }
}

/// The type 3 message. `negotiate_msg` and `challenge_msg` are the exact bytes exchanged
/// (the MIC covers all three); `now` is a FILETIME used when the server sent no timestamp.
/// `channel_bindings` (over HTTPS: [`super::tls_channel_binding`] of the server's
/// certificate) is sent as `MsvAvChannelBindings`; `None` sends no such AV pair.
pub fn authenticate(
    creds: &Credentials,
    negotiate_msg: &[u8],
    challenge_msg: &[u8],
    client_challenge: [u8; 8],
    now: u64,
    channel_bindings: Option<[u8; 16]>,
) -> Result<Vec<u8>, NtlmError> {
    let ch = Challenge::parse(challenge_msg)?;
    let mic = ch.timestamp.is_some();
    // Echo the server's AV pairs; with a MIC, add MsvAvFlags saying so; then the channel
    // bindings. All before MsvAvEOL, inside the blob the NT proof (and so the MIC) covers.
    let mut info = Vec::with_capacity(ch.target_info.len() + 28);
    for (id, v) in av_pairs(&ch.target_info)? {
        if id != AV_FLAGS && id != AV_CHANNEL_BINDINGS {
            info.extend_from_slice(&id.to_le_bytes());
            info.extend_from_slice(&(v.len() as u16).to_le_bytes());
            info.extend_from_slice(v);
        }
    }
    if mic {
        info.extend_from_slice(&AV_FLAGS.to_le_bytes());
        info.extend_from_slice(&4u16.to_le_bytes());
        info.extend_from_slice(&AV_FLAG_MIC.to_le_bytes());
    }
    if let Some(cb) = channel_bindings {
        info.extend_from_slice(&AV_CHANNEL_BINDINGS.to_le_bytes());
        info.extend_from_slice(&16u16.to_le_bytes());
        info.extend_from_slice(&cb);
    }
    info.extend_from_slice(&[0; 4]);
    let key = ntowf_v2(&creds.password, &creds.user, &creds.domain);
    let blob = client_blob(ch.timestamp.unwrap_or(now), &client_challenge, &info);
    let (nt, session_key) = nt_response(&key, &ch.server_challenge, &blob);
    // With a timestamp the LMv2 response must be zeros (MS-NLMP §3.1.5.1.2).
    let lm = if mic {
        vec![0; 24]
    } else {
        lm_response(&key, &ch.server_challenge, &client_challenge)
    };
    let payload: [&[u8]; 5] = [
        &lm,
        &nt,
        &utf16le(&creds.domain),
        &utf16le(&creds.user),
        &utf16le(""),
    ];
    let mut m = Vec::with_capacity(AUTH_HEADER + payload.iter().map(|p| p.len()).sum::<usize>());
    m.extend_from_slice(SIGNATURE);
    m.extend_from_slice(&3u32.to_le_bytes());
    let mut offset = AUTH_HEADER;
    for p in payload {
        m.extend_from_slice(&(p.len() as u16).to_le_bytes());
        m.extend_from_slice(&(p.len() as u16).to_le_bytes());
        m.extend_from_slice(&(offset as u32).to_le_bytes());
        offset += p.len();
    }
    // Encrypted random session key: empty (no KEY_EXCH, nothing is sealed).
    m.extend_from_slice(&[0, 0, 0, 0]);
    m.extend_from_slice(&(offset as u32).to_le_bytes());
    m.extend_from_slice(&(FLAGS & ch.flags | UNICODE).to_le_bytes());
    m.extend_from_slice(&[0; 8]); // Version
    m.extend_from_slice(&[0; 16]); // MIC, filled below
    for p in payload {
        m.extend_from_slice(p);
    }
    if mic {
        let mac = hmac_md5(&session_key, &[negotiate_msg, challenge_msg, &m]);
        m[MIC_OFFSET..MIC_OFFSET + 16].copy_from_slice(&mac);
    }
    Ok(m)
}

/// A parsed type 3 message: what a server (the test double) needs to verify it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticate {
    pub user: String,
    pub domain: String,
    pub nt_response: Vec<u8>,
}

fn utf16_string(b: &[u8]) -> Result<String, NtlmError> {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16(&units).map_err(|_| NtlmError("invalid UTF-16 name".into()))
}

impl Authenticate {
    pub fn parse(m: &[u8]) -> Result<Self, NtlmError> {
        check_header(m, 3)?;
        Ok(Authenticate {
            nt_response: field(m, 20, "NT response")?.to_vec(),
            domain: utf16_string(field(m, 28, "domain")?)?,
            user: utf16_string(field(m, 36, "user")?)?,
        })
    }

    /// True when the NTLMv2 response was computed with `password` for `server_challenge`.
    pub fn verify(&self, password: &str, server_challenge: &[u8; 8]) -> bool {
        if self.nt_response.len() < 16 + 28 {
            return false;
        }
        let key = ntowf_v2(password, &self.user, &self.domain);
        let (expected, _) = nt_response(&key, server_challenge, &self.nt_response[16..]);
        expected[..16] == self.nt_response[..16]
    }

    /// The AV pairs the client echoed in its NTLMv2 blob (after the 16-byte proof and the
    /// 28-byte blob header), as (id, value), up to MsvAvEOL.
    pub fn av_pairs(&self) -> Result<Vec<(u16, Vec<u8>)>, NtlmError> {
        let info = self
            .nt_response
            .get(16 + 28..)
            .ok_or_else(|| NtlmError("the NT response is not an NTLMv2 response".into()))?;
        Ok(av_pairs(info)?
            .into_iter()
            .map(|(id, v)| (id, v.to_vec()))
            .collect())
    }

    /// The `MsvAvChannelBindings` value the client sent, if any.
    pub fn channel_bindings(&self) -> Result<Option<[u8; 16]>, NtlmError> {
        match self
            .av_pairs()?
            .into_iter()
            .find(|(id, _)| *id == AV_CHANNEL_BINDINGS)
        {
            None => Ok(None),
            Some((_, v)) => v
                .try_into()
                .map(Some)
                .map_err(|_| NtlmError("MsvAvChannelBindings is not 16 bytes".into())),
        }
    }
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
