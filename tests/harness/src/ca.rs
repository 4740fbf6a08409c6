//! A certificate authority made for one run, and a server certificate it signs for
//! `localhost`, `127.0.0.1` and `127.0.0.2`.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType};

use crate::error::{HarnessError, io};

/// PEM files of a run's CA and server certificate.
#[derive(Debug, Clone)]
pub struct TestCa {
    /// The CA certificate (what clients must trust).
    pub ca_pem: PathBuf,
    /// The server certificate.
    pub cert_pem: PathBuf,
    /// The server key.
    pub key_pem: PathBuf,
}

impl TestCa {
    /// Creates the CA and server certificate in `dir`.
    pub fn create(dir: &Path) -> Result<TestCa, HarnessError> {
        let err = |e: rcgen::Error| HarnessError::Cert(e.to_string());
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "Postfach test CA");
        ca_params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca_key = KeyPair::generate().map_err(err)?;
        let ca_cert = ca_params.self_signed(&ca_key).map_err(err)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).map_err(err)?;
        params.distinguished_name.push(DnType::CommonName, "localhost");
        for ip in [Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::new(127, 0, 0, 2)] {
            params.subject_alt_names.push(SanType::IpAddress(IpAddr::V4(ip)));
        }
        let key = KeyPair::generate().map_err(err)?;
        let cert = params.signed_by(&key, &issuer).map_err(err)?;

        let ca = TestCa { ca_pem: dir.join("ca.pem"), cert_pem: dir.join("cert.pem"), key_pem: dir.join("key.pem") };
        std::fs::write(&ca.ca_pem, ca_cert.pem()).map_err(io("writing ca.pem"))?;
        std::fs::write(&ca.cert_pem, cert.pem()).map_err(io("writing cert.pem"))?;
        std::fs::write(&ca.key_pem, key.serialize_pem()).map_err(io("writing key.pem"))?;
        Ok(ca)
    }
}
