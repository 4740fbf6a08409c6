//! `postfachd sync [ACCOUNT] --once`: one pass over all (or one) accounts, then exit.
#![allow(clippy::print_stderr)]

use std::sync::Arc;
use std::time::Instant;

use futures::stream::{self, StreamExt};
use serde::Serialize;

use super::output;
use super::{CliError, load_account, open_store};
use crate::config::{Account, Config};
use crate::imap::SyncOptions;
use crate::model::AccountState;
use crate::plugins::PluginHost;
use crate::store::{AccountStatus, Store};

/// Accounts synced at the same time.
const PARALLEL: usize = 16;

/// The result of one account's pass.
#[derive(Debug, Serialize)]
pub struct SyncJson {
    account: String,
    ok: bool,
    new_messages: u64,
    linked: u64,
    relinked: u64,
    removed: u64,
    bytes: u64,
    folders: usize,
    seconds: f64,
    error: Option<String>,
    skipped: Option<String>,
    provider: Option<String>,
    warning: Option<String>,
    routed: u64,
    flags_changed: u64,
    /// What retention did on the server, one line per folder and rule.
    retention: Vec<String>,
}

/// Runs one pass; exit status 1 if any account failed.
pub async fn run(config: &Config, only: Option<&str>, json: bool) -> Result<(), CliError> {
    let store = open_store(config).await?;
    let accounts: Vec<Account> = match only {
        Some(id) => vec![load_account(config, id).await?],
        None => {
            let set = config.load_accounts();
            for e in set.all_errors() {
                eprintln!("{e}");
            }
            set.accounts.into_values().collect()
        }
    };
    let plugins = super::plugin_host(config).await?;
    let projects = config.projects()?.map(|p| p.numbers());
    // A running daemon owns the accounts' states; this pass only adds what it finds.
    let daemon_running = crate::daemon::is_running(&config.data_dir());
    let results: Vec<SyncJson> = stream::iter(accounts)
        .map(|a| one(a, store.clone(), Arc::clone(&plugins), projects.clone(), daemon_running))
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    let mut results = results;
    results.sort_by(|a, b| a.account.cmp(&b.account));
    let failed = results.iter().any(|r| !r.ok);
    if json {
        output::json(&results);
    } else {
        for r in &results {
            match (&r.error, &r.skipped) {
                (Some(e), _) => eprintln!("{}: failed: {e}", r.account),
                (None, Some(why)) => output::line(&format!("{}: skipped ({why})", r.account)),
                (None, None) => {
                    if let Some(w) = &r.warning {
                        eprintln!("{}: warning: {w}", r.account);
                    }
                    output::line(&format!(
                        "{}: {} new, {} linked, {} relinked, {} gone, {} flags changed, {} routed, {} folders, {:.1} MB in {:.2}s",
                        r.account,
                        r.new_messages,
                        r.linked,
                        r.relinked,
                        r.removed,
                        r.flags_changed,
                        r.routed,
                        r.folders,
                        r.bytes as f64 / 1e6,
                        r.seconds
                    ));
                    for line in &r.retention {
                        output::line(&format!("  {line}"));
                    }
                }
            }
        }
    }
    if failed { Err(CliError::Reported) } else { Ok(()) }
}

async fn one(
    account: Account,
    store: Store,
    plugins: Arc<PluginHost>,
    projects: Option<Arc<std::collections::HashSet<String>>>,
    daemon_running: bool,
) -> SyncJson {
    let started = Instant::now();
    let mut out = SyncJson {
        account: account.id.clone(),
        ok: true,
        new_messages: 0,
        linked: 0,
        relinked: 0,
        removed: 0,
        bytes: 0,
        folders: 0,
        seconds: 0.0,
        error: None,
        skipped: None,
        provider: None,
        warning: None,
        routed: 0,
        flags_changed: 0,
        retention: Vec::new(),
    };
    if !account.file.enabled {
        out.skipped = Some("enabled = false".into());
        return out;
    }
    if !account.file.receive {
        out.skipped = Some("receive = false".into());
        return out;
    }
    let row = store.account(&account.id).await.ok().flatten();
    if row.as_ref().and_then(|r| r.disabled_digest.as_deref()) == Some(account.digest.as_str()) {
        out.skipped = Some("auto-disabled; edit the account file to enable it again".into());
        return out;
    }
    let f = &account.file;
    if let Err(e) = store.upsert_account_meta(&account.id, &f.description, &f.provider, f.enabled).await {
        eprintln!("{}: cannot record the account in the store: {e}", account.id);
    }
    let opts = SyncOptions {
        window_days: account.file.sync.window_days,
        full_check: true,
        housekeeping: true,
        flag_scan: true,
        max_message_bytes: account.file.sync.max_message_mib << 20,
        headers_only: account.file.sync.bodies == postfach_config::Bodies::OnDemand,
    };
    let result = crate::pass::pass_once(&account, &store, Some(&plugins), projects, &opts).await;
    out.seconds = started.elapsed().as_secs_f64();
    let id = account.id.as_str();
    // What this command could not record is said, not dropped.
    let note = |what: &str, r: Result<(), crate::store::StoreError>| {
        if let Err(e) = r {
            eprintln!("{id}: cannot record {what} in the store: {e}");
        }
    };
    match result {
        Ok((summary, chosen)) => {
            let report = &summary.report;
            out.provider = chosen.map(|c| c.id);
            // The adapter's failure, routing, refused folders, messages left on the server.
            let notes = summary.notes();
            out.warning = (!notes.is_empty()).then(|| notes.join("; "));
            out.routed = summary.routed.routed + summary.routed.reassigned;
            for f in &report.folders {
                out.new_messages += f.stats.new_messages;
                out.linked += f.stats.linked;
                out.relinked += f.stats.relinked;
                out.removed += f.removed;
                out.bytes += f.bytes;
                out.flags_changed += f.flags_changed;
            }
            out.retention = report.retention.iter().map(|(f, what)| format!("{f}: {what}")).collect();
            out.folders = report.folders.len();
            if !daemon_running {
                let status =
                    AccountStatus { state: AccountState::Stopped, last_error: out.warning.clone(), failures: 0 };
                note("the account state", store.set_account_status(id, status).await);
            }
        }
        Err(e) => {
            let text = e.to_string();
            out.ok = false;
            out.error = Some(text.clone());
            let state = if e.is_auth() { AccountState::AuthFailed } else { AccountState::Stopped };
            if daemon_running {
                return out;
            }
            let status = AccountStatus { state, last_error: Some(text), failures: 0 };
            note("the account state", store.set_account_status(id, status).await);
        }
    }
    out
}
