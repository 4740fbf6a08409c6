//! `postfachd run`: the long-running daemon.
//!
//! Holds a lock on the data directory (one daemon per store), starts the supervisor,
//! watches the accounts directory, reloads on SIGHUP and stops cleanly on SIGTERM or
//! SIGINT.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::{Config, DirWatcher, WatchError, account_id_of, symlink_target_dirs};
use crate::plugins::{EngineError, HostConfig, PluginHost};
use crate::store::{PluginRecord, Store, StoreError};
use crate::supervisor::Supervisor;

/// Why the daemon could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// Another daemon holds the store.
    #[error("another postfachd is already running on {0} (lock held)")]
    Locked(PathBuf),
    /// The lock file could not be created.
    #[error("cannot create lock file {path}: {source}")]
    LockFile {
        /// The lock file's path, `<data_dir>/postfachd.lock` (also when the data directory cannot be created).
        path: PathBuf,
        /// The I/O error from creating the data directory or opening the lock file.
        source: std::io::Error,
    },
    /// The accounts directory could not be created.
    #[error("cannot create accounts directory {path}: {source}")]
    AccountsDir {
        /// The resolved `accounts_dir` from `postfach.toml` (default `accounts`).
        path: PathBuf,
        /// The I/O error from creating it, e.g. permission denied.
        source: std::io::Error,
    },
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The accounts directory could not be watched.
    #[error(transparent)]
    Watch(#[from] WatchError),
    /// Signal handlers could not be installed.
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
    /// The plugin engine could not be created.
    #[error(transparent)]
    Plugins(#[from] EngineError),
    /// A blocking task of the daemon's start failed.
    #[error("internal error: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The Integration API could not start (port taken, bad TLS files).
    #[error(transparent)]
    Api(#[from] postfach_api::ApiError),
    /// The PostgreSQL store of a cluster could not be reached or joined.
    #[error(transparent)]
    Cluster(#[from] crate::cluster::ClusterError),
}

/// Creates the plugin host for a config, recording plugin states in the store. Blocking
/// (compiles plugins not in the cache).
pub fn plugin_host(config: &Config, store: Option<Store>) -> Result<Arc<PluginHost>, EngineError> {
    let observer: Option<crate::plugins::Observer> = store.map(|store| {
        Box::new(move |info: &crate::plugins::PluginInfo| {
            if let Err(e) = store.record_plugin(&plugin_record(info)) {
                warn!(plugin = %info.id, error = %e, "cannot record plugin state");
            }
        }) as crate::plugins::Observer
    });
    PluginHost::new(HostConfig::from_config(config), observer)
}

/// What the store keeps of a plugin's state (the store does not know the plugin host).
pub fn plugin_record(info: &crate::plugins::PluginInfo) -> PluginRecord {
    PluginRecord {
        file: info.file.display().to_string(),
        id: info.id.clone(),
        kind: info.kind.map(|k| k.as_str().to_owned()),
        api_version: info.api_version.clone(),
        digest: info.digest.clone(),
        state: info.state.to_owned(),
        reason: info.reason.clone(),
        failures: info.failures,
    }
}

/// The daemon's exclusive hold on its data directory.
pub struct DaemonLock {
    _file: File,
}

/// `<data_dir>/api.addr`: where the running daemon's API listens (`host:port`).
pub const API_ADDR_FILE: &str = "api.addr";

/// `<data_dir>/postfachd.lock`: the running daemon holds an exclusive lock on this file.
pub fn lock_path(data_dir: &Path) -> PathBuf {
    data_dir.join("postfachd.lock")
}

/// Takes the data directory's lock, or reports that a daemon already holds it.
pub fn lock(data_dir: &Path) -> Result<DaemonLock, DaemonError> {
    let path = lock_path(data_dir);
    std::fs::create_dir_all(data_dir).map_err(|source| DaemonError::LockFile { path: path.clone(), source })?;
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| DaemonError::LockFile { path: path.clone(), source })?;
    match file.try_lock() {
        Ok(()) => Ok(DaemonLock { _file: file }),
        Err(_) => Err(DaemonError::Locked(data_dir.to_owned())),
    }
}

/// Whether a daemon currently holds the data directory.
pub fn is_running(data_dir: &Path) -> bool {
    let Ok(file) = File::options().write(true).open(lock_path(data_dir)) else { return false };
    match file.try_lock() {
        Ok(()) => {
            let _ = file.unlock();
            false
        }
        Err(_) => true,
    }
}

/// Raises the open-file limit to the hard limit: every account holds a connection (two
/// with IDLE watchers), and distributions start services with a soft limit of 1024.
fn raise_fd_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        let raised = rustix::process::Rlimit { current: limit.maximum, maximum: limit.maximum };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => tracing::debug!(to = ?limit.maximum, "open-file limit raised"),
            Err(e) => warn!(error = %e, "cannot raise the open-file limit"),
        }
    }
}

