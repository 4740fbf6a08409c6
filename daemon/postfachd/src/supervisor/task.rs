//! The life of one account: connect, sync, wait, and on failure back off with jitter,
//! until `max_failures` consecutive failures auto-disable it (until its file changes).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, warn};

use crate::config::Account;
use crate::imap::{self, SyncOptions};
use crate::model::{AccountState, FolderId, MessageId, Role};
use crate::pass::{PassError, SyncStore};
use crate::plugins::{PluginHost, Quirks};
use crate::provider;
use crate::store::{self, AccountStatus, ChangeState, Store, StoreError};

/// What an account's task runs with; cloned for each restart.
#[derive(Clone)]
pub struct Job {
    /// The account, as its file was when the task started.
    pub account: Account,
    /// The store.
    pub store: Store,
    /// The plugin host, when plugins are loaded (adapters, routers).
    pub plugins: Option<Arc<PluginHost>>,
    /// Known project numbers, when a project list is configured.
    pub projects: Option<Arc<HashSet<String>>>,
    /// Notified for local changes to apply and by the IDLE watchers of other folders.
    pub wake: Arc<Notify>,
    /// Set (then `wake` notified) to ask for a full pass now (`POST /v1/accounts/{id}/sync`).
    pub full_sync: Arc<AtomicBool>,
    /// Stops the task.
    pub cancel: CancellationToken,
}

/// Runs the account until `cancel` fires.
pub async fn run(job: Job) {
    let span = tracing::info_span!("account", id = %job.account.id);
    let Job { account, store, plugins, projects, wake, full_sync, cancel } = job;
    AccountTask { account, store, plugins, projects, wake, full_sync, cancel, failures: 0 }
        .run()
        .instrument(span)
        .await;
}

struct AccountTask {
    account: Account,
    store: Store,
    plugins: Option<Arc<PluginHost>>,
    projects: Option<Arc<HashSet<String>>>,
    /// Notified for local changes to apply and by the IDLE watchers of other folders.
    wake: Arc<Notify>,
    full_sync: Arc<AtomicBool>,
    cancel: CancellationToken,
    failures: u32,
}

impl AccountTask {
    async fn run(mut self) {
        let file = self.account.file.clone();
        self.meta().await;
        if !file.enabled {
            self.set(AccountState::Disabled, Some("enabled = false in the account file")).await;
            return self.cancel.cancelled().await;
        }
        if let Some(row) = self.row().await
            && row.disabled_digest.as_deref() == Some(self.account.digest.as_str())
        {
            // Auto-disabled earlier and the file has not changed since.
            info!("still auto-disabled; edit the account file to enable it again");
            self.set(AccountState::Disabled, row.last_error.as_deref()).await;
            return self.cancel.cancelled().await;
        }
        self.clear_disabled().await;
        if !file.receive {
            self.set(AccountState::SendOnly, None).await;
            return self.cancel.cancelled().await;
        }

        let mut full_check = true;
        loop {
            fault_injection(&self.account.id);
            self.set_state(AccountState::Connecting).await;
            let cancel = self.cancel.clone();
            let e = tokio::select! {
                e = self.connected(&mut full_check) => e,
                () = cancel.cancelled() => return,
            };
            let asked = e.suggested_backoff();
            // Throttling is the server pacing this client, not a failure of the account:
            // it never leads to auto-disable.
            if asked.is_none() {
                self.failures += 1;
            }
            let mut text = e.to_string();
            metrics::counter!("postfach_imap_errors_total", "kind" => e.kind()).increment(1);
            let max = file.sync.max_failures;
            if self.failures >= max {
                let why = format!(
                    "auto-disabled after {max} consecutive failures (edit the account file to retry); last error: {text}"
                );
                warn!(error = %text, failures = self.failures, "account auto-disabled");
                self.set(AccountState::Disabled, Some(&why)).await;
                // Without this marker the account would run again after a restart.
                let marked = self.store.set_disabled_digest(&self.account.id, Some(&self.account.digest)).await;
                self.logged("the auto-disable marker (the account runs again after a restart)", marked);
                return self.cancel.cancelled().await;
            }
            let state = if e.is_auth() { AccountState::AuthFailed } else { AccountState::BackingOff };
            let mut delay = backoff(self.failures.max(1), &self.account);
            if let Some(asked) = asked {
                delay = delay.max(asked.min(MAX_SUGGESTED_BACKOFF));
                text.push_str(&format!(" (waiting {} s, as the server asks)", delay.as_secs()));
            }
            warn!(error = %text, failures = self.failures, retry_in_ms = delay.as_millis() as u64, "sync failed");
            self.set(state, Some(&text)).await;
            if self.sleep(delay).await {
                return;
            }
        }
    }

