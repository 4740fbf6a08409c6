//! Watching directories (accounts, plugins) for changes, debounced.
//!
//! Editors save in bursts (write a temp file, rename, touch); the debouncer folds a burst
//! into one notification. Receivers re-read the whole directory and compare, so the
//! watcher only has to say "something changed here", never what.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use tokio::sync::mpsc;

/// How long a burst of file events may last before it is reported. Small enough that a
/// change is in effect well within a second.
pub const DEBOUNCE: Duration = Duration::from_millis(150);

/// Keeps a directory watch alive; dropping it stops watching.
pub struct DirWatcher {
    _debouncer: Debouncer<notify::RecommendedWatcher, RecommendedCache>,
}

/// Why a directory could not be watched.
#[derive(Debug, thiserror::Error)]
#[error("cannot watch {path}: {source}")]
pub struct WatchError {
    path: PathBuf,
    source: notify::Error,
}

impl DirWatcher {
    /// Watches `dirs` (not recursively) and sends the changed paths of each debounced
    /// burst on the returned channel.
    pub fn new(dirs: &[&Path]) -> Result<(DirWatcher, mpsc::UnboundedReceiver<Vec<PathBuf>>), WatchError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut debouncer = new_debouncer(DEBOUNCE, Some(DEBOUNCE / 3), move |result: DebounceEventResult| {
            let paths: Vec<PathBuf> = match result {
                // Reading a file is an event too (inotify IN_OPEN/IN_ACCESS); only changes count,
                // or every rescan would trigger the next one.
                Ok(events) => {
                    let changes: Vec<PathBuf> =
                        events.into_iter().filter(|e| !e.kind.is_access()).flat_map(|e| e.event.paths).collect();
                    if changes.is_empty() {
                        return;
                    }
                    changes
                }
                Err(errors) => {
                    for e in errors {
                        tracing::warn!(error = %e, "file watcher error; rescanning");
                    }
                    Vec::new()
                }
            };
            // A send error means the daemon is shutting down.
            let _ = tx.send(paths);
        })
        .map_err(|source| WatchError { path: PathBuf::new(), source })?;
        for dir in dirs {
            debouncer
                .watch(dir, RecursiveMode::NonRecursive)
                .map_err(|source| WatchError { path: dir.to_path_buf(), source })?;
        }
        Ok((DirWatcher { _debouncer: debouncer }, rx))
    }
}
