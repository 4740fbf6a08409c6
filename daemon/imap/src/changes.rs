//! Changing mail on the server: flags, moves and deletions, and finding a moved message
//! in its new folder. The daemon applies the store's pending local changes (`postfachd
//! mark`, `delete`, `spam`) with these.
//!
//! Moves use `UID MOVE` where the server has MOVE; otherwise `UID COPY`, `UID STORE
//! +FLAGS.SILENT (\Deleted)` and `UID EXPUNGE` of exactly those UIDs (UIDPLUS). A bare
//! `EXPUNGE` is never sent: it would also remove mail another client marked `\Deleted`.
//! Without UIDPLUS the source is left marked `\Deleted`, and the result says so.

use super::error::ImapError;
use super::session::Session;
use super::sync::{search, sequence_set, timed};

/// What a move or deletion did on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Gone from the source folder: moved with `UID MOVE`, or copied, marked `\Deleted` and expunged by UID.
    Done,
    /// Marked `\Deleted` but not expunged: the server lacks UIDPLUS.
    MarkedDeleted,
}

/// SELECTs a folder and checks that its UIDVALIDITY is still the stored one.
pub async fn select_place(session: &mut Session, raw: &str, uidvalidity: u32) -> Result<bool, ImapError> {
    let t = session.timeout;
    let mailbox = timed(t, format!("SELECT {raw}"), session.inner.select(raw))
        .await?
        .map_err(|e| ImapError::command(format!("SELECT \"{raw}\""), e))?;
    Ok(mailbox.uid_validity == Some(uidvalidity))
}

/// `UID STORE` on the selected folder: adds and removes flags (other flags stay as they
/// are); returns the flags the server reports afterwards.
pub async fn store_flags(
    session: &mut Session,
    uids: &[u32],
    add: &[String],
    remove: &[String],
) -> Result<Vec<(u32, Vec<String>, Option<u64>)>, ImapError> {
    let set = sequence_set(uids);
    let mut after = Vec::new();
    for (sign, flags) in [("+", add), ("-", remove)] {
        if flags.is_empty() {
            continue;
        }
        let answer = session.send(&format!("UID STORE {set} {sign}FLAGS ({})", flags.join(" "))).await?;
        for (uid, flags, modseq) in answer.fetches(|f| Some((f.uid()?, f.flags(), f.modseq()))).await? {
            after.retain(|(u, _, _)| *u != uid);
            after.push((uid, flags, modseq));
        }
    }
    Ok(after)
}

/// Marks UIDs of the selected folder `\Deleted` and expunges exactly those.
pub async fn delete_uids(session: &mut Session, uids: &[u32]) -> Result<Removal, ImapError> {
    let set = sequence_set(uids);
    session.send(&format!("UID STORE {set} +FLAGS.SILENT (\\Deleted)")).await?.fetches(|_| Some(())).await?;
    if !session.has("UIDPLUS") {
        return Ok(Removal::MarkedDeleted);
    }
    session.send(&format!("UID EXPUNGE {set}")).await?.fetches(|_| Some(())).await?;
    Ok(Removal::Done)
}

/// Moves UIDs of the selected folder to `to` (wire name).
pub async fn move_uids(session: &mut Session, uids: &[u32], to: &str) -> Result<Removal, ImapError> {
    let t = session.timeout;
    let set = sequence_set(uids);
    if session.has("MOVE") {
        let command = format!("UID MOVE {set} \"{to}\"");
        timed(t, command.clone(), session.inner.uid_mv(&set, to)).await?.map_err(|e| ImapError::command(command, e))?;
        return Ok(Removal::Done);
    }
    let command = format!("UID COPY {set} \"{to}\"");
    timed(t, command.clone(), session.inner.uid_copy(&set, to)).await?.map_err(|e| ImapError::command(command, e))?;
    delete_uids(session, uids).await
}

/// Where a moved message landed: the destination's UIDVALIDITY and the UIDs that match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The destination's UIDVALIDITY as its SELECT reported it; `uids` are valid only under it.
    pub uidvalidity: u32,
    /// UIDs with the Message-ID (without one: the newest UID).
    pub uids: Vec<u32>,
}

/// After a move: SELECTs the destination `to` (wire name) and searches it for the
/// message by its Message-ID; without a usable Message-ID, the destination's newest UID
/// stands for it.
pub async fn find_moved(session: &mut Session, to: &str, message_id: Option<&str>) -> Result<Option<Found>, ImapError> {
    let t = session.timeout;
    let mailbox = timed(t, format!("SELECT {to}"), session.inner.select(to))
        .await?
        .map_err(|e| ImapError::command(format!("SELECT \"{to}\""), e))?;
    let Some(uidvalidity) = mailbox.uid_validity else { return Ok(None) };
    let query = match message_id.and_then(quoted) {
        Some(id) => format!("HEADER Message-ID {id}"),
        None => "UID *".to_owned(),
    };
    let uids: Vec<u32> = search(session, &query).await?.into_iter().collect();
    Ok(Some(Found { uidvalidity, uids }))
}

/// The flags and MODSEQ of one UID of the selected folder.
pub async fn fetch_flags(session: &mut Session, uid: u32) -> Result<Option<(Vec<String>, Option<u64>)>, ImapError> {
    let answer = session.send(&format!("UID FETCH {uid} (UID FLAGS)")).await?;
    let fetched = answer.fetches(|f| (f.uid() == Some(uid)).then(|| (f.flags(), f.modseq()))).await?;
    Ok(fetched.into_iter().next())
}

/// An IMAP quoted string, or `None` for a value that cannot be one (control characters,
/// 8-bit text).
fn quoted(value: &str) -> Option<String> {
    if value.is_empty() || !value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return None;
    }
    Some(format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\"")))
}
