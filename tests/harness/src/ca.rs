//! A certificate authority made for one run, and a server certificate it signs for
//! `localhost`, `127.0.0.1` and `127.0.0.2`; more certificates on demand (another host
//! name, an expired one) for the tests of certificate checks.

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
    /// The CA's key (to issue more certificates).
    pub ca_key_pem: PathBuf,
}

/// The CA's parameters; the same each time, so a CA can be rebuilt from its key.
fn ca_params() -> Result<CertificateParams, rcgen::Error> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "Postfach test CA");
    ca_params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    Ok(ca_params)
}

impl TestCa {
    /// Creates the CA and server certificate in `dir`.
    pub fn create(dir: &Path) -> Result<TestCa, HarnessError> {
        let err = |e: rcgen::Error| HarnessError::Cert(e.to_string());
        let ca_params = ca_params().map_err(err)?;
        let ca_key = KeyPair::generate().map_err(err)?;
        let ca_cert = ca_params.self_signed(&ca_key).map_err(err)?;
        let ca_key_pem = ca_key.serialize_pem();
        let issuer = Issuer::new(ca_params, ca_key);

        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).map_err(err)?;
        params.distinguished_name.push(DnType::CommonName, "localhost");
        for ip in [Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::new(127, 0, 0, 2)] {
            params.subject_alt_names.push(SanType::IpAddress(IpAddr::V4(ip)));
        }
        let key = KeyPair::generate().map_err(err)?;
        let cert = params.signed_by(&key, &issuer).map_err(err)?;

        let ca = TestCa {
            ca_pem: dir.join("ca.pem"),
            cert_pem: dir.join("cert.pem"),
            key_pem: dir.join("key.pem"),
            ca_key_pem: dir.join("ca-key.pem"),
        };
        std::fs::write(&ca.ca_key_pem, ca_key_pem).map_err(io("writing ca-key.pem"))?;
        std::fs::write(&ca.ca_pem, ca_cert.pem()).map_err(io("writing ca.pem"))?;
        std::fs::write(&ca.cert_pem, cert.pem()).map_err(io("writing cert.pem"))?;
        std::fs::write(&ca.key_pem, key.serialize_pem()).map_err(io("writing key.pem"))?;
        Ok(ca)
    }

    /// Issues a server certificate signed by this CA for `hosts` (names or IP addresses),
    /// expired since 2020 if `expired`; writes `<name>-cert.pem` and `<name>-key.pem`
    /// next to the CA and returns their paths.
    pub fn issue(&self, name: &str, hosts: &[&str], expired: bool) -> Result<(PathBuf, PathBuf), HarnessError> {
        let err = |e: rcgen::Error| HarnessError::Cert(e.to_string());
        let ca_key = std::fs::read_to_string(&self.ca_key_pem).map_err(io("reading ca-key.pem"))?;
        let issuer = Issuer::new(ca_params().map_err(err)?, KeyPair::from_pem(&ca_key).map_err(err)?);
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        params.distinguished_name.push(DnType::CommonName, hosts.first().copied().unwrap_or(name));
        for host in hosts {
            params.subject_alt_names.push(match host.parse::<IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName((*host).try_into().map_err(err)?),
            });
        }
        if expired {
            params.not_before = rcgen::date_time_ymd(2019, 1, 1);
            params.not_after = rcgen::date_time_ymd(2020, 1, 1);
        }
        let key = KeyPair::generate().map_err(err)?;
        let cert = params.signed_by(&key, &issuer).map_err(err)?;
        let dir = self.ca_pem.parent().unwrap_or(Path::new("."));
        let (cert_pem, key_pem) = (dir.join(format!("{name}-cert.pem")), dir.join(format!("{name}-key.pem")));
        std::fs::write(&cert_pem, cert.pem()).map_err(io("writing a certificate"))?;
        std::fs::write(&key_pem, key.serialize_pem()).map_err(io("writing a key"))?;
        Ok((cert_pem, key_pem))
    }
}
