//! Extended Protection for Authentication: the TLS channel binding an NTLM AUTHENTICATE
//! message carries over HTTPS (MS-NLMP §3.1.5.1.2 `MsvAvChannelBindings`).
//!
//! The binding is `tls-server-end-point` (RFC 5929 §4): the hash of the server's
//! end-entity certificate, with SHA-256 when the certificate is signed with MD5, SHA-1 or
//! SHA-256, otherwise with the hash of its signature algorithm (SHA-224/384/512, RSA-PSS
//! read from its parameters). Algorithms that name no hash (Ed25519) and certificates that
//! do not parse get SHA-256, what Windows uses. The AV pair value is the MD5 of the
//! flattened `gss_channel_bindings_struct` (RFC 2744 §3.11) with empty initiator and
//! acceptor addresses and that application data.

use md5::{Digest as _, Md5};
use x509_parser::signature_algorithm::SignatureAlgorithm;

/// The prefix of `tls-server-end-point` application data (RFC 5929 §4.1).
pub const TLS_SERVER_END_POINT: &[u8] = b"tls-server-end-point:";

/// The hash algorithm RFC 5929 picks for a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndPointHash {
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl EndPointHash {
    /// The hash for a certificate (DER), from its signature algorithm.
    pub fn for_certificate(der: &[u8]) -> Self {
        let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
            return EndPointHash::Sha256;
        };
        let alg = &cert.signature_algorithm;
        let hash_oid = match SignatureAlgorithm::try_from(alg) {
            Ok(SignatureAlgorithm::RSASSA_PSS(p)) => p.hash_algorithm_oid().to_id_string(),
            _ => alg.algorithm.to_id_string(),
        };
        match hash_oid.as_str() {
            // sha224WithRSAEncryption, ecdsa-with-SHA224, id-sha224
            "1.2.840.113549.1.1.14" | "1.2.840.10045.4.3.1" | "2.16.840.1.101.3.4.2.4" => {
                EndPointHash::Sha224
            }
            // sha384WithRSAEncryption, ecdsa-with-SHA384, id-sha384
            "1.2.840.113549.1.1.12" | "1.2.840.10045.4.3.3" | "2.16.840.1.101.3.4.2.2" => {
                EndPointHash::Sha384
            }
            // sha512WithRSAEncryption, ecdsa-with-SHA512, id-sha512
            "1.2.840.113549.1.1.13" | "1.2.840.10045.4.3.4" | "2.16.840.1.101.3.4.2.3" => {
                EndPointHash::Sha512
            }
            _ => EndPointHash::Sha256,
        }
    }

    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            EndPointHash::Sha224 => sha2::Sha224::digest(data).to_vec(),
            EndPointHash::Sha256 => sha2::Sha256::digest(data).to_vec(),
            EndPointHash::Sha384 => sha2::Sha384::digest(data).to_vec(),
            EndPointHash::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }
}

/// `tls-server-end-point:` followed by the certificate's hash: the channel binding data.
pub fn tls_server_end_point(cert_der: &[u8]) -> Vec<u8> {
    let mut data = TLS_SERVER_END_POINT.to_vec();
    data.extend(EndPointHash::for_certificate(cert_der).digest(cert_der));
    data
}

/// MD5 of the flattened `gss_channel_bindings_struct`: initiator address type and length,
/// acceptor address type and length (all zero: no addresses), then the application data's
/// length and bytes, every integer a little-endian u32.
pub fn channel_bindings_hash(application_data: &[u8]) -> [u8; 16] {
    let mut md5 = Md5::new();
    md5.update([0u8; 16]);
    md5.update((application_data.len() as u32).to_le_bytes());
    md5.update(application_data);
    md5.finalize().into()
}

/// The `MsvAvChannelBindings` value for a TLS connection to a server presenting `cert_der`.
pub fn tls_channel_binding(cert_der: &[u8]) -> [u8; 16] {
    channel_bindings_hash(&tls_server_end_point(cert_der))
}

#[cfg(test)]
#[path = "binding_tests.rs"]
mod tests;
