//! Watching directories (accounts, plugins, symlink targets) for changes, debounced.
//!
//! Editors save in bursts (write a temp file, rename, touch); the debouncer folds a burst
//! into one notification. The debounce is trailing: every new event pushes the report
//! back, so a burst is reported once it is over, not in its middle. How long a path must
//! be quiet depends on what happened to it: a rename or removal is complete at once
//! ([`DEBOUNCE`]), but a file written in place (`cat >`, an append, a config tool that
//! writes in pieces) may be half-written, so in directories where that matters the report
//! waits until no write has come for [`WRITE_QUIET`]. Receivers re-read the whole
//! directory and compare, so the watcher only has to say "something changed here",
//! never what.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self as std_mpsc, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use notify::event::{EventKind, ModifyKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// How long after a rename, removal or other complete change the burst is reported.
/// Small enough that an atomic deploy is in effect well within a second.
pub const DEBOUNCE: Duration = Duration::from_millis(150);

/// How long a file written in place must stay unwritten before it is read, in the
/// directories that ask for it (account files): long enough for a tool that appends in
/// pieces a few hundred milliseconds apart. Atomic rename does not wait for this.
pub const WRITE_QUIET: Duration = Duration::from_millis(600);

/// Keeps directory watches alive; dropping it stops watching.
pub struct DirWatcher {
    watcher: RecommendedWatcher,
    watched: HashSet<PathBuf>,
    /// The directories given to [`DirWatcher::new`]; never unwatched.
    fixed: HashSet<PathBuf>,
    slow: Arc<Mutex<HashSet<PathBuf>>>,
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
    /// burst on the returned channel; an empty list means "rescan everything" (the
    /// watcher lost events). In-place writes in `slow_dirs` wait for [`WRITE_QUIET`].
    pub fn new(
        dirs: &[&Path],
        slow_dirs: &[&Path],
    ) -> Result<(DirWatcher, mpsc::UnboundedReceiver<Vec<PathBuf>>), WatchError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let (raw_tx, raw_rx) = std_mpsc::channel();
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            // A send error means the debouncer thread is gone: the daemon is stopping.
            let _ = raw_tx.send(event);
        })
        .map_err(|source| WatchError { path: PathBuf::new(), source })?;
        let slow = Arc::new(Mutex::new(slow_dirs.iter().map(|d| d.to_path_buf()).collect::<HashSet<_>>()));
        let slow_for_thread = Arc::clone(&slow);
        std::thread::Builder::new()
            .name("postfach-watch".into())
            .spawn(move || debounce(&raw_rx, &tx, &slow_for_thread))
            .map_err(|e| WatchError { path: PathBuf::new(), source: notify::Error::io(e) })?;
        let mut this = DirWatcher { watcher, watched: HashSet::new(), fixed: HashSet::new(), slow };
        for dir in dirs {
            this.watch(dir, false)?;
        }
        this.fixed = this.watched.clone();
        Ok((this, rx))
    }

    /// Adds a directory (say, where a symlinked account file really lives); `slow` as for
    /// `slow_dirs` in [`DirWatcher::new`]. Watching a directory twice is harmless.
    pub fn watch(&mut self, dir: &Path, slow: bool) -> Result<(), WatchError> {
        if slow {
            self.slow.lock().unwrap_or_else(|p| p.into_inner()).insert(dir.to_path_buf());
        }
        if self.watched.contains(dir) {
            return Ok(());
        }
        self.watcher
            .watch(dir, RecursiveMode::NonRecursive)
            .map_err(|source| WatchError { path: dir.to_path_buf(), source })?;
        self.watched.insert(dir.to_path_buf());
        Ok(())
    }

    /// Stops watching a directory added with [`DirWatcher::watch`] (those given to
    /// [`DirWatcher::new`] stay).
    pub fn unwatch(&mut self, dir: &Path) {
        if self.fixed.contains(dir) {
            return;
        }
        if self.watched.remove(dir) {
            let _ = self.watcher.unwatch(dir);
        }
        self.slow.lock().unwrap_or_else(|p| p.into_inner()).remove(dir);
    }

    /// The directories watched now.
    pub fn watched(&self) -> &HashSet<PathBuf> {
        &self.watched
    }
}

