//! supctl's vocabulary of identities: update and category GUIDs (held as their 128 bits),
//! certificate thumbprints, SHA-1/SHA-256 digests, and [`text_newtype!`], the one macro
//! every textual identity of the workspace is made with (supctl's catalog keys, addresses,
//! plan and lock ids, fingerprints use it too).
//!
//! A leaf crate that imports nothing from supctl, so the other leaf crates (Authenticode,
//! the WSUS client) can speak of the same ids without depending on the product. They are
//! newtypes so that a thumbprint can never be passed where an update id is expected, and so
//! that normalisation (case, separators) happens once, at the edge.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[doc(hidden)]
pub use serde as __serde;

/// A newtype over shared text (`Arc<str>`) whose every value passed `$check`: `parse`,
/// `as_str`, `FromStr`, `Display`, and serde as a plain string (deserializing checks too).
/// Shared, because these names are cloned far more often than made: every stored update
/// carries its catalog's key, and a clone is then a count, not an allocation.
///
/// `$check` is `fn(&str) -> Result<String, $err>` and returns the canonical spelling (GUIDs
/// lower-cased, say), so normalisation happens once, where the text enters.
#[macro_export]
macro_rules! text_newtype {
    ($(#[$m:meta])* $name:ident, $err:ty, $check:expr) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(::std::sync::Arc<str>);

        impl $name {
            /// Validates (and normalises) the text; see the type's documentation.
            pub fn parse(s: &str) -> ::std::result::Result<Self, $err> {
                let check: fn(&str) -> ::std::result::Result<String, $err> = $check;
                check(s).map(|t| Self(t.into()))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl ::std::str::FromStr for $name {
            type Err = $err;
            fn from_str(s: &str) -> ::std::result::Result<Self, $err> {
                Self::parse(s)
            }
        }
        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl $crate::__serde::Serialize for $name {
            fn serialize<S: $crate::__serde::Serializer>(
                &self,
                s: S,
            ) -> ::std::result::Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl<'de> $crate::__serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::__serde::Deserializer<'de>>(
                d: D,
            ) -> ::std::result::Result<Self, D::Error> {
                let s = <String as $crate::__serde::Deserialize>::deserialize(d)?;
                Self::parse(&s).map_err(<D::Error as $crate::__serde::de::Error>::custom)
            }
        }
    };
}

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

/// True when `s` has the GUID shape (with or without braces).
pub fn is_guid(s: &str) -> bool {
    guid_bits(s).is_some()
}

/// A GUID held as its 128 bits: `Copy`, 16 bytes to hold, one comparison to order, where
/// the text form cost 60 bytes and a heap allocation per id, and profiles of a 100,000-update
/// plan showed B-tree inserts comparing those strings through pointers. It still reads and
/// writes as text (serde, `Display`, `FromStr`), in the lower-case 8-4-4-4-12 form WSUS
/// prints, so plans, locks and the store are unchanged; ordering by the bits is the order of
/// that text, because its hexadecimal digits are read most significant first.
macro_rules! guid_newtype {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(u128);

        impl $name {
            /// Accepts braces and any case; see the type's documentation.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                guid_bits(s).map(Self).ok_or_else(|| IdError::Guid(s.to_string()))
            }
            /// The canonical text, on the stack.
            pub fn as_str(&self) -> GuidText {
                GuidText::of(self.0)
            }
            /// The id's 128 bits, its hexadecimal digits read most significant first.
            pub fn bits(&self) -> u128 {
                self.0
            }
            /// The id whose [`bits`](Self::bits) these are.
            pub fn from_bits(bits: u128) -> Self {
                Self(bits)
            }
        }
        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.as_str())
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), &*self.as_str())
            }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a GUID")
                    }
                    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<$name, E> {
                        $name::parse(s).map_err(E::custom)
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}

/// The bits of a GUID in the 8-4-4-4-12 shape, with or without braces, in any case.
fn guid_bits(s: &str) -> Option<u128> {
    let t = s.trim().trim_start_matches('{').trim_end_matches('}');
    let b = t.as_bytes();
    if b.len() != 36 {
        return None;
    }
    let mut bits = 0u128;
    for (i, &c) in b.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if c != b'-' {
                return None;
            }
            continue;
        }
        bits = bits << 4 | u128::from(char::from(c).to_digit(16)?);
    }
    Some(bits)
}

/// A GUID's canonical text on the stack: what [`UpdateId::as_str`] gives, usable as a
/// `&str` without an allocation.
#[derive(Clone, Copy)]
pub struct GuidText([u8; 36]);

impl GuidText {
    fn of(bits: u128) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [b'-'; 36];
        let mut nibble = 0;
        for (i, slot) in out.iter_mut().enumerate() {
            if matches!(i, 8 | 13 | 18 | 23) {
                continue;
            }
            *slot = HEX[(bits >> (124 - 4 * nibble)) as usize & 0xf];
            nibble += 1;
        }
        Self(out)
    }
}

