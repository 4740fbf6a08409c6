//! The account test (`postfachd test`, `POST /v1/accounts/{id}/test`): log in to IMAP and
//! list the folders, then connect to SMTP, say EHLO and authenticate; no mail is sent.
//! Each step is reported with the server's words.

use std::sync::Arc;

use crate::config::Account;
use crate::model::Role;
use crate::plugins::PluginHost;
use crate::provider;
use crate::smtp;
use crate::store::Store;

/// One step of the test.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Step {
    /// What was tried.
    pub step: String,
    /// Whether it worked.
    pub ok: bool,
    /// The server's words or the reason.
    pub detail: String,
}

fn step(steps: &mut Vec<Step>, step: impl Into<String>, ok: bool, detail: impl Into<String>) {
    steps.push(Step { step: step.into(), ok, detail: detail.into() });
}

/// The IMAP half: connect, log in, LIST (the listing is stored, like `folders --refresh`).
async fn imap_steps(store: &Store, plugins: &Arc<PluginHost>, account: &Account, steps: &mut Vec<Step>) {
    let crate::pass::Connected { mut session, adapter, chosen, address, user } =
        match crate::pass::connect(account, Some(plugins), store).await {
            Ok(c) => c,
            Err(e) => return step(steps, "IMAP login", false, e.to_string()),
        };
    let provider = chosen.as_ref().map_or_else(|| "none".to_owned(), |c| c.id.clone());
    step(steps, format!("IMAP login at {address}"), true, format!("logged in as {user}; provider adapter: {provider}"));
    let result = crate::pass::refresh_folders(&mut session, store, account, adapter.as_ref()).await;
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
}

/// Runs the account test.
pub async fn run(store: &Store, plugins: Arc<PluginHost>, account: &Account) -> Vec<Step> {
    let mut steps = Vec::new();
    imap_steps(store, &plugins, account, &mut steps).await;
    if account.file.send {
        let (acct, host) = (account.clone(), Arc::clone(&plugins));
        let endpoint = tokio::task::spawn_blocking(move || provider::smtp_endpoint(Some(&host), &acct)).await;
        match endpoint {
            Ok(Ok(mut ep)) => match crate::oauth::fill_smtp(store, account, Some(&plugins), &mut ep).await {
                Ok(()) => {
                    for s in smtp::probe(&ep).await {
                        step(&mut steps, format!("SMTP {}", s.step), s.ok, s.detail);
                    }
                }
                Err(e) => step(&mut steps, "SMTP OAuth2 token", false, e.to_string()),
            },
            Ok(Err(e)) => step(&mut steps, "SMTP", false, e.to_string()),
            Err(e) => step(&mut steps, "SMTP", false, format!("internal error: {e}")),
        }
    } else {
        step(&mut steps, "SMTP", true, "skipped: send = false");
    }
    steps
}