/// Folds raw events into bursts and reports each burst once it has been quiet long enough.
fn debounce(
    raw: &std_mpsc::Receiver<notify::Result<notify::Event>>,
    tx: &mpsc::UnboundedSender<Vec<PathBuf>>,
    slow: &Mutex<HashSet<PathBuf>>,
) {
    let mut pending: Vec<PathBuf> = Vec::new();
    let mut rescan = false;
    let mut deadline: Option<Instant> = None;
    loop {
        let next = match deadline {
            None => raw.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(d) => raw.recv_timeout(d.saturating_duration_since(Instant::now())),
        };
        match next {
            Ok(Ok(event)) => {
                // Reading a file is an event too (inotify IN_OPEN/IN_ACCESS); only changes
                // count, or every rescan would trigger the next one.
                if event.kind.is_access() {
                    continue;
                }
                let quiet = {
                    let slow = slow.lock().unwrap_or_else(|p| p.into_inner());
                    event.paths.iter().map(|p| quiet_time(&event.kind, p, &slow)).max().unwrap_or(DEBOUNCE)
                };
                let until = Instant::now() + quiet;
                deadline = Some(deadline.map_or(until, |d| d.max(until)));
                pending.extend(event.paths);
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "file watcher error; rescanning");
                rescan = true;
                deadline.get_or_insert_with(|| Instant::now() + DEBOUNCE);
            }
            Err(RecvTimeoutError::Timeout) => {
                let mut paths = std::mem::take(&mut pending);
                if std::mem::take(&mut rescan) {
                    paths.clear();
                }
                deadline = None;
                if tx.send(paths).is_err() {
                    return;
                }
            }
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// How long the burst must be quiet after this event on this path.
fn quiet_time(kind: &EventKind, path: &Path, slow: &HashSet<PathBuf>) -> Duration {
    let written = matches!(kind, EventKind::Create(_) | EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any));
    let in_slow_dir = path.parent().is_some_and(|d| slow.contains(d));
    // An editor's or deploy tool's temp file is renamed into place when complete.
    let temporary = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_none_or(|n| n.starts_with('.') || n.ends_with('~') || n.ends_with(".tmp") || n.ends_with(".swp"));
    if written && in_slow_dir && !temporary { WRITE_QUIET } else { DEBOUNCE }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, DataChange, RenameMode};

    #[test]
    fn in_place_writes_wait_longer_than_renames() {
        let slow: HashSet<PathBuf> = [PathBuf::from("/etc/postfach/accounts")].into();
        let file = Path::new("/etc/postfach/accounts/mm.toml");
        let write = EventKind::Modify(ModifyKind::Data(DataChange::Content));
        assert_eq!(quiet_time(&write, file, &slow), WRITE_QUIET);
        assert_eq!(quiet_time(&EventKind::Create(CreateKind::File), file, &slow), WRITE_QUIET);
        let rename = EventKind::Modify(ModifyKind::Name(RenameMode::To));
        assert_eq!(quiet_time(&rename, file, &slow), DEBOUNCE);
        // The temp file of an atomic deploy, and directories that did not ask for it.
        assert_eq!(quiet_time(&write, Path::new("/etc/postfach/accounts/.mm.toml.tmp"), &slow), DEBOUNCE);
        assert_eq!(quiet_time(&write, Path::new("/var/lib/postfach/wake/outbox"), &slow), DEBOUNCE);
    }

    #[test]
    fn a_burst_is_reported_once_after_its_last_write() {
        let dir = tempfile::tempdir().unwrap();
        let (_w, mut rx) = DirWatcher::new(&[dir.path()], &[dir.path()]).unwrap();
        let file = dir.path().join("mm.toml");
        for i in 0..4 {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&file).unwrap();
            writeln!(f, "line {i}").unwrap();
            drop(f);
            std::thread::sleep(Duration::from_millis(250));
            assert!(rx.try_recv().is_err(), "reported in the middle of the burst, after write {i}");
        }
        let paths = rx.blocking_recv().unwrap();
        assert!(paths.iter().any(|p| p.ends_with("mm.toml")), "{paths:?}");
        assert!(rx.try_recv().is_err(), "one report for the whole burst");
    }
}