    /// Connects and keeps the session: full passes every `interval_secs`, IDLE on the
    /// inbox in between (or plain waiting), local changes applied as they come. Returns
    /// only when something fails.
    async fn connected(&mut self, full_check: &mut bool) -> PassError {
        let crate::pass::Connected { mut session, adapter, chosen, .. } =
            match crate::pass::connect(&self.account, self.plugins.as_ref(), &self.store).await {
                Ok(c) => c,
                Err(e) => return e,
            };
        let adapter_id = chosen.as_ref().map(|c| c.id.as_str());
        self.logged("the serving adapter", self.store.set_adapter(&self.account.id, adapter_id).await);
        let quirks = match (&self.plugins, &adapter) {
            (Some(host), Some(a)) => {
                let (host, id) = (Arc::clone(host), a.id.clone());
                tokio::task::spawn_blocking(move || provider::quirks(&host, Some(&id))).await.unwrap_or_default()
            }
            _ => Quirks::default(),
        };
        let file = &self.account.file;
        let interval = Duration::from_secs(file.sync.interval_secs.max(1));
        let idle = file.sync.idle && session.has("IDLE");
        let refresh = idle_renewal(file, &quirks);
        let mut watchers = Watchers::default();
        let mut next_full = Instant::now();
        let mut inbox: Option<FolderId> = None;
        let mut left: Vec<MessageId> = Vec::new();
        loop {
            // The inbox was read in full by this iteration's full pass; its quick pass
            // only re-selects it for IDLE.
            let mut inbox_fresh = false;
            if let Err(e) = self.apply_changes(&mut session).await {
                return e;
            }
            if self.full_sync.swap(false, Ordering::Relaxed) {
                next_full = Instant::now();
            }
            if Instant::now() >= next_full {
                self.set_state(AccountState::Syncing).await;
                let opts = SyncOptions {
                    window_days: file.sync.window_days,
                    full_check: *full_check,
                    housekeeping: true,
                    flag_scan: true,
                    max_message_bytes: file.sync.max_message_mib << 20,
                    headers_only: file.sync.bodies == postfach_config::Bodies::OnDemand,
                };
                let summary = match crate::pass::full_pass(
                    &mut session,
                    &self.account,
                    &self.store,
                    self.plugins.as_ref(),
                    adapter.as_ref(),
                    self.projects.clone(),
                    &opts,
                )
                .await
                {
                    Ok(s) => s,
                    Err(e) => return e,
                };
                *full_check = false;
                self.failures = 0;
                let stored = self.folders().await;
                inbox = stored
                    .iter()
                    .find(|f| {
                        f.present
                            && f.folder.role == Some(Role::Inbox)
                            && summary.report.folders.iter().any(|r| r.folder == f.folder.name)
                    })
                    .map(|f| f.id);
                let notes = self.start_watchers(&mut watchers, &stored, &quirks).await;
                self.finish_pass(&summary, notes).await;
                self.settle(&mut left).await;
                next_full = later(interval);
                inbox_fresh = true;
            }
            // Folders the watchers saw change, and (before IDLE) the inbox itself.
            let mut quick: Vec<FolderId> = watchers.take_changed();
            if idle
                && let Some(id) = inbox
                && !quick.contains(&id)
            {
                quick.push(id);
            }
            for folder in quick {
                let flag_scan = !(inbox_fresh && Some(folder) == inbox);
                match self.quick_pass(&mut session, folder, flag_scan).await {
                    Ok(gone) if !gone.is_empty() => {
                        // Probably moved: find out where, now.
                        left.extend(gone);
                        next_full = Instant::now();
                    }
                    Ok(_) => {}
                    Err(e) => return e,
                }
            }
            if Instant::now() >= next_full {
                continue;
            }
            let until_full = next_full.saturating_duration_since(Instant::now());
            match (idle, inbox) {
                (true, Some(_)) => {
                    // News that came in while the last command ran would not wake IDLE.
                    if imap::drain_changes(&mut session) {
                        continue;
                    }
                    let (s, woken) = match imap::idle(session, until_full.min(refresh), &self.wake).await {
                        Ok(r) => r,
                        Err(e) => return e.into(),
                    };
                    session = s;
                    if woken == imap::Woken::Timeout
                        && quirks.noop_keepalive
                        && let Err(e) = session.noop().await
                    {
                        return e.into();
                    }
                }
                _ => {
                    tokio::select! {
                        () = tokio::time::sleep(until_full) => {}
                        () = self.wake.notified() => {}
                    }
                }
            }
        }
    }

