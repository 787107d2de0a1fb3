//! A throwaway test CA and a server certificate for 127.0.0.1 / localhost, made with rcgen
//! at test time so nothing expires in the repository.

use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A CA whose certificate is written to `ca.pem` and `ca.der` in a temp directory, and a
/// server certificate it issued for `127.0.0.1`, `::1` and `localhost`.
pub(crate) struct TestCa {
    dir: tempfile::TempDir,
    ca_pem: String,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: Vec<u8>,
}

impl TestCa {
    pub(crate) fn new(name: &str) -> TestCa {
        Self::with_hosts(name, &[])
    }

    /// Like [`TestCa::new`], with extra DNS names in the server certificate: a test can
    /// then serve `https://content.contoso.example/` (the generated catalogs' `OriginUri`)
    /// through a [`super::TestProxy`] route to the local server.
    pub(crate) fn with_hosts(name: &str, extra_hosts: &[&str]) -> TestCa {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, format!("{name} test CA"));
        ca_params.distinguished_name = dn;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA cert");

        let server_key = KeyPair::generate().expect("server key");
        let mut names = vec![
            "127.0.0.1".to_string(),
            "::1".to_string(),
            "localhost".to_string(),
        ];
        names.extend(extra_hosts.iter().map(|h| h.to_string()));
        let mut params = CertificateParams::new(names).expect("server params");
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "localhost");
        params.distinguished_name = dn;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let issuer = Issuer::new(ca_params, &ca_key);
        let server_cert = params.signed_by(&server_key, &issuer).expect("server cert");

        let dir = tempfile::tempdir().expect("temp dir for CA files");
        std::fs::write(dir.path().join("ca.pem"), ca_cert.pem()).expect("write ca.pem");
        std::fs::write(dir.path().join("ca.der"), ca_cert.der().as_ref()).expect("write ca.der");
        TestCa {
            dir,
            ca_pem: ca_cert.pem(),
            server_chain: vec![server_cert.der().clone(), ca_cert.der().clone()],
            server_key: server_key.serialize_der(),
        }
    }

    /// The CA certificate as PEM: what an admin puts in `[http] ca_certificates`.
    pub(crate) fn pem_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The same certificate, DER-encoded.
    pub(crate) fn der_path(&self) -> PathBuf {
        self.dir.path().join("ca.der")
    }

    pub(crate) fn pem(&self) -> &str {
        &self.ca_pem
    }

    /// The server certificate chain and its key as PEM files (`cert.pem`, `key.pem`, the key
    /// owner-only): what an admin puts in `[web] tls_certificate` and `tls_key`.
    pub(crate) fn server_pem_files(&self) -> (PathBuf, PathBuf) {
        use base64::Engine as _;
        let pem = |label: &str, der: &[u8]| {
            let b64 = base64::engine::general_purpose::STANDARD.encode(der);
            let lines: Vec<&str> = b64
                .as_bytes()
                .chunks(64)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect();
            format!(
                "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
                lines.join("\n")
            )
        };
        let chain: String = self
            .server_chain
            .iter()
            .map(|c| pem("CERTIFICATE", c.as_ref()))
            .collect();
        let (cert, key) = (
            self.dir.path().join("cert.pem"),
            self.dir.path().join("key.pem"),
        );
        std::fs::write(&cert, chain).expect("write cert.pem");
        std::fs::write(&key, pem("PRIVATE KEY", &self.server_key)).expect("write key.pem");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        (cert, key)
    }

    /// A rustls server config presenting the server certificate (HTTP/1.1 only).
    pub(crate) fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key.clone()));
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(self.server_chain.clone(), key)
            .expect("server certificate and key");
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(cfg)
    }
}
