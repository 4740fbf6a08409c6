//! The supervisor: one task per account, kept in line with the account files.
//!
//! [`Supervisor::reconcile`] reads the accounts directory and compares it with what runs:
//! new files start accounts, changed files restart them, removed files stop them (their
//! mail stays in the store), and a file that fails validation leaves its account running
//! on the last good version, with the problem visible in `postfachd accounts`. Accounts
//! whose files did not change are never touched.
//!
//! In a cluster (`[store] url` on PostgreSQL) the supervisor runs only the accounts this
//! node holds a lease for ([`Supervisor::set_leases`], called by [`crate::cluster`]):
//! each of their tasks gets a store fenced by its lease, so a write after the lease is
//! lost fails instead of racing the account's new holder.

mod task;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::{Account, Config};
use crate::model::AccountState;
use crate::plugins::PluginHost;
use crate::store::postgres::leases::Lease;
use crate::store::{AccountStatus, Store};

pub use task::backoff;

/// How long stopping accounts may take before their tasks are abandoned.
const STOP_GRACE: Duration = Duration::from_secs(10);

struct Running {
    account: Account,
    wake: Arc<Notify>,
    full_sync: Arc<std::sync::atomic::AtomicBool>,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

/// What a reconcile did, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Ids of accounts started because no task ran for them (a new file, or the daemon's first reconcile).
    pub started: Vec<String>,
    /// Accounts restarted with a changed file.
    pub restarted: Vec<String>,
    /// Accounts stopped because their file is gone.
    pub stopped: Vec<String>,
    /// Accounts whose file is invalid (running on their last good version, if any).
    pub invalid: Vec<String>,
}

/// Runs and supervises the account tasks.
pub struct Supervisor {
    config: Config,
    store: Store,
    plugins: Option<Arc<PluginHost>>,
    projects: Option<Arc<HashSet<String>>>,
    running: BTreeMap<String, Running>,
    handles: AccountHandles,
    /// The valid accounts of the last reconcile, running or not.
    configured: BTreeMap<String, Account>,
    /// In a cluster: this node's id and the leases it holds; only those accounts run.
    cluster: Option<(String, BTreeMap<String, Lease>)>,
}

/// The running accounts as other parts of the daemon (the API) see them: each account's
/// file as it runs, and how to wake it. Updated by the supervisor after every change.
#[derive(Clone, Default)]
pub struct AccountHandles(Arc<std::sync::RwLock<BTreeMap<String, Handle>>>);

#[derive(Clone)]
struct Handle {
    account: Account,
    wake: Arc<Notify>,
    full_sync: Arc<std::sync::atomic::AtomicBool>,
}

impl AccountHandles {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Handle>> {
        self.0.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes an account's task to apply local changes; false if it does not run.
    pub fn wake(&self, id: &str) -> bool {
        self.read().get(id).map(|h| h.wake.notify_one()).is_some()
    }

    /// Asks a running account for a full pass now; false if it does not run.
    pub fn sync_now(&self, id: &str) -> bool {
        self.read()
            .get(id)
            .map(|h| {
                h.full_sync.store(true, std::sync::atomic::Ordering::Relaxed);
                h.wake.notify_one();
            })
            .is_some()
    }

    /// The running accounts.
    pub fn accounts(&self) -> Vec<Account> {
        self.read().values().map(|h| h.account.clone()).collect()
    }

    /// One running account.
    pub fn account(&self, id: &str) -> Option<Account> {
        self.read().get(id).map(|h| h.account.clone())
    }
}

impl Supervisor {
    /// A supervisor with nothing running yet.
    pub fn new(config: Config, store: Store, plugins: Option<Arc<PluginHost>>) -> Self {
        let mut supervisor = Supervisor {
            config,
            store,
            plugins,
            projects: None,
            running: BTreeMap::new(),
            handles: AccountHandles::default(),
            configured: BTreeMap::new(),
            cluster: None,
        };
        supervisor.load_projects();
        supervisor
    }

