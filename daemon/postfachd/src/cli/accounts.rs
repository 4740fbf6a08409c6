//! `postfachd accounts`: every account with its state, from the files and the store.

use std::collections::BTreeMap;

use serde::Serialize;

use super::output::{self, Table, clip};
use super::{CliError, open_store};
use crate::config::Config;
use crate::model::AccountState;
use crate::store;

/// One line of `postfachd accounts --json`.
#[derive(Debug, Serialize)]
pub struct AccountJson {
    id: String,
    description: String,
    enabled: bool,
    receive: bool,
    send: bool,
    default: bool,
    state: String,
    provider: String,
    provider_setting: String,
    last_sync: Option<String>,
    last_error: Option<String>,
    config_error: Option<String>,
    /// Why the account does not run although its file says `enabled = true`
    /// (auto-disabled after `max_failures`), or `enabled = false`.
    disabled_reason: Option<String>,
    failures: u32,
}

/// Lists accounts.
pub async fn run(config: &Config, json: bool) -> Result<(), CliError> {
    let store = open_store(config).await?;
    let rows: BTreeMap<String, store::AccountRow> =
        store.accounts().await?.into_iter().map(|r| (r.id.clone(), r)).collect();
    let daemon = crate::daemon::is_running(&config.data_dir());
    let set = config.load_accounts();

    let mut ids: Vec<&String> = set.accounts.keys().chain(set.errors.keys()).chain(rows.keys()).collect();
    ids.sort();
    ids.dedup();
    let mut out = Vec::new();
    for id in ids {
        let row = rows.get(id);
        let file = set.accounts.get(id).map(|a| &a.file);
        let config_error = set.errors.get(id).map(|e| e.to_string());
        let mut state = row.map_or(AccountState::Stopped, |r| r.state);
        // Without a daemon nothing is connecting or idle; the stored state is history.
        if !daemon
            && matches!(
                state,
                AccountState::Connecting
                    | AccountState::Syncing
                    | AccountState::Idle
                    | AccountState::BackingOff
                    | AccountState::AuthFailed
            )
        {
            state = AccountState::Stopped;
        }
        // The file was fixed and the daemon has not picked it up yet (or no daemon runs).
        if state == AccountState::ConfigError && config_error.is_none() && file.is_some() {
            state = AccountState::Stopped;
        }
        let auto_disabled = set
            .accounts
            .get(id)
            .is_some_and(|a| row.and_then(|r| r.disabled_digest.as_deref()) == Some(a.digest.as_str()));
        let disabled_reason = match file {
            Some(f) if !f.enabled => Some("enabled = false in the account file".to_owned()),
            Some(_) if auto_disabled => Some(format!(
                "auto-disabled after {} consecutive failures; edit the account file to enable it again",
                row.map_or(0, |r| r.failures)
            )),
            _ => None,
        };
        let state = if file.is_none() && config_error.is_none() {
            "removed".to_owned()
        } else if file.is_none() && !daemon {
            AccountState::ConfigError.to_string()
        } else if auto_disabled {
            AccountState::Disabled.to_string()
        } else {
            state.to_string()
        };
        out.push(AccountJson {
            id: id.clone(),
            description: file
                .map(|f| f.description.clone())
                .or_else(|| row.map(|r| r.description.clone()))
                .unwrap_or_default(),
            enabled: file.map_or_else(|| row.is_some_and(|r| r.enabled), |f| f.enabled),
            receive: file.is_some_and(|f| f.receive),
            send: file.is_some_and(|f| f.send),
            default: file.is_some_and(|f| f.default),
            state,
            provider: row
                .and_then(|r| r.adapter.clone())
                .or_else(|| file.map(|f| f.provider.clone()))
                .or_else(|| row.map(|r| r.provider.clone()))
                .unwrap_or_default(),
            provider_setting: file
                .map(|f| f.provider.clone())
                .or_else(|| row.map(|r| r.provider.clone()))
                .unwrap_or_default(),
            last_sync: row.and_then(|r| r.last_sync).and_then(|t| t.rfc3339()),
            last_error: row.and_then(|r| r.last_error.clone()),
            config_error,
            disabled_reason,
            failures: row.map_or(0, |r| r.failures),
        });
    }
    if json {
        output::json(&out);
        return Ok(());
    }
    let mut table = Table::new(&["ID", "STATE", "ENABLED", "PROVIDER", "LAST SYNC", "DESCRIPTION", "LAST ERROR"]);
    for a in &out {
        let error = match (&a.config_error, &a.last_error) {
            (Some(c), _) => format!("config: {}", c.lines().next().unwrap_or("")),
            (None, Some(e)) => e.clone(),
            (None, None) => String::new(),
        };
        table.row(vec![
            a.id.clone(),
            a.state.clone(),
            match (a.enabled, &a.disabled_reason) {
                (true, Some(_)) => "no (auto)".into(),
                (true, None) => "yes".into(),
                (false, _) => "no".into(),
            },
            a.provider.clone(),
            a.last_sync.clone().unwrap_or_else(|| "-".into()),
            clip(&a.description, 40),
            clip(&error, 100),
        ]);
    }
    table.print();
    Ok(())
}
