//! Identities and digests shared by every module.
//!
//! They are newtypes so that a thumbprint can never be passed where an update id is
//! expected, and so that normalisation (case, separators) happens once, at the edge.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a textual identity was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("`{0}` is not a GUID (expected 8-4-4-4-12 hexadecimal digits)")]
    Guid(String),
    #[error(
        "`{0}` is not a certificate thumbprint (expected 40 hex digits for SHA-1 or 64 for SHA-256, spaces and colons allowed)"
    )]
    Thumbprint(String),
    #[error("`{0}` is not a {1}-byte digest in {2}")]
    Digest(String, usize, &'static str),
}

/// Checks the 8-4-4-4-12 GUID shape and returns it lower-cased, the form WSUS prints.
fn normalize_guid(s: &str) -> Result<String, IdError> {
    // Fast path for the canonical form the store and caches hold: 100,000 ids are read per
    // plan, and splitting and lower-casing each one showed in profiles.
    let b = s.as_bytes();
    let canonical = b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        });
    if canonical {
        return Ok(s.to_string());
    }
    let t = s.trim().trim_start_matches('{').trim_end_matches('}');
    let groups: Vec<&str> = t.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    let ok = groups.len() == 5
        && groups
            .iter()
            .zip(lens)
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()));
    if ok {
        Ok(t.to_ascii_lowercase())
    } else {
        Err(IdError::Guid(s.to_string()))
    }
}

/// True when `s` has the GUID shape (with or without braces).
pub fn is_guid(s: &str) -> bool {
    normalize_guid(s).is_ok()
}

macro_rules! guid_newtype {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Parses and normalises (lower case, no braces).
            pub fn parse(s: &str) -> Result<Self, IdError> {
                normalize_guid(s).map(Self)
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

guid_newtype!(
    /// An update's identity: the SDP `PackageID`, which WSUS uses as the UpdateID.
    UpdateId
);
guid_newtype!(
    /// A V3 catalog category's `Id`.
    CategoryId
);

/// A certificate thumbprint: the SHA-1 (40 hex) or SHA-256 (64 hex) of its DER, upper case,
/// as ConfigMgr shows it and as `ContentCertificates/` names files.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Thumbprint(String);

impl Thumbprint {
    /// Accepts the forms admins paste: any case, with spaces or colons between bytes.
    ///
    /// ```
    /// use supctl::ids::Thumbprint;
    /// let t = Thumbprint::parse("08:7c:28:25:88:2a:91:70:93:e4:85:ec:0d:40:0c:52:c4:ff:7c:7a").unwrap();
    /// assert_eq!(t.as_str(), "087C2825882A917093E485EC0D400C52C4FF7C7A");
    /// assert!(Thumbprint::parse("not a thumbprint").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let t: String = s
            .chars()
            .filter(|c| !c.is_whitespace() && *c != ':')
            .collect::<String>()
            .to_ascii_uppercase();
        if (t.len() == 40 || t.len() == 64) && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(t))
        } else {
            Err(IdError::Thumbprint(s.to_string()))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// SHA-1 thumbprints are 40 hex digits; SHA-256 ones 64.
    pub fn is_sha1(&self) -> bool {
        self.0.len() == 40
    }
}

impl From<&Sha1> for Thumbprint {
    fn from(d: &Sha1) -> Self {
        Thumbprint(d.to_hex())
    }
}
impl From<&Sha256> for Thumbprint {
    fn from(d: &Sha256) -> Self {
        Thumbprint(d.to_hex())
    }
}
impl FromStr for Thumbprint {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        Self::parse(s)
    }
}
impl fmt::Display for Thumbprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl Serialize for Thumbprint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}
impl<'de> Deserialize<'de> for Thumbprint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

macro_rules! digest_newtype {
    ($(#[$m:meta])* $name:ident, $len:expr) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            pub const LEN: usize = $len;
            /// Upper-case hex, the form WSUS uses in content file names.
            pub fn to_hex(&self) -> String {
                hex::encode_upper(self.0)
            }
            pub fn from_hex(s: &str) -> Result<Self, IdError> {
                let v = hex::decode(s.trim())
                    .map_err(|_| IdError::Digest(s.to_string(), $len, "hex"))?;
                Self::from_slice(&v).ok_or_else(|| IdError::Digest(s.to_string(), $len, "hex"))
            }
            /// SDP `OriginFile/@Digest` and `AdditionalDigest` are base64.
            pub fn from_base64(s: &str) -> Result<Self, IdError> {
                use base64::Engine as _;
                let v = base64::engine::general_purpose::STANDARD
                    .decode(s.trim())
                    .map_err(|_| IdError::Digest(s.to_string(), $len, "base64"))?;
                Self::from_slice(&v).ok_or_else(|| IdError::Digest(s.to_string(), $len, "base64"))
            }
            pub fn to_base64(&self) -> String {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.encode(self.0)
            }
            pub fn from_slice(b: &[u8]) -> Option<Self> {
                <[u8; $len]>::try_from(b).ok().map(Self)
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_hex())
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::from_hex(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

digest_newtype!(
    /// SHA-1 digest: the catalog's content digest and the certificate thumbprint ConfigMgr shows.
    Sha1,
    20
);
digest_newtype!(
    /// SHA-256 digest: computed by supctl for content (WSUS clients need it) and certificates.
    Sha256,
    32
);

impl Sha1 {
    pub fn of(data: &[u8]) -> Self {
        use sha1::Digest as _;
        Self(sha1::Sha1::digest(data).into())
    }
}
impl Sha256 {
    pub fn of(data: &[u8]) -> Self {
        use sha2::Digest as _;
        Self(sha2::Sha256::digest(data).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_normalises_separators_and_case() {
        let t = Thumbprint::parse("08 7c:28 25882A917093E485EC0D400C52C4FF7C7A").unwrap();
        assert_eq!(t.as_str(), "087C2825882A917093E485EC0D400C52C4FF7C7A");
        assert!(t.is_sha1());
        assert!(Thumbprint::parse(&"ab".repeat(32)).is_ok());
    }

    #[test]
    fn thumbprint_rejects_wrong_length_and_non_hex() {
        assert!(Thumbprint::parse("087C2825").is_err());
        assert!(Thumbprint::parse(&"G".repeat(40)).is_err());
        assert!(Thumbprint::parse(&"A".repeat(48)).is_err());
    }

    #[test]
    fn guid_accepts_braces_and_upper_case() {
        let id = UpdateId::parse("{C9C7DFAC-D9BC-4404-8A30-38D222BF01A7}").unwrap();
        assert_eq!(id.as_str(), "c9c7dfac-d9bc-4404-8a30-38d222bf01a7");
        assert!(UpdateId::parse("c9c7dfac-d9bc-4404-8a30-38d222bf01a").is_err());
        assert!(!is_guid("Lenovo/BIOS"));
    }

    #[test]
    fn sha1_roundtrips_base64_as_in_sdp() {
        let d = Sha1::from_base64("7sJyfjiOzAzMVjZ7FqJLS0hQsG0=").unwrap();
        assert_eq!(d.to_base64(), "7sJyfjiOzAzMVjZ7FqJLS0hQsG0=");
        assert_eq!(Sha1::from_hex(&d.to_hex()).unwrap(), d);
        assert!(Sha1::from_base64("AAAA").is_err());
    }
}
