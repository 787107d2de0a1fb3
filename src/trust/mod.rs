//! Who signed what: certificates, Authenticode verification and the trust policy.

mod certificate;

pub use certificate::{CertificateError, CertificateInfo};
