//! TLS client setup shared by IMAP and SMTP: rustls with the public web roots, plus an
//! optional extra CA file (company CAs, test CAs), always verifying the server's name.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// What is wrong with the content of a CA file, if anything: it must hold at least one
/// PEM certificate, and every one must parse.
pub fn ca_problem(pem: &[u8]) -> Option<String> {
    match CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>() {
        Err(e) => Some(format!("not a valid PEM file: {e}")),
        Ok(certs) if certs.is_empty() => Some("contains no PEM certificate (-----BEGIN CERTIFICATE-----)".into()),
        Ok(certs) => {
            let mut roots = rustls::RootCertStore::empty();
            let (_, bad) = roots.add_parsable_certificates(certs);
            (bad > 0).then(|| format!("{bad} certificate(s) in it cannot be parsed"))
        }
    }
}

/// Why TLS could not be set up or negotiated.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The CA file is missing or holds no certificate.
    #[error("tls_ca_file {path}: {reason}")]
    CaFile {
        /// The `tls_ca_file` path; empty when rustls refused the protocol setup itself.
        path: PathBuf,
        /// What is wrong: the read or PEM parse error, or that it holds no certificate.
        reason: String,
    },
    /// The host is not a valid DNS name or IP address.
    #[error("`{0}` is not a valid host name for TLS")]
    ServerName(String),
    /// The handshake failed (untrusted certificate, wrong name, protocol error).
    #[error("TLS handshake with {host} failed: {reason}")]
    Handshake {
        /// The host name the connection was for.
        host: String,
        /// rustls' reason, with a hint for certificate problems.
        reason: String,
    },
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn build(extra_ca: Option<(&Path, &[u8])>) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some((path, pem)) = extra_ca {
        let ca_err = |reason: String| TlsError::CaFile { path: path.to_owned(), reason };
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(pem).collect::<Result<_, _>>().map_err(|e| ca_err(e.to_string()))?;
        if certs.is_empty() {
            return Err(ca_err("no PEM certificate in the file".into()));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| ca_err(e.to_string()))?;
        }
    }
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::CaFile { path: PathBuf::new(), reason: e.to_string() })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Configs built with an extra CA file, with the file content they were built from.
type ByCaFile = HashMap<PathBuf, (Vec<u8>, Arc<ClientConfig>)>;

/// The client config for a connection: one shared for the public roots, and one per extra
/// CA file and content (the file is read on every call, so an edited file takes effect at
/// the next connection).
///
/// Sharing matters at scale: a config holds the root store and a TLS session cache, and a
/// thousand accounts naming the same company CA would otherwise hold a thousand of each.
pub fn client_config(extra_ca: Option<&Path>) -> Result<Arc<ClientConfig>, TlsError> {
    static DEFAULT: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    static BY_CA: OnceLock<Mutex<ByCaFile>> = OnceLock::new();
    let Some(path) = extra_ca else {
        if let Some(c) = DEFAULT.get() {
            return Ok(Arc::clone(c));
        }
        let c = build(None)?;
        return Ok(Arc::clone(DEFAULT.get_or_init(|| c)));
    };
    let pem = std::fs::read(path).map_err(|e| TlsError::CaFile { path: path.to_owned(), reason: e.to_string() })?;
    // A panic while holding the lock cannot leave the map half-written (one insert).
    let mut cache = BY_CA.get_or_init(Mutex::default).lock().unwrap_or_else(|p| p.into_inner());
    if let Some((cached, config)) = cache.get(path)
        && *cached == pem
    {
        return Ok(Arc::clone(config));
    }
    let config = build(Some((path, &pem)))?;
    cache.insert(path.to_owned(), (pem, Arc::clone(&config)));
    Ok(config)
}

/// Performs the TLS handshake over an open TCP connection.
pub async fn handshake(tcp: TcpStream, host: &str, extra_ca: Option<&Path>) -> Result<TlsStream<TcpStream>, TlsError> {
    let config = client_config(extra_ca)?;
    let name = ServerName::try_from(host.to_owned()).map_err(|_| TlsError::ServerName(host.to_owned()))?;
    TlsConnector::from(config).connect(name, tcp).await.map_err(|e| {
        let mut reason = e.to_string();
        let certificate = e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()).and_then(|e| match e {
            rustls::Error::InvalidCertificate(c) => Some(c),
            _ => None,
        });
        use rustls::CertificateError as C;
        let hint = match certificate {
            Some(C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. }) => {
                Some(" (the server's certificate is outside its validity period, or this machine's clock is wrong)")
            }
            Some(C::NotValidForName | C::NotValidForNameContext { .. }) => {
                Some(" (the certificate does not name this host: set host to a name the certificate lists)")
            }
            _ if reason.contains("certificate") => Some(if extra_ca.is_some() {
                " (the certificate is not signed by the tls_ca_file or a public CA, or does not name this host)"
            } else {
                " (if the server uses a private CA, set tls_ca_file)"
            }),
            _ => None,
        };
        reason.push_str(hint.unwrap_or_default());
        TlsError::Handshake { host: host.to_owned(), reason }
    })
}
