//! `postfachd outbox [--json]` and `postfachd outbox retry ID`: what is queued, sent and
//! failed, with the server's words.

use serde::Serialize;

use super::output::{self, Table, clip};
use super::{CliError, open_store};
use crate::config::Config;
use crate::store::{OutboxEntry as Entry, OutboxState};

/// One element of `postfachd outbox --json`.
#[derive(Debug, Serialize)]
pub struct OutboxJson {
    id: i64,
    account: String,
    kind: &'static str,
    state: &'static str,
    message_id: String,
    subject: Option<String>,
    from: String,
    recipients: Vec<String>,
    attempts: u32,
    next_attempt_at: Option<String>,
    last_error: Option<String>,
    server_reply: Option<String>,
    copy: Option<String>,
    created_at: Option<String>,
    sent_at: Option<String>,
}

impl From<Entry> for OutboxJson {
    fn from(e: Entry) -> Self {
        let waiting = matches!(e.state, OutboxState::Queued | OutboxState::Deferred);
        OutboxJson {
            id: e.id,
            account: e.account,
            kind: e.kind.as_str(),
            state: e.state.as_str(),
            message_id: e.message_id,
            subject: e.subject,
            from: e.envelope_from,
            recipients: e.recipients,
            attempts: e.attempts,
            next_attempt_at: if waiting { e.next_attempt_at.rfc3339() } else { None },
            last_error: e.last_error,
            server_reply: e.server_reply,
            copy: e.copy,
            created_at: e.created_at.rfc3339(),
            sent_at: e.sent_at.and_then(|t| t.rfc3339()),
        }
    }
}

/// Lists the outbox.
pub async fn list(config: &Config, json: bool) -> Result<(), CliError> {
    let store = open_store(config).await?;
    let rows: Vec<OutboxJson> = store.outbox().await?.into_iter().map(OutboxJson::from).collect();
    if json {
        output::json(&rows);
        return Ok(());
    }
    let mut table = Table::new(&["ID", "ACCOUNT", "STATE", "TRIES", "TO", "SUBJECT", "DETAIL"]);
    for r in &rows {
        let detail = match r.state {
            "sent" | "saved" => {
                let reply = r.server_reply.clone().unwrap_or_default();
                match &r.copy {
                    Some(copy) => format!("{reply}; copy: {copy}"),
                    None => reply,
                }
            }
            "deferred" => format!(
                "{} (next try {})",
                r.last_error.clone().unwrap_or_default(),
                r.next_attempt_at.clone().unwrap_or_else(|| "-".into())
            ),
            _ => r.last_error.clone().unwrap_or_default(),
        };
        table.row(vec![
            r.id.to_string(),
            r.account.clone(),
            if r.kind == "draft" { format!("{} (draft)", r.state) } else { r.state.to_owned() },
            r.attempts.to_string(),
            clip(&r.recipients.join(", "), 30),
            clip(r.subject.as_deref().unwrap_or(""), 30),
            clip(&detail, 100),
        ]);
    }
    table.print();
    Ok(())
}

/// Queues a failed or deferred entry again and wakes the daemon.
pub async fn retry(config: &Config, id: i64) -> Result<(), CliError> {
    let store = open_store(config).await?;
    if store.retry_outbox(id).await? {
        crate::wake::nudge(config, &crate::wake::Target::Outbox);
        output::line(&format!("outbox #{id} queued again"));
        return Ok(());
    }
    match store.outbox_entry(id).await? {
        None => Err(CliError::UnknownOutboxEntry(id)),
        Some(e) => Err(CliError::NotRetryable { id, state: e.state }),
    }
}
