//! `postfachd mark`, `delete` and `spam`: a local change to a stored message, recorded in
//! the store and applied on the server — by the running daemon (woken for it), or by this
//! command over its own connection when no daemon runs.
#![allow(clippy::print_stderr)]

use std::time::{Duration, Instant};

use serde::Serialize;

use super::output;
use super::{CliError, load_account, open_store};
use crate::config::Config;

use crate::model::MessageId;
use crate::store::{ChangeState, Op, Store};
use crate::wake::{self, Target};

/// How long a command waits for the daemon to apply its change.
const DAEMON_WAIT: Duration = Duration::from_secs(30);

/// The result of `--json`.
#[derive(Debug, Serialize)]
struct ChangeJson {
    change: i64,
    local_id: i64,
    account: String,
    op: &'static str,
    state: &'static str,
    result: Option<String>,
}

/// Records the change and sees it applied.
pub async fn run(
    config: &Config,
    local_id: i64,
    op: Op,
    add: Vec<String>,
    remove: Vec<String>,
    json: bool,
) -> Result<(), CliError> {
    let store = open_store(config).await?;
    let message = MessageId(local_id);
    let account_id = store.account_of(message).await?.ok_or(CliError::UnknownMessage(message))?;
    let account = load_account(config, &account_id).await?;
    if !account.file.enabled {
        return Err(CliError::AccountDisabled(account_id));
    }
    let id = store.enqueue_change(&account_id, message, op, &add, &remove).await?;
    if crate::daemon::is_running(&config.data_dir()) {
        wake::nudge(config, &Target::Account(account_id.clone()));
        let deadline = Instant::now() + DAEMON_WAIT;
        while Instant::now() < deadline {
            if let Some(c) = store.change(id).await?
                && c.state != ChangeState::Pending
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    } else {
        apply_here(config, &store, &account).await?;
    }
    let change = store.change(id).await?.ok_or(CliError::Vanished { what: "change", id })?;
    if json {
        output::json(&ChangeJson {
            change: id,
            local_id,
            account: account_id,
            op: op.as_str(),
            state: change.state.as_str(),
            result: change.result.clone(),
        });
    }
    match change.state {
        ChangeState::Done => {
            if !json {
                output::line(change.result.as_deref().unwrap_or("done"));
            }
            Ok(())
        }
        ChangeState::Pending => {
            if !json {
                eprintln!(
                    "queued as change #{id}: {}; it is applied when the account is connected",
                    change.result.as_deref().unwrap_or("the daemon has not got to it yet")
                );
            }
            Ok(())
        }
        ChangeState::Failed => {
            if !json {
                eprintln!("not applied: {}", change.result.as_deref().unwrap_or("unknown reason"));
            }
            Err(CliError::Reported)
        }
    }
}

/// No daemon: connect and apply the account's pending changes (this one among them).
async fn apply_here(config: &Config, store: &Store, account: &crate::config::Account) -> Result<(), CliError> {
    let plugins = super::plugin_host(config).await?;
    let crate::pass::Connected { mut session, adapter, .. } =
        crate::pass::connect(account, Some(&plugins), store).await?;
    // The stored folder list must exist to know where the trash and junk folders are.
    if store.folders(&account.id).await?.is_empty() {
        crate::pass::refresh_folders(&mut session, store, account, adapter.as_ref()).await?;
    }
    let result = crate::changes::apply_pending(&mut session, store, &account.id).await;
    session.logout().await;
    result?;
    Ok(())
}