    /// Makes this supervisor a cluster member `node`: from now on it runs only the
    /// accounts [`Supervisor::set_leases`] gives it (none yet).
    pub fn join_cluster(&mut self, node: &str) {
        self.cluster = Some((node.to_owned(), BTreeMap::new()));
    }

    /// The accounts the API answers for: those running here, and in a cluster every
    /// configured account (another node may sync it; the store is shared).
    pub fn api_accounts(&self) -> Vec<Account> {
        match &self.cluster {
            None => self.handles.accounts(),
            Some(_) => self.configured.values().cloned().collect(),
        }
    }

    /// The ids of the valid accounts in this node's files, running or not.
    pub fn configured(&self) -> Vec<String> {
        self.configured.keys().cloned().collect()
    }

    /// A digest of this node's valid account files (each file's digest, in id order):
    /// nodes of a cluster should have the same, and `cluster status` says when not.
    pub fn config_digest(&self) -> String {
        let mut hasher = blake3::Hasher::new();
        for (id, account) in &self.configured {
            hasher.update(id.as_bytes());
            hasher.update(b"\0");
            hasher.update(account.digest.as_bytes());
            hasher.update(b"\n");
        }
        hasher.finalize().to_hex()[..16].to_owned()
    }

    /// In a cluster: runs exactly the configured accounts among `held`. Accounts no longer
    /// held, or held under a new epoch, stop first (their IMAP sessions close); newly held
    /// ones start with a store fenced by their lease.
    pub async fn set_leases(&mut self, held: &[Lease]) {
        let Some((node, leases)) = &mut self.cluster else { return };
        let node = node.clone();
        let new: BTreeMap<String, Lease> = held.iter().map(|l| (l.account.clone(), l.clone())).collect();
        let stale: Vec<String> = self
            .running
            .keys()
            .filter(|id| new.get(*id).map(|l| l.epoch) != leases.get(*id).map(|l| l.epoch))
            .cloned()
            .collect();
        *leases = new;
        let stopping: Vec<Running> = stale.iter().filter_map(|id| self.running.remove(id)).collect();
        // All at once: a node that lost its leases must close every session now, not
        // one account after another.
        for r in &stopping {
            info!(account = %r.account.id, node = %node, "lease gone; stopping the account on this node");
            r.cancel.cancel();
        }
        for r in stopping {
            stop(r).await;
        }
        let to_start: Vec<Account> = self
            .configured
            .iter()
            .filter(|(id, _)| !self.running.contains_key(*id) && self.lease_of(id).is_some())
            .map(|(_, a)| a.clone())
            .collect();
        for account in to_start {
            info!(account = %account.id, node = %node, "lease taken; starting the account on this node");
            self.start(account);
        }
        self.publish();
    }

    /// Stops every running account at once (a cluster member that can no longer prove
    /// its leases); they start again when [`Supervisor::set_leases`] gives them back.
    pub async fn drop_all_leases(&mut self) {
        self.set_leases(&[]).await;
    }

    /// The lease `id` runs under: `Some` for every account on a single node.
    fn lease_of(&self, id: &str) -> Option<Option<&Lease>> {
        match &self.cluster {
            None => Some(None),
            Some((_, leases)) => leases.get(id).map(Some),
        }
    }

    /// (Re)reads the project list; a broken file keeps the previous list.
    fn load_projects(&mut self) {
        match self.config.projects() {
            Ok(p) => self.projects = p.map(|p| p.numbers()),
            Err(e) => warn!(error = %e, "project list not reloaded"),
        }
    }