/// Watches the directories behind symlinked account files (and stops watching those no
/// longer needed); returns the set now watched for that reason.
fn watch_symlink_targets(watcher: &mut DirWatcher, accounts_dir: &Path, before: &[PathBuf]) -> Vec<PathBuf> {
    let now = symlink_target_dirs(accounts_dir);
    for dir in before.iter().filter(|d| !now.contains(d)) {
        watcher.unwatch(dir);
    }
    for dir in now.iter().filter(|d| !before.contains(d)) {
        if let Err(e) = watcher.watch(dir, true) {
            warn!(error = %e, "cannot watch the target of a symlinked account file; edits there need SIGHUP");
        }
    }
    now
}

/// Starts the Integration API, webhook delivery and the metrics recorder. A webhook whose
/// secret cannot be read is left out (and logged); the API failing to bind stops the start.
async fn start_api(
    config: &Config,
    store: &Store,
    plugins: &Arc<PluginHost>,
    supervisor: &Supervisor,
    outbox_wake: &Arc<Notify>,
    directory: &postfach_api::SharedDirectory,
    stop: CancellationToken,
) -> Result<postfach_api::Running, DaemonError> {
    let mut endpoints = Vec::new();
    for hook in &config.daemon.webhooks {
        let source = hook.secret.clone();
        let base = config.dir.clone();
        let timeout = std::time::Duration::from_secs(crate::config::DEFAULT_TIMEOUT_SECS);
        let secret = tokio::task::spawn_blocking(move || source.resolve(&base, timeout)).await?;
        let key = match secret {
            Ok(secret) => postfach_api::webhooks::secret_key(secret.expose()).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match key {
            Ok(key) => endpoints.push(postfach_api::webhooks::Endpoint {
                url: hook.url.clone(),
                key,
                events: hook.events.clone(),
                accounts: hook.accounts.clone(),
                tls_ca_file: hook.tls_ca_file.as_ref().map(|p| config.resolve(p)),
            }),
            Err(error) => {
                tracing::error!(url = %hook.url, %error, "webhook secret unusable; this endpoint gets no events")
            }
        }
    }
    let urls = endpoints.iter().map(|e| e.url.clone()).collect();
    let metrics = match postfach_api::metrics::Metrics::install(urls) {
        Ok(m) => Some(m),
        Err(e) => {
            warn!(error = %e, "metrics are not recorded");
            None
        }
    };
    let mut settings = config.daemon.api.clone();
    settings.tls_cert_file = settings.tls_cert_file.map(|p| config.resolve(&p));
    settings.tls_key_file = settings.tls_key_file.map(|p| config.resolve(&p));
    let control = crate::api::DaemonControl {
        store: store.clone(),
        plugins: Arc::clone(plugins),
        handles: supervisor.handles(),
        outbox: Arc::clone(outbox_wake),
    };
    let options = postfach_api::Options {
        store: store.clone(),
        control: Arc::new(control),
        directory: directory.clone(),
        settings,
        webhooks: endpoints,
        metrics,
    };
    Ok(postfach_api::start(options, stop).await?)
}

/// The next watchdog beat, or never when the service has no watchdog.
async fn tick(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Runs until SIGTERM or SIGINT.
pub async fn run(config: Config) -> Result<(), DaemonError> {
    let _lock = lock(&config.data_dir())?;
    raise_fd_limit();
    crate::logins::configure(config.daemon.imap_logins_per_minute);
    let store = match crate::cluster::connect(&config).await? {
        Some(pg) => {
            let lease = std::time::Duration::from_secs(u64::from(config.daemon.cluster.lease_secs));
            Store::on_postgres(pg, Some((&crate::cluster::node_id(&config), lease)))
        }
        None => Store::open(&config.store_path())?,
    };
    let accounts_dir = config.accounts_dir();
    std::fs::create_dir_all(&accounts_dir)
        .map_err(|source| DaemonError::AccountsDir { path: accounts_dir.clone(), source })?;
    // States left behind by a crashed daemon are stale.
    store.mark_all_stopped().await?;

    for dir in config.plugin_dirs() {
        // A missing plugin directory cannot be watched; an empty one can.
        let _ = std::fs::create_dir_all(&dir);
    }
    let plugins = {
        let (config, store) = (config.clone(), store.clone());
        tokio::task::spawn_blocking(move || plugin_host(&config, Some(store))).await??
    };
    for p in plugins.list() {
        if let Err(e) = store.record_plugin(&plugin_record(&p)) {
            warn!(plugin = %p.id, error = %e, "cannot record plugin state");
        }
    }

    let mut hup = signal(SignalKind::hangup()).map_err(DaemonError::Signals)?;
    let mut term = signal(SignalKind::terminate()).map_err(DaemonError::Signals)?;
    let mut int = signal(SignalKind::interrupt()).map_err(DaemonError::Signals)?;

    // Watch before the first scan so no change between the two is missed.
    // The watcher reports absolute paths; compare like with like.
    let absolute = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_owned());
    let plugin_dirs: Vec<PathBuf> = plugins.dirs().iter().filter(|d| d.is_dir()).map(|d| absolute(d)).collect();
    // `postfachd send` touches a file here to wake the outbox.
    let wake_dir = crate::wake::dir(&config);
    let _ = std::fs::create_dir_all(&wake_dir);
    let wake_dir = absolute(&wake_dir);
    let accounts_dir = absolute(&accounts_dir);
    let mut watched: Vec<&Path> = vec![accounts_dir.as_path(), wake_dir.as_path()];
    watched.extend(plugin_dirs.iter().map(PathBuf::as_path));
    let (mut watcher, mut changes) = DirWatcher::new(&watched, &[accounts_dir.as_path()])?;
    let mut target_dirs = watch_symlink_targets(&mut watcher, &accounts_dir, &[]);
    let mut supervisor = Supervisor::new(config.clone(), store.clone(), Some(Arc::clone(&plugins)));
    // A cluster member joins before the first reconcile, which then starts nothing: the
    // accounts start as their leases are claimed, at the first tick right after.
    let mut membership = crate::cluster::Membership::join(&config, &store, &mut supervisor).await?;
    let first = supervisor.reconcile(false).await;
    let mut cluster_ticks = membership.as_ref().map(|m| {
        let mut ticks = tokio::time::interval(m.interval());
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks
    });
    let outbox_wake = Arc::new(Notify::new());
    let directory = postfach_api::SharedDirectory::default();
    let mut users = config.daemon.users.clone();
    directory.set(postfach_api::Directory::new(&supervisor.api_accounts(), &users, supervisor.projects()));
    let api_stop = CancellationToken::new();
    let api = start_api(&config, &store, &plugins, &supervisor, &outbox_wake, &directory, api_stop.clone()).await?;
    // With `listen = "127.0.0.1:0"` the system picks the port; scripts read it here.
    let addr_file = config.data_dir().join(API_ADDR_FILE);
    match api.local_addr {
        Some(addr) => {
            if let Err(e) = std::fs::write(&addr_file, format!("{addr}\n")) {
                warn!(file = %addr_file.display(), error = %e, "cannot record the API's address");
            }
        }
        None => {
            let _ = std::fs::remove_file(&addr_file);
        }
    }
    let outbox_stop = CancellationToken::new();
    let outbox = tokio::spawn(crate::outbox::run(
        crate::outbox::Context { config: config.clone(), store: store.clone(), plugins: Some(Arc::clone(&plugins)) },
        Arc::clone(&outbox_wake),
        outbox_stop.clone(),
    ));
    info!(
        config = %config.dir.display(),
        store = %store.path().display(),
        accounts = first.started.len(),
        invalid = first.invalid.len(),
        "postfachd running"
    );
    let notifier = crate::notify::Notifier::from_env();
    notifier.ready(&format!("{} accounts", first.started.len()));
    let mut watchdog = notifier.watchdog_interval().map(tokio::time::interval);

    let mut failure = None;
    loop {
        let deadline = membership.as_ref().and_then(|m| m.valid_until());
        tokio::select! {
            // First: after a pause (SIGSTOP, a stalled VM) the leases' deadline must win
            // over everything else that became ready at the same moment.
            biased;
            () = until(deadline) => {
                if let Some(m) = membership.as_mut() {
                    m.expire(&mut supervisor).await;
                }
            }
            () = tick(&mut cluster_ticks) => {
                if let Some(m) = membership.as_mut()
                    && let Err(e) = m.tick(&mut supervisor, &outbox_wake).await
                {
                    failure = Some(DaemonError::Store(e));
                    break;
                }
            }
            () = tick(&mut watchdog) => notifier.watchdog(),
            Some(paths) = changes.recv() => {
                tracing::debug!(?paths, "files changed");
                // An empty list means the watcher lost track (overflow): rescan anyway.
                if paths.is_empty() {
                    outbox_wake.notify_one();
                }
                for target in paths.iter().filter(|p| p.starts_with(&wake_dir)).filter_map(|p| crate::wake::target_of(p)) {
                    match target {
                        crate::wake::Target::Outbox => outbox_wake.notify_one(),
                        crate::wake::Target::Account(id) => {
                            supervisor.wake(&id);
                        }
                        crate::wake::Target::Authorized(id) => {
                            supervisor.restart(&id).await;
                            outbox_wake.notify_one();
                        }
                    }
                }
                let accounts = paths.is_empty()
                    || paths.iter().any(|p| account_id_of(p).is_some() || p == &accounts_dir)
                    || paths.iter().any(|p| p.parent().is_some_and(|d| target_dirs.iter().any(|t| t == d)));
                let wasm = paths.is_empty()
                    || paths.iter().any(|p| p.extension().is_some_and(|e| e == "wasm") && p.parent().is_some_and(|d| plugin_dirs.iter().any(|pd| pd == d)));
                if wasm {
                    let host = Arc::clone(&plugins);
                    if let Ok(report) = tokio::task::spawn_blocking(move || host.reload()).await {
                        for (file, error) in &report.failed {
                            warn!(file = %file.display(), %error, "plugin not loaded");
                        }
                    }
                }
                if accounts {
                    let report = supervisor.reconcile(false).await;
                    directory.set(postfach_api::Directory::new(&supervisor.api_accounts(), &users, supervisor.projects()));
                    tracing::debug!(?report, "accounts reconciled");
                    // A new account file is claimed now, not at the next tick.
                    if let Some(m) = membership.as_mut()
                        && let Err(e) = m.tick(&mut supervisor, &outbox_wake).await
                    {
                        failure = Some(DaemonError::Store(e));
                        break;
                    }
                    target_dirs = watch_symlink_targets(&mut watcher, &accounts_dir, &target_dirs);
                }
            }
            _ = hup.recv() => {
                info!("SIGHUP: reloading every account");
                notifier.reloading();
                match Config::load(&config.dir) {
                    Ok(new) => {
                        // Users and their groups take effect at once; the rest needs a restart.
                        users = new.daemon.users.clone();
                        let rest_changed = crate::config::DaemonConfig { users: users.clone(), ..config.daemon.clone() } != new.daemon;
                        if rest_changed {
                            warn!("postfach.toml changed; restart postfachd for daemon-level settings other than [users] to take effect");
                        }
                    }
                    Err(e) => warn!("{e}"),
                }
                let report = supervisor.reconcile(true).await;
                directory.set(postfach_api::Directory::new(&supervisor.api_accounts(), &users, supervisor.projects()));
                notifier.ready(&format!("reloaded; {} accounts", report.started.len() + report.restarted.len()));
            }
            _ = term.recv() => { info!("SIGTERM: stopping"); break; }
            _ = int.recv() => { info!("SIGINT: stopping"); break; }
        }
    }
    notifier.stopping();
    // A hanging password command must not hold the exit up.
    crate::config::cancel_commands();
    // No new API requests; long-polls and streams answer; requests in flight finish.
    api_stop.cancel();
    if tokio::time::timeout(std::time::Duration::from_secs(10), api.join()).await.is_err() {
        warn!("the API did not stop within 10 s");
    }
    let _ = std::fs::remove_file(&addr_file);
    // A submission in flight is finished rather than cut off mid-DATA.
    outbox_stop.cancel();
    if tokio::time::timeout(std::time::Duration::from_secs(30), outbox).await.is_err() {
        warn!("the outbox did not stop within 30 s; an interrupted message is sent again at the next start");
    }
    supervisor.shutdown().await;
    if let Some(m) = membership {
        m.leave().await;
    }
    info!("postfachd stopped");
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Completes at `deadline`, or never without one.
async fn until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
