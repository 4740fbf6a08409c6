//! `postfachd test ACCOUNT`: logs in to IMAP and lists the folders, then connects to SMTP,
//! says EHLO and authenticates; no mail is sent. Each step is reported with the server's
//! words, and the command exits 1 when one fails.

use std::sync::Arc;

use serde::Serialize;

use super::output::{self, Table};
use super::{CliError, load_account, open_store};
use crate::config::Config;

use crate::model::Role;
use crate::plugins::PluginHost;
use crate::provider;
use crate::smtp;

/// One line of `postfachd test --json`.
#[derive(Debug, Serialize)]
pub struct StepJson {
    /// What was tried.
    pub step: String,
    /// Whether it worked.
    pub ok: bool,
    /// The server's words or the reason.
    pub detail: String,
}

fn step(steps: &mut Vec<StepJson>, step: impl Into<String>, ok: bool, detail: impl Into<String>) {
    steps.push(StepJson { step: step.into(), ok, detail: detail.into() });
}

/// The IMAP half: connect, log in, LIST.
async fn imap_steps(
    config: &Config,
    plugins: &Arc<PluginHost>,
    account: &crate::config::Account,
    steps: &mut Vec<StepJson>,
) -> Result<(), CliError> {
    let crate::pass::Connected { mut session, adapter, chosen, address, user } =
        match crate::pass::connect(account, Some(plugins)).await {
            Ok(c) => c,
            Err(e) => {
                step(steps, "IMAP login", false, e.to_string());
                return Ok(());
            }
        };
    let provider = chosen.as_ref().map_or_else(|| "none".to_owned(), |c| c.id.clone());
    step(steps, format!("IMAP login at {address}"), true, format!("logged in as {user}; provider adapter: {provider}"));
    let store = open_store(config)?;
    let result = crate::pass::refresh_folders(&mut session, &store, account, adapter.as_ref()).await;
    session.logout().await;
    match result {
        Ok((rows, adapter_error)) => {
            let present: Vec<_> = rows.iter().filter(|r| r.present).collect();
            let mut roles: Vec<String> = Vec::new();
            for role in [Role::Inbox, Role::Sent, Role::Drafts, Role::Trash, Role::Junk, Role::Archive] {
                match present.iter().find(|r| r.folder.role == Some(role)) {
                    Some(r) => roles.push(format!("{role} = {}", r.folder.name)),
                    None if matches!(role, Role::Sent | Role::Drafts) => {
                        roles.push(format!("{role} = none (set folders.{role})"))
                    }
                    None => {}
                }
            }
            step(steps, "IMAP LIST", true, format!("{} folders; {}", present.len(), roles.join(", ")));
            if let Some(e) = adapter_error {
                step(steps, "provider adapter", false, e);
            }
        }
        Err(e) => step(steps, "IMAP LIST", false, e.to_string()),
    }
    Ok(())
}

/// Runs the account test.
pub async fn run(config: &Config, id: &str, json: bool) -> Result<(), CliError> {
    let account = load_account(config, id).await?;
    let mut steps = Vec::new();
    let plugins = super::plugin_host(config).await?;
    imap_steps(config, &plugins, &account, &mut steps).await?;
    if account.file.send {
        let acct = account.clone();
        let endpoint = tokio::task::spawn_blocking(move || provider::smtp_endpoint(Some(&plugins), &acct)).await?;
        match endpoint {
            Ok(ep) => {
                for s in smtp::probe(&ep).await {
                    step(&mut steps, format!("SMTP {}", s.step), s.ok, s.detail);
                }
            }
            Err(e) => step(&mut steps, "SMTP", false, e.to_string()),
        }
    } else {
        step(&mut steps, "SMTP", true, "skipped: send = false");
    }
    let failed = steps.iter().any(|s| !s.ok);
    if json {
        output::json(&steps);
    } else {
        let mut table = Table::new(&["", "STEP", "DETAIL"]);
        for s in &steps {
            table.row(vec![if s.ok { "ok".into() } else { "FAIL".into() }, s.step.clone(), s.detail.clone()]);
        }
        table.print();
    }
    if failed { Err(CliError::Reported) } else { Ok(()) }
}