    /// Brings the running accounts in line with the files. With `restart_all`, every
    /// valid account restarts (SIGHUP: re-resolve secrets, reconnect).
    pub async fn reconcile(&mut self, restart_all: bool) -> ReconcileReport {
        if restart_all {
            self.load_projects();
        }
        let incumbent = self.running.values().find(|r| r.account.file.default).map(|r| r.account.id.clone());
        let set = self.config.load_accounts_keeping_default(incumbent.as_deref());
        let mut report = ReconcileReport::default();
        for e in &set.other_errors {
            warn!("{e}");
        }

        for (id, errors) in &set.errors {
            let text = errors.to_string();
            if self.running.contains_key(id) {
                warn!(account = %id, error = %text, "invalid account file; the last good version keeps running");
            } else {
                warn!(account = %id, error = %text, "invalid account file; account not started");
            }
            report.invalid.push(id.clone());
            if let Err(e) = self.store.set_config_error(id, Some(&text)).await {
                warn!(account = %id, error = %e, "cannot record the config error in the store");
            }
            if !self.running.contains_key(id) {
                self.record(id, AccountState::ConfigError).await;
            }
        }

        let gone: Vec<String> = self
            .running
            .keys()
            .filter(|id| !set.accounts.contains_key(*id) && !set.errors.contains_key(*id))
            .cloned()
            .collect();
        for id in gone {
            if let Some(r) = self.running.remove(&id) {
                info!(account = %id, "account file removed; stopping (stored mail is kept)");
                stop(r).await;
                self.record(&id, AccountState::Stopped).await;
                report.stopped.push(id);
            }
        }

        self.configured = set.accounts.clone();
        for (id, account) in set.accounts {
            if let Err(e) = self.store.set_config_error(&id, None).await {
                warn!(account = %id, error = %e, "cannot clear the config error in the store");
            }
            if self.lease_of(&id).is_none() {
                // Another node of the cluster holds it (or nobody yet): not ours to run.
                continue;
            }
            match self.running.get(&id) {
                Some(r) if !restart_all && r.account.digest == account.digest => {}
                Some(_) => {
                    if let Some(r) = self.running.remove(&id) {
                        info!(account = %id, "account file changed; restarting");
                        stop(r).await;
                    }
                    self.start(account);
                    report.restarted.push(id);
                }
                None => {
                    info!(account = %id, "starting account");
                    self.start(account);
                    report.started.push(id);
                }
            }
        }
        self.publish();
        report
    }

    /// The running accounts, for the API; kept up to date by the supervisor.
    pub fn handles(&self) -> AccountHandles {
        self.handles.clone()
    }

    /// The known project numbers, if a project list is configured.
    pub fn projects(&self) -> Option<Arc<HashSet<String>>> {
        self.projects.clone()
    }

    fn publish(&self) {
        let map = self
            .running
            .iter()
            .map(|(id, r)| {
                let handle = Handle {
                    account: r.account.clone(),
                    wake: Arc::clone(&r.wake),
                    full_sync: Arc::clone(&r.full_sync),
                };
                (id.clone(), handle)
            })
            .collect();
        *self.handles.0.write().unwrap_or_else(|p| p.into_inner()) = map;
    }

    /// Records a state without an error for an account no task runs.
    async fn record(&self, id: &str, state: AccountState) {
        if let Err(e) = self.store.set_account_status(id, AccountStatus::clean(state)).await {
            warn!(account = %id, error = %e, "cannot record account state");
        }
    }

    fn start(&mut self, account: Account) {
        let cancel = CancellationToken::new();
        let wake = Arc::new(Notify::new());
        let full_sync = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let store = match (&self.cluster, self.lease_of(&account.id).flatten()) {
            (Some((node, _)), Some(lease)) => self.store.fenced(node, lease.clone()),
            _ => self.store.clone(),
        };
        let task = tokio::spawn(keep_running(task::Job {
            account: account.clone(),
            store,
            plugins: self.plugins.clone(),
            projects: self.projects.clone(),
            wake: Arc::clone(&wake),
            full_sync: Arc::clone(&full_sync),
            cancel: cancel.clone(),
        }));
        self.running.insert(account.id.clone(), Running { account, wake, full_sync, cancel, task });
    }