impl std::ops::Deref for GuidText {
    type Target = str;
    fn deref(&self) -> &str {
        // Only ASCII hex digits and dashes are ever written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl AsRef<str> for GuidText {
    fn as_ref(&self) -> &str {
        self
    }
}

impl fmt::Display for GuidText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

impl fmt::Debug for GuidText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(feature = "sql")]
impl rusqlite::ToSql for GuidText {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(rusqlite::types::ToSqlOutput::Borrowed(
            rusqlite::types::ValueRef::Text(&self.0),
        ))
    }
}

impl PartialEq<&str> for GuidText {
    fn eq(&self, other: &&str) -> bool {
        &**self == *other
    }
}

guid_newtype!(
    /// An update's identity: the SDP `PackageID`, which WSUS uses as the UpdateID. Parsing
    /// accepts braces and any case and keeps the lower-case form WSUS prints.
    UpdateId
);

guid_newtype!(
    /// A V3 catalog category's `Id` (a GUID, as [`UpdateId`]).
    CategoryId
);

text_newtype!(
    /// A certificate thumbprint: the SHA-1 (40 hex) or SHA-256 (64 hex) of its DER, upper
    /// case, as ConfigMgr shows it and as `ContentCertificates/` names files. Parsing accepts
    /// the forms admins paste: any case, with spaces or colons between bytes.
    ///
    /// ```
    /// use supctl_ids::Thumbprint;
    /// let t = Thumbprint::parse("08:7c:28:25:88:2a:91:70:93:e4:85:ec:0d:40:0c:52:c4:ff:7c:7a").unwrap();
    /// assert_eq!(t.as_str(), "087C2825882A917093E485EC0D400C52C4FF7C7A");
    /// assert!(Thumbprint::parse("not a thumbprint").is_err());
    /// ```
    Thumbprint,
    IdError,
    normalize_thumbprint
);

fn normalize_thumbprint(s: &str) -> Result<String, IdError> {
    let t: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect::<String>()
        .to_ascii_uppercase();
    if (t.len() == 40 || t.len() == 64) && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(t)
    } else {
        Err(IdError::Thumbprint(s.to_string()))
    }
}

impl Thumbprint {
    /// SHA-1 thumbprints are 40 hex digits; SHA-256 ones 64.
    pub fn is_sha1(&self) -> bool {
        self.0.len() == 40
    }
}

impl From<&Sha1> for Thumbprint {
    fn from(d: &Sha1) -> Self {
        Thumbprint(d.to_hex().into())
    }
}
impl From<&Sha256> for Thumbprint {
    fn from(d: &Sha256) -> Self {
        Thumbprint(d.to_hex().into())
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
        assert_eq!(id.bits(), 0xc9c7dfac_d9bc_4404_8a30_38d222bf01a7);
        assert_eq!(UpdateId::from_bits(id.bits()), id);
        let low = UpdateId::parse("00000000-0000-0000-0000-00000000000a").unwrap();
        assert_eq!(
            UpdateId::from_bits(low.bits()),
            low,
            "leading zeros are kept"
        );
        assert_eq!(id.as_str(), "c9c7dfac-d9bc-4404-8a30-38d222bf01a7");
        assert!(UpdateId::parse("c9c7dfac-d9bc-4404-8a30-38d222bf01a").is_err());
        assert!(!is_guid("Lenovo/BIOS"));
    }

    #[test]
    fn guid_order_is_the_order_of_its_text() {
        let texts = [
            "00000000-0000-0000-0000-000000000000",
            "0000000a-0000-0000-0000-000000000000",
            "9fffffff-ffff-ffff-ffff-ffffffffffff",
            "a0000000-0000-0000-0000-000000000000",
            "c9c7dfac-d9bc-4404-8a30-38d222bf01a7",
            "c9c7dfac-d9bc-4404-8a30-38d222bf01a8",
            "ffffffff-ffff-ffff-ffff-ffffffffffff",
        ];
        let ids: Vec<UpdateId> = texts.iter().map(|t| UpdateId::parse(t).unwrap()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        for (id, t) in ids.iter().zip(texts) {
            assert_eq!(id.as_str(), t);
            assert_eq!(id.to_string(), t);
            assert_eq!(format!("{id:?}"), format!("UpdateId({t:?})"));
        }
        let json = serde_json::to_string(&ids[4]).unwrap();
        assert_eq!(json, "\"c9c7dfac-d9bc-4404-8a30-38d222bf01a7\"");
        assert_eq!(serde_json::from_str::<UpdateId>(&json).unwrap(), ids[4]);
        assert!(serde_json::from_str::<UpdateId>("\"not-a-guid\"").is_err());
        for bad in [
            "c9c7dfac-d9bc-4404-8a30_38d222bf01a7",
            "c9c7dfacd9bc44048a3038d222bf01a7",
            "c9c7dfac-d9bc-4404-8a30-38d222bf01ag",
            "",
        ] {
            assert!(UpdateId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sha1_roundtrips_base64_as_in_sdp() {
        let d = Sha1::from_base64("7sJyfjiOzAzMVjZ7FqJLS0hQsG0=").unwrap();
        assert_eq!(d.to_base64(), "7sJyfjiOzAzMVjZ7FqJLS0hQsG0=");
        assert_eq!(Sha1::from_hex(&d.to_hex()).unwrap(), d);
        assert!(Sha1::from_base64("AAAA").is_err());
    }
}