    /// A pass over one folder (the inbox after IDLE, a watched folder); new mail is routed
    /// at once. Returns the messages that left the folder: a move looks like a removal
    /// until the destination is synced, so those wait for the next full pass.
    async fn quick_pass(
        &self,
        session: &mut imap::Session,
        folder: FolderId,
        flag_scan: bool,
    ) -> Result<Vec<MessageId>, PassError> {
        let Some(row) = self.store.folder(folder).await? else { return Ok(Vec::new()) };
        let opts = SyncOptions {
            window_days: self.account.file.sync.window_days,
            full_check: false,
            housekeeping: false,
            flag_scan,
            max_message_bytes: self.account.file.sync.max_message_mib << 20,
            headers_only: self.account.file.sync.bodies == postfach_config::Bodies::OnDemand,
        };
        let store = SyncStore::new(Store::clone(&self.store));
        let report = imap::sync_folder(session, &store, &self.account.id, &row, &opts).await?;
        if report.unchanged {
            return Ok(Vec::new());
        }
        let mut arrived: Vec<MessageId> =
            report.stats.touched.iter().copied().filter(|id| !report.gone.contains(id)).collect();
        arrived.sort_unstable();
        arrived.dedup();
        for s in &report.skipped {
            warn!(folder = %report.folder, uid = s.uid, reason = %s.why, "message not fetched");
        }
        if report.stats.new_messages > 0 {
            info!(folder = %report.folder, new = report.stats.new_messages, "new mail");
        }
        if let Some(e) = self.route(&arrived).await {
            warn!(error = %e, "routing failed");
        }
        Ok(report.gone)
    }

    /// After a full pass: messages that left a folder in a quick pass and were found
    /// nowhere since are removed; all of them are routed again.
    async fn settle(&self, left: &mut Vec<MessageId>) {
        if left.is_empty() {
            return;
        }
        let mut ids = std::mem::take(left);
        ids.sort_unstable();
        ids.dedup();
        let removed = self.store.emit_removed(&self.account.id, ids.clone()).await;
        self.logged("removals", removed.map(drop));
        if let Some(e) = self.route(&ids).await {
            warn!(error = %e, "routing failed");
        }
    }

    /// Applies the account's pending local changes (mark, delete, spam).
    async fn apply_changes(&self, session: &mut imap::Session) -> Result<(), PassError> {
        let applied = crate::changes::apply_pending(session, &self.store, &self.account.id).await?;
        for a in applied {
            match a.state {
                ChangeState::Done => info!(change = a.id, result = %a.result, "local change applied on the server"),
                _ => warn!(change = a.id, state = %a.state, result = %a.result, "local change not applied"),
            }
        }
        Ok(())
    }

    /// Shows a finished full pass: idle, with its notes next to the state.
    async fn finish_pass(&self, summary: &crate::pass::PassSummary, extra: Vec<String>) {
        let routed = &summary.routed;
        if routed.routed + routed.unrouted + routed.reassigned > 0 {
            info!(routed = routed.routed, unrouted = routed.unrouted, reassigned = routed.reassigned, "routed");
        }
        let mut notes = summary.notes();
        notes.extend(extra);
        let notes = (!notes.is_empty()).then(|| notes.join("; "));
        self.set(AccountState::Idle, notes.as_deref()).await;
        let new = summary.report.new_messages();
        if new > 0 {
            info!(new, "synced");
        }
    }