    /// Starts a running account afresh, forgetting its failures and its auto-disable
    /// marker: after `oauth authorize`, the new authorization deserves a login at once.
    /// False if the account does not run.
    pub async fn restart(&mut self, id: &str) -> bool {
        let Some(r) = self.running.remove(id) else { return false };
        let account = r.account.clone();
        stop(r).await;
        if let Err(e) = self.store.set_disabled_digest(id, None).await {
            warn!(account = %id, error = %e, "cannot clear the auto-disable marker");
        }
        info!(account = %id, "restarting account (new authorization)");
        self.start(account);
        self.publish();
        true
    }

    /// Wakes an account's task (local changes wait to be applied). False if it does not run.
    pub fn wake(&self, id: &str) -> bool {
        match self.running.get(id) {
            Some(r) => {
                r.wake.notify_one();
                true
            }
            None => false,
        }
    }

    /// Asks a running account for a full pass now; false if the account does not run.
    pub fn sync_now(&self, id: &str) -> bool {
        match self.running.get(id) {
            Some(r) => {
                r.full_sync.store(true, std::sync::atomic::Ordering::Relaxed);
                r.wake.notify_one();
                true
            }
            None => false,
        }
    }

    /// Stops every account and records them as stopped.
    pub async fn shutdown(mut self) {
        let all: Vec<Running> = std::mem::take(&mut self.running).into_values().collect();
        self.publish();
        for r in &all {
            r.cancel.cancel();
        }
        for r in all {
            stop(r).await;
        }
        if let Err(e) = self.store.mark_all_stopped().await {
            warn!(error = %e, "cannot mark the accounts stopped in the store");
        }
    }
}

/// Runs an account's task and watches it: a task that panics or ends while it should
/// run is a bug, but it must not leave a silently dead account. The account shows
/// `failed` with the reason and the task is started again with backoff.
async fn keep_running(job: task::Job) {
    let (store, cancel) = (job.store.clone(), job.cancel.clone());
    // Borrowed from the job, not cloned: every idle account pays for each copy of its
    // config (a third copy cost about 4 KiB per account in the scale bench).
    let account = &job.account;
    let mut crashes = 0u32;
    loop {
        let handle = tokio::spawn(task::run(job.clone()));
        // Stopping this watcher (abort after the grace period) stops the task too.
        let _guard = AbortOnDrop(handle.abort_handle());
        let outcome = handle.await;
        if cancel.is_cancelled() {
            return;
        }
        crashes = crashes.saturating_add(1);
        let why = match outcome {
            Ok(()) => "the account's task ended unexpectedly".to_owned(),
            Err(e) if e.is_panic() => format!("internal error: {}", panic_text(e.into_panic())),
            Err(e) => format!("internal error: {e}"),
        };
        let delay = task::backoff(crashes, account);
        tracing::error!(account = %account.id, error = %why, retry_in_ms = delay.as_millis() as u64, "account task failed; restarting");
        let text = format!("{why}; restarting in {} s", delay.as_secs().max(1));
        let status = AccountStatus { state: AccountState::Failed, last_error: Some(text), failures: crashes };
        let recorded = store.set_account_status(&account.id, status).await;
        if let Err(e) = recorded {
            warn!(account = %account.id, error = %e, "cannot record account state");
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = cancel.cancelled() => return,
        }
    }
}

/// Aborts the account task when `keep_running` is dropped, e.g. when `stop` aborts it after `STOP_GRACE`.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The message of a panic payload (`panic!("…")` gives a `&str` or a `String`).
fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => payload.downcast_ref::<&str>().map_or_else(|| "a panic".to_owned(), |s| (*s).to_owned()),
    }
}

async fn stop(r: Running) {
    r.cancel.cancel();
    let abort = r.task.abort_handle();
    if tokio::time::timeout(STOP_GRACE, r.task).await.is_err() {
        warn!(account = %r.account.id, "account task did not stop in time; aborting it");
        abort.abort();
    }
}
