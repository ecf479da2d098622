//! Certificates for tests of TLS: a throwaway certificate authority, and certificates it signs for
//! a name, `localhost` and `127.0.0.1`, written as PEM files into a fresh folder that is removed on drop.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// A test certificate authority and its folder of PEM files.
pub struct TestCa {
    dir: PathBuf,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate and its private key, as PEM files.
#[derive(Debug, Clone)]
pub struct CertFiles {
    /// The certificate.
    pub cert: PathBuf,
    /// Its private key (PKCS#8).
    pub key: PathBuf,
}

impl TestCa {
    /// A new authority; its certificate is at [`TestCa::ca_file`].
    ///
    /// # Panics
    /// When a key cannot be made or the folder cannot be written.
    pub fn new() -> TestCa {
        let dir = std::env::temp_dir().join(format!(
            "refract-tls-{}-{}",
            std::process::id(),
            refract_process::launch::free_port().expect("a free port")
        ));
        std::fs::create_dir_all(&dir).expect("a folder for certificates");
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "Refract test CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("a key");
        let issuer = CertifiedIssuer::self_signed(params, key).expect("a CA certificate");
        std::fs::write(dir.join("ca.pem"), issuer.pem()).expect("the CA file");
        TestCa { dir, issuer }
    }

    /// The authority's certificate (PEM): what a peer trusts.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// A certificate named `name` (its files are `name.pem` and `name.key`) for the host names
    /// `name` and `localhost` and the address `127.0.0.1`, good for a server and for a client,
    /// signed by this authority.
    ///
    /// # Panics
    /// When it cannot be made or written.
    pub fn issue(&self, name: &str) -> CertFiles {
        let mut params =
            CertificateParams::new(vec![name.into(), "localhost".into(), "127.0.0.1".into()])
                .expect("valid names");
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate().expect("a key");
        let cert = params.signed_by(&key, &self.issuer).expect("a certificate");
        let files = CertFiles {
            cert: self.dir.join(format!("{name}.pem")),
            key: self.dir.join(format!("{name}.key")),
        };
        write(&files.cert, &cert.pem());
        write(&files.key, &key.serialize_pem());
        files
    }
}

impl Default for TestCa {
    fn default() -> Self {
        TestCa::new()
    }
}

fn write(path: &Path, pem: &str) {
    std::fs::write(path, pem).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

impl Drop for TestCa {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
