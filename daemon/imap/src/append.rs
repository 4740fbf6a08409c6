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
    timed(t + t, format!("APPEND {raw_folder}"), session.inner.append(raw_folder, Some(flags), None, raw))
        .await?
        .map_err(|e| ImapError::command(format!("APPEND \"{raw_folder}\""), e))?;
    Ok(Placed::Appended)
}
