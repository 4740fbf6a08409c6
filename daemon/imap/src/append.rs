//! Putting a message into a folder on the server, once: the Sent copy after submission and
//! drafts. The folder is searched for the Message-ID first, so a copy never appears twice
//! (a crash between APPEND and recording it, a server that saved it already).

use super::error::ImapError;
use super::session::Session;
use super::sync::timed;

/// Whether a message was put there or found there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placed {
    /// No message in the folder had this Message-ID, so `raw` was APPENDed with the given flags.
    Appended,
    /// A message with this Message-ID is already in the folder.
    AlreadyThere,
}

/// APPENDs `raw` to the folder (wire name) unless a message with `message_id` is there.
pub async fn append_once(
    session: &mut Session,
    raw_folder: &str,
    message_id: &str,
    flags: &str,
    raw: &[u8],
) -> Result<Placed, ImapError> {
    let t = session.timeout;
    timed(t, format!("SELECT {raw_folder}"), session.inner.select(raw_folder))
        .await?
        .map_err(|e| ImapError::command(format!("SELECT \"{raw_folder}\""), e))?;
    // Message-IDs never contain a double quote; strip any so the command stays well-formed.
    let needle = format!("<{}>", message_id.replace('"', ""));
    let query = format!("HEADER Message-ID \"{needle}\"");
    let found = super::sync::search(session, &query).await?;
    if !found.is_empty() {
        return Ok(Placed::AlreadyThere);
    }
    append(session, raw_folder, flags, raw).await?;
    Ok(Placed::Appended)
}

/// `APPEND "<folder>" (<flags>) {n}` and the literal after the server's go-ahead. Read
/// here rather than by async-imap, whose error for a refused APPEND drops the server's
/// words (`NO [OVERQUOTA] Quota exceeded` became "could not append mail to mailbox").
async fn append(session: &mut Session, raw_folder: &str, flags: &str, raw: &[u8]) -> Result<(), ImapError> {
    use async_imap::imap_proto::Response;
    let t = session.timeout;
    let quoted = format!("\"{}\"", raw_folder.replace('\\', "\\\\").replace('"', "\\\""));
    let flags = if flags.is_empty() { String::new() } else { format!(" {flags}") };
    let command = format!("APPEND {quoted}{flags} {{{}}}", raw.len());
    let mut answer = session.send(&command).await?;
    // A refusal before the literal (an unknown folder, a size the server will not take)
    // comes as the tagged NO instead of the go-ahead.
    loop {
        match answer.next(|r| matches!(r, Response::Continue { .. })).await? {
            Some(true) => break,
            Some(false) => {}
            None => {
                return Err(ImapError::Command {
                    command,
                    text: "the server answered OK before the message was sent".into(),
                });
            }
        }
    }
    timed(t + t, format!("APPEND {raw_folder}"), answer.write_literal(raw))
        .await?
        .map_err(|e| ImapError::Command { command: command.clone(), text: format!("connection error: {e}") })?;
    while answer.next(|_| ()).await?.is_some() {}
    Ok(())
}
