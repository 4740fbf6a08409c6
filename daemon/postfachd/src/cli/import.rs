//! `postfachd import ACCOUNT PATH`: mail from an mbox file or a maildir into the store.
//! Each message is identified like synced mail (Message-ID, else a content key), so
//! importing twice, or syncing the same mail over IMAP later, never stores it twice.

use serde::Serialize;

use super::output;
use super::{CliError, load_account, open_store};
use crate::config::Config;
use crate::imap;
use crate::store::FetchedMessage;

/// The result of `--json`.
#[derive(Debug, Serialize)]
struct ImportJson {
    account: String,
    read: usize,
    imported: usize,
    already_stored: u64,
}

/// Imports the export at `path`.
pub async fn run(config: &Config, id: &str, path: &std::path::Path, json: bool) -> Result<(), CliError> {
    let account = load_account(config, id).await?;
    let store = open_store(config).await?;
    let p = path.to_owned();
    let exported = tokio::task::spawn_blocking(move || crate::import::read(&p)).await??;
    let read = exported.len();
    let messages: Vec<FetchedMessage> = exported
        .into_iter()
        .map(|e| {
            let headers = imap::parse_headers(&e.raw);
            FetchedMessage {
                uid: 0,
                flags: Vec::new(),
                modseq: None,
                internal_date: headers.date,
                hash: blake3::hash(&e.raw).to_hex().to_string(),
                headers,
                gmail_thread: None,
                header_only: None,
                raw: e.raw,
            }
        })
        .collect();
    let (new, known) = store.import_messages(&account.id, messages).await?;
    if json {
        output::json(&ImportJson { account: account.id.clone(), read, imported: new.len(), already_stored: known });
    } else {
        output::line(&format!(
            "{}: {read} messages read from {}, {} imported, {known} already stored",
            account.id,
            path.display(),
            new.len()
        ));
    }
    Ok(())
}
