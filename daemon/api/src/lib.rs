//! The Integration API: what a business application (CRM, ERP, law-office software)
//! uses to read and change mail over HTTP — accounts, messages with their content,
//! full-text search, threads, manual project assignment, sending, the event feed
//! (long-poll and Server-Sent Events) and signed webhooks — with bearer tokens, the
//! access rules of each account's `[access]`, an audit trail of every write, Prometheus
//! metrics and a generated OpenAPI 3.1 document.
//!
//! The daemon (`postfachd run`) starts it with [`start`]; what only the daemon can do
//! (wake an account, compose a message, test an account) is asked through [`Control`].

#![deny(missing_docs)]

pub mod access;
mod audit;
pub mod auth;
pub mod control;
mod extract;
#[cfg(test)]
mod fuzz;
pub mod json;
mod limit;
pub mod metrics;
mod problem;
mod routes;
mod server;
mod state;
pub mod webhooks;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use postfach_config::ApiSettings;
use postfach_store::Store;

pub use access::Directory;
pub use control::{ComposeFailure, Control, SendAttachment, SendRequest, TestStep};
pub use problem::Problem;
pub use routes::document as openapi_document;
pub use state::SharedDirectory;

/// Why the API could not start.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// `[api] listen` is not an address.
    #[error("[api] listen: {0}")]
    Listen(String),
    /// The port is taken or not ours to use.
    #[error("cannot listen on {addr} for the API: {source}")]
    Bind {
        /// The address from `[api] listen`.
        addr: SocketAddr,
        /// The operating system's reason (address in use, permission denied).
        source: std::io::Error,
    },
    /// The certificate or key for HTTPS is unusable.
    #[error("API TLS file {path}: {reason}")]
    Tls {
        /// `tls_cert_file` or `tls_key_file`.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// Everything the API runs with.
pub struct Options {
    /// The store.
    pub store: Store,
    /// The daemon's side.
    pub control: Arc<dyn Control>,
    /// Access rules and the project list, replaced by the daemon on reload.
    pub directory: SharedDirectory,
    /// `[api]`, with `tls_cert_file` and `tls_key_file` resolved against the config directory.
    pub settings: ApiSettings,
    /// Webhook endpoints with their secrets resolved.
    pub webhooks: Vec<webhooks::Endpoint>,
    /// The metrics recorder, if installed.
    pub metrics: Option<metrics::Metrics>,
}

/// How often the feed's end is checked for long-polls, streams and webhooks. The feed
/// also grows from other processes (`postfachd sync --once`), so it is read, not pushed.
const FEED_POLL: Duration = Duration::from_millis(100);

/// The running API, webhook delivery and feed watcher; `join` after cancelling `stop`.
pub struct Running {
    tasks: Vec<JoinHandle<()>>,
    /// Where the API listens, if it does.
    pub local_addr: Option<SocketAddr>,
}

impl Running {
    /// Waits for every task to end (after `stop` fired).
    pub async fn join(self) {
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Binds the API (unless `listen = ""`), then serves it, delivers webhooks and watches
/// the feed until `stop` fires.
pub async fn start(options: Options, stop: CancellationToken) -> Result<Running, ApiError> {
    let Options { store, control, directory, settings, webhooks, metrics } = options;
    let listen = settings.listen.trim().to_owned();
    let bound = if listen.is_empty() {
        None
    } else {
        let addr = postfach_config::api::listen_addr(&listen).map_err(ApiError::Listen)?;
        let tls = match (&settings.tls_cert_file, &settings.tls_key_file) {
            (Some(cert), Some(key)) => Some(server::tls_acceptor(cert, key)?),
            _ => None,
        };
        Some((server::bind(addr).await?, tls))
    };
    let local_addr = bound.as_ref().and_then(|(l, _)| l.local_addr().ok());

    let first = store.last_event_seq().await.unwrap_or(0);
    let (feed_tx, feed) = watch::channel(first);
    let mut tasks = vec![tokio::spawn(watch_feed(store.clone(), feed_tx, stop.clone()))];

    webhooks::announce(&webhooks);
    let webhook_urls: Vec<String> = webhooks.iter().map(|w| w.url.clone()).collect();
    tasks.push(tokio::spawn(webhooks::run(store.clone(), webhooks, feed.clone(), stop.clone())));

    if let Some((listener, tls)) = bound {
        let state = state::AppState {
            store,
            control,
            directory: directory.0,
            feed,
            settings: Arc::new(settings),
            metrics,
            webhook_urls: Arc::new(webhook_urls),
            openapi: Arc::default(),
            stop: stop.clone(),
            touched: Arc::default(),
            failures: Arc::default(),
        };
        let openapi = Arc::clone(&state.openapi);
        let (app, document) = routes::router(state);
        let _ = openapi.set(serde_json::to_string(&document).unwrap_or_default());
        info!(addr = ?local_addr, tls = tls.is_some(), "API listening");
        tasks.push(tokio::spawn(server::serve(listener, tls, app, stop)));
    }
    Ok(Running { tasks, local_addr })
}

async fn watch_feed(store: Store, feed: watch::Sender<i64>, stop: CancellationToken) {
    let mut failing = false;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(FEED_POLL) => {}
        }
        match store.last_event_seq().await {
            Ok(seq) => {
                failing = false;
                feed.send_if_modified(|current| {
                    let changed = *current != seq;
                    *current = seq;
                    changed
                });
            }
            Err(e) if !failing => {
                failing = true;
                warn!(error = %e, "cannot read the event feed's end");
            }
            Err(_) => {}
        }
    }
}
