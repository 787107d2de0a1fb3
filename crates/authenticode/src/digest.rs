//! The digest algorithms Authenticode uses, and one hasher over aws-lc-rs for all containers.
//!
//! aws-lc-rs is used instead of the RustCrypto hashers so that container digests, signature
//! verification and the `messageDigest` checks share one implementation (and one version).

use aws_lc_rs::digest;

use super::AuthenticodeError;

pub(crate) const OID_SHA1: &str = "1.3.14.3.2.26";
pub(crate) const OID_SHA256: &str = "2.16.840.1.101.3.4.2.1";
pub(crate) const OID_SHA384: &str = "2.16.840.1.101.3.4.2.2";

/// A digest algorithm allowed in a signature (authenticode.md §6.2): SHA-1 for older vendors,
/// SHA-256 and SHA-384. MD5 and anything else is rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    Sha1,
    Sha256,
    Sha384,
}

impl DigestAlgorithm {
    /// Maps an AlgorithmIdentifier OID; unknown or weak algorithms are an error.
    pub fn from_oid(oid: &str) -> Result<Self, AuthenticodeError> {
        match oid {
            OID_SHA1 => Ok(Self::Sha1),
            OID_SHA256 => Ok(Self::Sha256),
            OID_SHA384 => Ok(Self::Sha384),
            other => Err(AuthenticodeError::UnsupportedDigest(other.to_string())),
        }
    }

    /// The lower-case name reports use ("sha1" | "sha256" | "sha384").
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
        }
    }

    pub fn output_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
        }
    }

    fn algorithm(self) -> &'static digest::Algorithm {
        match self {
            Self::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            Self::Sha256 => &digest::SHA256,
            Self::Sha384 => &digest::SHA384,
        }
    }

    /// Starts an incremental hash (containers are hashed range by range).
    pub fn hasher(self) -> Hasher {
        Hasher(digest::Context::new(self.algorithm()))
    }

    /// One-shot hash.
    pub fn hash(self, data: &[u8]) -> Vec<u8> {
        digest::digest(self.algorithm(), data).as_ref().to_vec()
    }
}

/// Incremental hasher returned by [`DigestAlgorithm::hasher`].
pub struct Hasher(digest::Context);

impl Hasher {
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    pub fn finish(self) -> Vec<u8> {
        self.0.finish().as_ref().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        assert_eq!(
            hex::encode(DigestAlgorithm::Sha1.hash(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        let mut h = DigestAlgorithm::Sha256.hasher();
        h.update(b"a");
        h.update(b"bc");
        assert_eq!(
            hex::encode(h.finish()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(DigestAlgorithm::Sha384.hash(b"").len(), 48);
    }

    #[test]
    fn rejects_md5() {
        assert!(DigestAlgorithm::from_oid("1.2.840.113549.2.5").is_err());
        assert_eq!(
            DigestAlgorithm::from_oid(OID_SHA256).unwrap(),
            DigestAlgorithm::Sha256
        );
    }
}
