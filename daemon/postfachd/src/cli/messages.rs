//! `postfachd messages ACCOUNT`: stored messages, newest first; `postfachd show ID`: one
//! message's source (its body fetched first if it was stored header-only).

use serde::Serialize;

use super::output::{self, Table, clip};
use super::{CliError, load_account, open_store};
use crate::config::Config;
use crate::model::rfc3339;
use crate::store::MessageFilter;

/// One line of `postfachd messages --json`.
#[derive(Debug, Serialize)]
pub struct MessageJson {
    local_id: i64,
    account: String,
    folder: Option<String>,
    uid: Option<u32>,
    message_id: Option<String>,
    subject: Option<String>,
    from: Option<String>,
    date: Option<String>,
    flags: Vec<String>,
    project: Option<String>,
    on_server: bool,
    folders: Vec<String>,
}

/// Lists an account's stored messages.
pub async fn run(
    config: &Config,
    id: &str,
    folder: Option<String>,
    project: Option<String>,
    limit: Option<usize>,
    json: bool,
) -> Result<(), CliError> {
    // A removed account's mail stays listable, so only an unknown id is an error.
    let store = open_store(config).await?;
    let known = store.account(id).await?.is_some();
    if !known {
        load_account(config, id).await?;
    }
    if let Some(name) = &folder {
        let folders = store.folders(id).await?;
        if !folders.iter().any(|f| &f.folder.name == name) {
            let mut names: Vec<&str> = folders.iter().map(|f| f.folder.name.as_str()).collect();
            names.sort_unstable();
            return Err(CliError::UnknownFolder {
                account: id.to_owned(),
                folder: name.clone(),
                known: names.into_iter().map(str::to_owned).collect(),
            });
        }
    }
    let filter = MessageFilter { account: Some(id.to_owned()), folder, project };
    let mut rows = store.messages(filter).await?;
    if let Some(limit) = limit {
        rows.truncate(limit);
    }
    let out: Vec<MessageJson> = rows
        .into_iter()
        .map(|m| MessageJson {
            local_id: m.local_id.0,
            account: m.account,
            folder: m.folder,
            uid: m.uid,
            message_id: m.message_id,
            subject: m.subject,
            from: (!m.from.is_empty()).then(|| m.from.join(", ")),
            date: m.date.and_then(rfc3339),
            flags: m.flags,
            project: m.project,
            on_server: m.on_server,
            folders: m.folders,
        })
        .collect();
    if json {
        output::json(&out);
        return Ok(());
    }
    let mut table = Table::new(&["ID", "DATE", "FOLDER", "FROM", "SUBJECT", "PROJECT"]);
    for m in &out {
        table.row(vec![
            m.local_id.to_string(),
            m.date.clone().unwrap_or_default(),
            clip(&m.folder.clone().unwrap_or_default(), 30),
            clip(&m.from.clone().unwrap_or_default(), 30),
            clip(&m.subject.clone().unwrap_or_default(), 50),
            m.project.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    table.print();
    Ok(())
}

/// Prints a stored message's source to standard output, fetching its body from the
/// server first if the account stores bodies on demand and this one is not here yet.
pub async fn show(config: &Config, local_id: i64) -> Result<(), CliError> {
    use std::io::Write as _;
    let store = open_store(config).await?;
    let id = crate::model::MessageId(local_id);
    let account = store.account_of(id).await?.ok_or(CliError::UnknownMessage(id))?;
    if store.body_missing(id).await? {
        let account = load_account(config, &account).await?;
        let plugins = super::plugin_host(config).await?;
        crate::bodies::ensure(&store, &account, Some(&plugins), id).await?;
    }
    let raw = store.raw_message(id).await?.ok_or(CliError::UnknownMessage(id))?;
    let mut out = std::io::stdout().lock();
    out.write_all(&raw).and_then(|()| out.flush()).map_err(CliError::Output)?;
    Ok(())
}
