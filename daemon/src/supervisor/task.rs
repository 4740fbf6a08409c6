//! The life of one account: connect, sync, wait, and on failure back off with jitter,
//! until `max_failures` consecutive failures auto-disable it (until its file changes).

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, warn};

use std::collections::HashSet;
use std::sync::Arc;

use crate::config::Account;
use crate::imap::{self, SyncOptions};
use crate::model::{AccountState, now_unix};
use crate::plugins::PluginHost;
use crate::store::{self, AccountStatus, SharedStore};

/// Runs the account until `cancel` fires.
pub async fn run(
    account: Account,
    store: SharedStore,
    plugins: Option<Arc<PluginHost>>,
    projects: Option<Arc<HashSet<String>>>,
    cancel: CancellationToken,
) {
    let span = tracing::info_span!("account", id = %account.id);
    AccountTask { account, store, plugins, projects, cancel, failures: 0 }.run().instrument(span).await;
}

struct AccountTask {
    account: Account,
    store: SharedStore,
    plugins: Option<Arc<PluginHost>>,
    projects: Option<Arc<HashSet<String>>>,
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

        let interval = Duration::from_secs(file.sync.interval_secs);
        let mut opts = SyncOptions { window_days: file.sync.window_days, full_check: true };
        loop {
            self.set_state(AccountState::Connecting).await;
            let result = tokio::select! {
                r = self.pass(&opts) => r,
                () = self.cancel.cancelled() => return,
            };
            match result {
                Ok(report) => {
                    self.failures = 0;
                    opts.full_check = false;
                    // Problems that did not stop the pass stay visible next to the state.
                    let routing_error = self.route(&report.touched()).await;
                    let notes: Vec<String> = report
                        .adapter_error
                        .iter()
                        .cloned()
                        .chain(routing_error)
                        .chain(report.folder_errors.iter().map(|(f, e)| format!("{f}: {e}")))
                        .collect();
                    let folder_errors = (!notes.is_empty()).then(|| notes.join("; "));
                    let id = self.account.id.clone();
                    let _ = self.store.call(move |c| store::accounts::record_sync(c, &id, now_unix())).await;
                    self.set(AccountState::Idle, folder_errors.as_deref()).await;
                    if report.new_messages() > 0 {
                        info!(new = report.new_messages(), "synced");
                    }
                    if self.sleep(interval).await {
                        return;
                    }
                }
                Err(e) => {
                    self.failures += 1;
                    let text = e.to_string();
                    let max = file.sync.max_failures;
                    if self.failures >= max {
                        let why = format!(
                            "auto-disabled after {max} consecutive failures (edit the account file to retry); last error: {text}"
                        );
                        warn!(error = %text, failures = self.failures, "account auto-disabled");
                        self.set(AccountState::Disabled, Some(&why)).await;
                        let (id, digest) = (self.account.id.clone(), self.account.digest.clone());
                        let _ =
                            self.store.call(move |c| store::accounts::set_disabled_digest(c, &id, Some(&digest))).await;
                        return self.cancel.cancelled().await;
                    }
                    let state = if e.is_auth() { AccountState::AuthFailed } else { AccountState::BackingOff };
                    let delay = backoff(self.failures, &self.account);
                    warn!(error = %text, failures = self.failures, retry_in_ms = delay.as_millis() as u64, "sync failed");
                    self.set(state, Some(&text)).await;
                    if self.sleep(delay).await {
                        return;
                    }
                }
            }
        }
    }

    async fn pass(&self, opts: &SyncOptions) -> Result<imap::AccountReport, imap::ImapError> {
        let imap::Connected { mut session, adapter, chosen, .. } =
            imap::connect(&self.account, self.plugins.as_ref()).await?;
        let (id, adapter_id) = (self.account.id.clone(), chosen.as_ref().map(|c| c.id.clone()));
        let _ = self.store.call(move |c| store::accounts::set_adapter(c, &id, adapter_id.as_deref())).await;
        self.set_state(AccountState::Syncing).await;
        let result = imap::sync_with_session(&mut session, &self.account, &self.store, adapter.as_ref(), opts).await;
        session.logout().await;
        result
    }

    /// Routes what the pass touched; returns an error text for the account's status.
    async fn route(&self, touched: &[i64]) -> Option<String> {
        let host = Arc::clone(self.plugins.as_ref()?);
        let (store, account, projects, touched) =
            (SharedStore::clone(&self.store), self.account.clone(), self.projects.clone(), touched.to_vec());
        let result = tokio::task::spawn_blocking(move || {
            crate::routing::route_account(&store, &host, &account, projects, &touched)
        })
        .await;
        match result {
            Ok(Ok(stats)) => {
                if stats.routed + stats.unrouted + stats.reassigned > 0 {
                    info!(routed = stats.routed, unrouted = stats.unrouted, reassigned = stats.reassigned, "routed");
                }
                None
            }
            Ok(Err(e)) => Some(format!("routing: {e}")),
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
        let (id, f) = (self.account.id.clone(), self.account.file.clone());
        let _ = self
            .store
            .call(move |c| store::accounts::upsert_meta(c, &id, &f.description, &f.provider, f.enabled))
            .await;
    }

    async fn row(&self) -> Option<store::AccountRow> {
        let id = self.account.id.clone();
        self.store.call(move |c| store::accounts::get(c, &id)).await.ok().flatten()
    }

    async fn clear_disabled(&self) {
        let id = self.account.id.clone();
        let _ = self.store.call(move |c| store::accounts::set_disabled_digest(c, &id, None)).await;
    }

    async fn set_state(&self, state: AccountState) {
        let id = self.account.id.clone();
        tracing::debug!(%state, "state");
        if let Err(e) = self.store.call(move |c| store::accounts::set_state(c, &id, state)).await {
            warn!(error = %e, "cannot record account state");
        }
    }

    async fn set(&self, state: AccountState, error: Option<&str>) {
        let (id, error, failures) = (self.account.id.clone(), error.map(str::to_owned), self.failures);
        tracing::debug!(%state, "state");
        let result = self
            .store
            .call(move |c| {
                store::accounts::set_status(c, &id, &AccountStatus { state, last_error: error.as_deref(), failures })
            })
            .await;
        if let Err(e) = result {
            warn!(error = %e, "cannot record account state");
        }
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
