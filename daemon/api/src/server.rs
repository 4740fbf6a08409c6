//! Accepting connections: plain HTTP on loopback, HTTPS (rustls) from `tls_cert_file` and
//! `tls_key_file`, HTTP/1.1 via hyper; and a graceful stop with the daemon (no new
//! connections; requests in flight get a few seconds to finish).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::{Extension, Router};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::Layer;
use tracing::{debug, warn};

use crate::ApiError;

/// How long requests in flight may take to finish after the stop.
const DRAIN: Duration = Duration::from_secs(5);
/// How long a client may take for the TLS handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// Loads the certificate chain and key for HTTPS.
pub fn tls_acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, ApiError> {
    let tls_file = |path: &Path, reason: String| ApiError::Tls { path: path.to_owned(), reason };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| tls_file(cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(tls_file(cert, "contains no PEM certificate".to_owned()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| tls_file(key, e.to_string()))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_file(cert, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| tls_file(cert, format!("the key does not fit the certificate or is unusable: {e}")))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Binds the listening socket (done before the daemon reports itself running, so a
/// taken port is an error at start, not a log line later).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ApiError> {
    TcpListener::bind(addr).await.map_err(|source| ApiError::Bind { addr, source })
}

/// Serves `app` until `stop`, then drains.
pub async fn serve(listener: TcpListener, tls: Option<TlsAcceptor>, app: Router, stop: CancellationToken) {
    let graceful = GracefulShutdown::new();
    loop {
        let (tcp, peer) = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    warn!(error = %e, "cannot accept an API connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        // The peer's address, for the rate limit of rejected tokens.
        let service = TowerToHyperService::new(Extension(ConnectInfo(peer)).layer(app.clone()));
        match &tls {
            None => {
                let conn = auto::Builder::new(TokioExecutor::new())
                    .http1_only()
                    .serve_connection_with_upgrades(TokioIo::new(tcp), service)
                    .into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        debug!(%peer, error = %e, "API connection ended with an error");
                    }
                });
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let stream = match tokio::time::timeout(HANDSHAKE, acceptor.accept(tcp)).await {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => return debug!(%peer, error = %e, "API TLS handshake failed"),
                        Err(_) => return debug!(%peer, "API TLS handshake timed out"),
                    };
                    let conn = auto::Builder::new(TokioExecutor::new())
                        .http1_only()
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .into_owned();
                    if let Err(e) = watcher.watch(conn).await {
                        debug!(%peer, error = %e, "API connection ended with an error");
                    }
                });
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown()).await.is_err() {
        debug!("API requests still open after the drain time were cut off");
    }
}
