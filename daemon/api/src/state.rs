//! What every handler shares: the store, the daemon's [`Control`], the access
//! [`Directory`] (replaced on every reload), the feed's newest seq (for long-polls and
//! streams), and the API's settings.

use std::sync::{Arc, RwLock};

use tokio::sync::watch;

use postfach_config::ApiSettings;
use postfach_store::Store;

use crate::access::Directory;
use crate::control::Control;

/// Shared state of the API's handlers; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub store: Store,
    /// The daemon around the API.
    pub control: Arc<dyn Control>,
    pub(crate) directory: Arc<RwLock<Arc<Directory>>>,
    /// The newest event seq, updated by the feed watcher.
    pub feed: watch::Receiver<i64>,
    /// `[api]`.
    pub settings: Arc<ApiSettings>,
    /// Metrics rendering, when a recorder is installed.
    pub metrics: Option<crate::metrics::Metrics>,
    /// The configured webhook endpoints' URLs (for their status).
    pub webhook_urls: Arc<Vec<String>>,
    /// The OpenAPI document as JSON, filled once the router is built.
    pub openapi: Arc<std::sync::OnceLock<String>>,
    /// Fires when the daemon stops: long-polls answer and streams end.
    pub stop: tokio_util::sync::CancellationToken,
    /// When each token's use was last recorded (Unix time), to write it once a minute.
    pub(crate) touched: Arc<std::sync::Mutex<std::collections::HashMap<String, i64>>>,
    /// Rejected tokens per client address, for the 429 limit.
    pub(crate) failures: Arc<crate::limit::Failures>,
}

impl AppState {
    /// The access directory as last loaded.
    pub fn directory(&self) -> Arc<Directory> {
        Arc::clone(&self.directory.read().unwrap_or_else(|p| p.into_inner()))
    }
}

/// The access directory, shared between the daemon (which replaces it on every reload)
/// and the API (which reads it on every request).
#[derive(Clone, Default)]
pub struct SharedDirectory(pub(crate) Arc<RwLock<Arc<Directory>>>);

impl SharedDirectory {
    /// Replaces the directory.
    pub fn set(&self, directory: Directory) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(directory);
    }
}