    async fn folders(&self) -> Vec<store::FolderRow> {
        match self.store.folders(&self.account.id).await {
            Ok(f) => f,
            Err(e) => {
                warn!(account = %self.account.id, error = %e, "cannot read the folder list; IDLE waits for the next pass");
                Vec::new()
            }
        }
    }

    /// Starts IDLE watchers for `[sync] idle_folders`, within the provider's connection
    /// limit (this session and one for sending count against it). Returns notes for the
    /// account's status when not every folder could be watched.
    async fn start_watchers(
        &self,
        watchers: &mut Watchers,
        folders: &[store::FolderRow],
        quirks: &Quirks,
    ) -> Vec<String> {
        let patterns = &self.account.file.sync.idle_folders;
        if patterns.is_empty() || !self.account.file.sync.idle {
            return Vec::new();
        }
        let wanted: Vec<&store::FolderRow> = folders
            .iter()
            .filter(|f| f.present && f.folder.selectable && f.folder.role != Some(Role::Inbox))
            .filter(|f| patterns.iter().any(|p| crate::config::glob_match(p, &f.folder.name)))
            .collect();
        let budget = match quirks.max_connections {
            0 => usize::MAX,
            n => (n as usize).saturating_sub(2),
        };
        let mut notes = Vec::new();
        if wanted.len() > budget {
            notes.push(format!(
                "idle_folders: {} of {} folders watched (the provider allows {} connections per account)",
                budget,
                wanted.len(),
                quirks.max_connections
            ));
        }
        let refused = watchers.refused();
        if let Some((_, words)) = refused.first() {
            notes.push(format!(
                "idle_folders: {} of {} folders not watched, the server allows no more connections ({words}); \
                 they are synced every interval_secs",
                refused.len(),
                wanted.len().min(budget)
            ));
        }
        for f in wanted.into_iter().take(budget) {
            if !watchers.wanted(f.id) {
                continue;
            }
            let watcher = Watcher {
                account: self.account.clone(),
                plugins: self.plugins.clone(),
                store: self.store.clone(),
                raw: f.folder.raw.clone(),
                folder: f.id,
                changed: Arc::clone(&watchers.changed),
                wake: Arc::clone(&self.wake),
                renew: idle_renewal(&self.account.file, quirks),
            };
            watchers.ensure(&f.folder.name, watcher, self.cancel.child_token());
        }
        notes
    }

    /// Routes what the pass touched; returns an error text for the account's status.
    async fn route(&self, touched: &[MessageId]) -> Option<String> {
        let host = Arc::clone(self.plugins.as_ref()?);
        let result =
            crate::routing::route_account(&self.store, &host, &self.account, self.projects.clone(), touched.to_vec())
                .await;
        match result {
            Ok(stats) => {
                if stats.routed + stats.unrouted + stats.reassigned > 0 {
                    info!(routed = stats.routed, unrouted = stats.unrouted, reassigned = stats.reassigned, "routed");
                }
                None
            }
            Err(e) => Some(format!("routing: {e}")),
        }
    }

    /// Sleeps; returns true when cancelled.
    async fn sleep(&self, d: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(d) => false,
            () = self.cancel.cancelled() => true,
        }
    }

    async fn meta(&self) {
        let f = &self.account.file;
        let written = self.store.upsert_account_meta(&self.account.id, &f.description, &f.provider, f.enabled).await;
        self.logged("the account's description", written);
    }

    async fn row(&self) -> Option<store::AccountRow> {
        match self.store.account(&self.account.id).await {
            Ok(row) => row,
            Err(e) => {
                warn!(account = %self.account.id, error = %e, "cannot read the account's stored state");
                None
            }
        }
    }

    async fn clear_disabled(&self) {
        self.logged("clearing the auto-disable marker", self.store.set_disabled_digest(&self.account.id, None).await);
    }

    async fn set_state(&self, state: AccountState) {
        tracing::debug!(%state, "state");
        self.logged("the account state", self.store.set_account_state(&self.account.id, state).await);
    }

    async fn set(&self, state: AccountState, error: Option<&str>) {
        tracing::debug!(%state, "state");
        let status = AccountStatus { state, last_error: error.map(str::to_owned), failures: self.failures };
        self.logged("the account state", self.store.set_account_status(&self.account.id, status).await);
    }

    /// A store write that failed is logged with the account and what was lost; the
    /// account goes on (the next pass writes again).
    fn logged(&self, what: &str, result: Result<(), StoreError>) {
        if let Err(e) = result {
            tracing::error!(account = %self.account.id, error = %e, "cannot record {what} in the store");
        }
    }
}

/// Test builds only: `POSTFACH_FAULT_PANIC=<account id>` makes that account's task panic
/// before it connects, so tests can prove that a dying task is seen and restarted.
#[cfg(debug_assertions)]
fn fault_injection(account: &str) {
    if std::env::var("POSTFACH_FAULT_PANIC").is_ok_and(|v| v == account) {
        panic!("injected fault (POSTFACH_FAULT_PANIC)");
    }
}

#[cfg(not(debug_assertions))]
fn fault_injection(_: &str) {}

/// How long one IDLE may last before it is re-issued: RFC 2177's 29 minutes at most,
/// sooner where the provider drops it (`idle-refresh-secs`), asks for keepalives, or the
/// account says so (`[sync] idle_renew_secs`). Ending an IDLE waits for the server's
/// answer within `imap.timeout_secs`, so this is also how soon a connection that went
/// silent is noticed.
fn idle_renewal(file: &crate::config::AccountFile, quirks: &Quirks) -> Duration {
    let mut secs = match quirks.idle_refresh_secs {
        0 => 29 * 60,
        s => u64::from(s),
    };
    if quirks.noop_keepalive {
        secs = secs.min(5 * 60);
    }
    if let Some(own) = file.sync.idle_renew_secs {
        secs = secs.min(own);
    }
    Duration::from_secs(secs.max(1))
}

/// The longest wait a server's suggested backoff can impose (Exchange asks for about 5
/// minutes; a typo or a hostile server must not park an account for days).
const MAX_SUGGESTED_BACKOFF: Duration = Duration::from_secs(3600);

/// `now + d`, or far in the future where that would overflow.
fn later(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d).unwrap_or_else(|| now + Duration::from_secs(86_400 * 365))
}

/// IDLE connections on folders other than the inbox (`[sync] idle_folders`). Each reports
/// a change by adding its folder to `changed` and waking the account's main session,
/// which then syncs that folder; the watchers themselves never write to the store.
#[derive(Default)]
struct Watchers {
    running: HashMap<FolderId, JoinHandle<()>>,
    changed: Arc<Mutex<HashSet<FolderId>>>,
    /// Folders whose watcher the server refused for its connection limit, with its
    /// words: not tried again while the session lasts (each try would cost a login and
    /// could take the slot the main session needs after a reconnect).
    refused: Arc<Mutex<HashMap<FolderId, String>>>,
}

impl Watchers {
    fn take_changed(&mut self) -> Vec<FolderId> {
        let mut set = self.changed.lock().unwrap_or_else(|p| p.into_inner());
        set.drain().collect()
    }

    /// Folders refused for the server's connection limit, with its words.
    fn refused(&self) -> Vec<(FolderId, String)> {
        self.refused.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|(f, w)| (*f, w.clone())).collect()
    }

    /// Whether `folder` needs a watcher started: none runs for it, and the server has not
    /// refused one for its connection limit.
    fn wanted(&self, folder: FolderId) -> bool {
        self.running.get(&folder).is_none_or(|t| t.is_finished())
            && !self.refused.lock().unwrap_or_else(|p| p.into_inner()).contains_key(&folder)
    }

    /// Starts `watcher` (for a folder [`Watchers::wanted`] said needs one).
    fn ensure(&mut self, name: &str, watcher: Watcher, cancel: CancellationToken) {
        let folder = watcher.folder;
        let refused = Arc::clone(&self.refused);
        let span = tracing::info_span!("idle", folder = %name);
        let task = tokio::spawn(
            async move {
                let mut failures = 0u32;
                loop {
                    let e = tokio::select! {
                        e = watcher.watch(failures > 0) => e,
                        () = cancel.cancelled() => return,
                    };
                    if let PassError::Imap(imap) = &e
                        && imap.is_connection_limit()
                    {
                        warn!(error = %e, "IDLE watcher refused for the server's connection limit; the folder is synced by the full passes");
                        refused.lock().unwrap_or_else(|p| p.into_inner()).insert(folder, e.to_string());
                        return;
                    }
                    failures += 1;
                    let delay = Duration::from_secs(2u64.saturating_pow(failures.min(8)).min(300));
                    warn!(error = %e, retry_in_s = delay.as_secs(), "IDLE watcher failed");
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = cancel.cancelled() => return,
                    }
                }
            }
            .instrument(span),
        );
        self.running.insert(folder, task);
    }
}

impl Drop for Watchers {
    fn drop(&mut self) {
        for task in self.running.values() {
            task.abort();
        }
    }
}

/// One watched folder: what its connection needs, and where it reports a change.
struct Watcher {
    account: Account,
    plugins: Option<Arc<PluginHost>>,
    store: Store,
    /// The folder's name as the server spells it.
    raw: String,
    folder: FolderId,
    changed: Arc<Mutex<HashSet<FolderId>>>,
    wake: Arc<Notify>,
    /// How long one IDLE lasts before it is re-issued.
    renew: Duration,
}

impl Watcher {
    /// One connection: EXAMINE the folder, IDLE, report changes. Returns on failure. A
    /// `resumed` watcher (one whose last connection failed) reports its folder as changed
    /// once it is watching again, so what arrived in between is not left for the next
    /// full pass.
    async fn watch(&self, resumed: bool) -> PassError {
        let mut session = match crate::pass::connect(&self.account, self.plugins.as_ref(), &self.store).await {
            Ok(c) => c.session,
            Err(e) => return e,
        };
        if let Err(e) = session.examine(&self.raw).await {
            return e.into();
        }
        if resumed {
            self.report();
        }
        // Nobody wakes a watcher early; it only ever waits for the server.
        let never = Notify::new();
        loop {
            match imap::idle(session, self.renew, &never).await {
                Ok((s, woken)) => {
                    session = s;
                    if woken == imap::Woken::Changed {
                        self.report();
                    }
                }
                Err(e) => return e.into(),
            }
        }
    }

    fn report(&self) {
        self.changed.lock().unwrap_or_else(|p| p.into_inner()).insert(self.folder);
        self.wake.notify_one();
    }
}

/// Exponential backoff from `retry_initial_secs`, capped at `retry_max_secs`, with ±25 %
/// jitter so many accounts failing together do not retry in lockstep.
pub fn backoff(failures: u32, account: &Account) -> Duration {
    let s = &account.file.sync;
    let base = s.retry_initial_secs.max(1) as f64 * 2f64.powi(failures.saturating_sub(1).min(30) as i32);
    let capped = base.min(s.retry_max_secs.max(1) as f64);
    let jitter = 0.75 + fastrand::f64() * 0.5;
    Duration::from_secs_f64(capped * jitter)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn account(initial: u64, max: u64) -> Account {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mm.toml");
        let toml = format!(
            "description = \"x\"\n[identity]\nemail = \"mm@x.de\"\n[sync]\nretry_initial_secs = {initial}\nretry_max_secs = {max}\n"
        );
        std::fs::write(&file, toml).unwrap();
        crate::config::load_account(&file, dir.path()).unwrap()
    }

    #[test]
    fn backoff_doubles_within_jitter_and_stops_at_the_maximum() {
        let a = account(2, 300);
        for (failures, base) in [(1u32, 2.0f64), (2, 4.0), (3, 8.0), (8, 256.0), (9, 300.0), (1000, 300.0)] {
            for _ in 0..50 {
                let d = backoff(failures, &a).as_secs_f64();
                assert!(d >= base * 0.75 - 1e-9 && d <= base * 1.25 + 1e-9, "{failures} failures: {d} s vs {base}");
            }
        }
    }

    #[test]
    fn backoff_spreads_accounts_that_fail_together() {
        let a = account(60, 3600);
        let delays: std::collections::HashSet<u128> = (0..20).map(|_| backoff(1, &a).as_millis()).collect();
        assert!(delays.len() > 10, "jitter: {delays:?}");
    }

    #[test]
    fn later_never_overflows() {
        let far = later(Duration::MAX);
        assert!(far > Instant::now());
    }
}
