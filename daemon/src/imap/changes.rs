//! Changing mail on the server: flags, moves and deletions, and applying the store's
//! pending local changes (`postfachd mark`, `delete`, `spam`).
//!
//! Moves use `UID MOVE` where the server has MOVE; otherwise `UID COPY`, `UID STORE
//! +FLAGS.SILENT (\Deleted)` and `UID EXPUNGE` of exactly those UIDs (UIDPLUS). A bare
//! `EXPUNGE` is never sent: it would also remove mail another client marked `\Deleted`.
//! Without UIDPLUS the source is left marked `\Deleted`, and the result says so.

use futures::TryStreamExt;

use super::error::ImapError;
use super::session::Session;
use super::sync::{search, sequence_set, timed};
use crate::model::Role;
use crate::store::changes::{Change, Op};
use crate::store::messages::{Link, Place};
use crate::store::{self, FolderRow, SharedStore};

/// What a move or deletion did on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Gone from the source folder.
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
    let t = session.timeout;
    let set = sequence_set(uids);
    let mut after = Vec::new();
    for (sign, flags) in [("+", add), ("-", remove)] {
        if flags.is_empty() {
            continue;
        }
        let query = format!("{sign}FLAGS ({})", flags.join(" "));
        let command = format!("UID STORE {set} {query}");
        let mut stream = timed(t, command.clone(), session.inner.uid_store(&set, &query))
            .await?
            .map_err(|e| ImapError::command(command.clone(), e))?;
        while let Some(fetch) =
            timed(t, command.clone(), stream.try_next()).await?.map_err(|e| ImapError::command(command.clone(), e))?
        {
            if let Some(uid) = fetch.uid {
                after.retain(|(u, _, _)| *u != uid);
                after.push((uid, super::sync::flags(&fetch), fetch.modseq));
            }
        }
    }
    Ok(after)
}

/// Marks UIDs of the selected folder `\Deleted` and expunges exactly those.
pub async fn delete_uids(session: &mut Session, uids: &[u32]) -> Result<Removal, ImapError> {
    let t = session.timeout;
    let set = sequence_set(uids);
    let command = format!("UID STORE {set} +FLAGS.SILENT (\\Deleted)");
    {
        let stream = timed(t, command.clone(), session.inner.uid_store(&set, "+FLAGS.SILENT (\\Deleted)"))
            .await?
            .map_err(|e| ImapError::command(command.clone(), e))?;
        timed(t, command.clone(), stream.try_collect::<Vec<_>>())
            .await?
            .map_err(|e| ImapError::command(command.clone(), e))?;
    }
    if !session.has("UIDPLUS") {
        return Ok(Removal::MarkedDeleted);
    }
    let command = format!("UID EXPUNGE {set}");
    let stream = timed(t, command.clone(), session.inner.uid_expunge(&set))
        .await?
        .map_err(|e| ImapError::command(command.clone(), e))?;
    timed(t, command.clone(), stream.try_collect::<Vec<_>>())
        .await?
        .map_err(|e| ImapError::command(command.clone(), e))?;
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

/// What happened to one pending change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The change's id.
    pub id: i64,
    /// `done`, `failed`, or `pending` (tried again later).
    pub state: &'static str,
    /// What was done, or why not (the server's words).
    pub result: String,
}

/// Folders by role, from the stored listing.
fn by_role(folders: &[FolderRow], role: Role) -> Option<&FolderRow> {
    folders.iter().find(|f| f.present && f.folder.selectable && f.folder.role == Some(role))
}

/// Applies an account's pending changes in order. Server refusals fail only their change;
/// a broken connection stops here and leaves the rest pending.
pub async fn apply_pending(
    session: &mut Session,
    store: &SharedStore,
    account: &str,
) -> Result<Vec<Applied>, ImapError> {
    let acct = account.to_owned();
    let pending = store.call(move |c| store::changes::pending(c, &acct)).await?;
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    let acct = account.to_owned();
    let folders = store.call(move |c| store::folders::list(c, &acct)).await?;
    let mut out = Vec::new();
    for change in pending {
        let message = change.message;
        let places = store.call(move |c| store::messages::places(c, message)).await?;
        let outcome = apply_one(session, store, &folders, &change, &places).await;
        let (state, result) = match outcome {
            Ok(text) => ("done", text),
            Err(Problem::Refused(text)) => ("failed", text),
            Err(Problem::Later(text)) if change.attempts + 1 >= 3 => ("failed", text),
            Err(Problem::Later(text)) => ("pending", text),
            Err(Problem::Connection(e)) => return Err(e),
        };
        let (id, r) = (change.id, result.clone());
        store.call(move |c| store::changes::finish(c, id, state, &r)).await?;
        out.push(Applied { id: change.id, state, result });
    }
    Ok(out)
}

enum Problem {
    /// The server or the situation says no; trying again will not help.
    Refused(String),
    /// Try again after the next sync (the folder was renumbered).
    Later(String),
    /// The connection broke.
    Connection(ImapError),
}

fn classify(e: ImapError) -> Problem {
    match e {
        ImapError::Command { command, text } if text.starts_with("NO ") || text.starts_with("BAD ") => {
            Problem::Refused(format!("{command}: {text}"))
        }
        other => Problem::Connection(other),
    }
}

async fn apply_one(
    session: &mut Session,
    store: &SharedStore,
    folders: &[FolderRow],
    change: &Change,
    places: &[Place],
) -> Result<String, Problem> {
    if places.is_empty() {
        return Err(Problem::Refused("the message is no longer on the server".into()));
    }
    match change.op {
        Op::Flags => {
            let mut done = Vec::new();
            for place in places {
                enter(session, place).await?;
                let after = store_flags(session, &[place.uid], &change.add, &change.remove).await.map_err(classify)?;
                let (folder_id, uidvalidity) = (place.folder.id, place.uidvalidity);
                store
                    .call(move |c| store::messages::update_flags(c, folder_id, uidvalidity, &after))
                    .await
                    .map_err(|e| Problem::Connection(e.into()))?;
                done.push(place.folder.folder.name.clone());
            }
            let mut what: Vec<String> = change.add.iter().map(|f| format!("+{f}")).collect();
            what.extend(change.remove.iter().map(|f| format!("-{f}")));
            Ok(format!("{} in {}", what.join(" "), done.join(", ")))
        }
        Op::Delete => {
            let trash = by_role(folders, Role::Trash);
            let mut done = Vec::new();
            let mut moved = false;
            for place in places {
                let in_trash = trash.is_some_and(|t| t.id == place.folder.id);
                enter(session, place).await?;
                let to = trash.filter(|_| !in_trash);
                let removal = match to {
                    Some(t) => move_uids(session, &[place.uid], &t.folder.raw).await,
                    None => delete_uids(session, &[place.uid]).await,
                }
                .map_err(classify)?;
                forget(store, place).await?;
                if let Some(t) = to {
                    moved = true;
                    follow(session, store, &change.account, change.message, t).await?;
                }
                done.push(describe(place, removal, to));
            }
            if !moved {
                // Deleted for good from every folder: say so at once.
                let (account, message) = (change.account.clone(), change.message);
                store
                    .call(move |c| store::messages::emit_removed(c, &account, &[message]))
                    .await
                    .map_err(|e| Problem::Connection(e.into()))?;
            }
            Ok(done.join("; "))
        }
        Op::Spam | Op::NotSpam => {
            let (from_role, to_role, hint) = if change.op == Op::Spam {
                (None, Role::Junk, "junk (set folders.junk)")
            } else {
                (Some(Role::Junk), Role::Inbox, "inbox")
            };
            let Some(target) = by_role(folders, to_role) else {
                return Err(Problem::Refused(format!("the account has no {hint} folder")));
            };
            let place = match from_role {
                Some(role) => places.iter().find(|p| p.folder.folder.role == Some(role)),
                // The inbox copy first; otherwise wherever it is, unless already junk.
                None => places
                    .iter()
                    .find(|p| p.folder.folder.role == Some(Role::Inbox))
                    .or_else(|| places.iter().find(|p| p.folder.folder.role != Some(Role::Junk))),
            };
            let Some(place) = place else {
                let why = if change.op == Op::Spam { "already in the junk folder" } else { "not in the junk folder" };
                return Err(Problem::Refused(format!("the message is {why}")));
            };
            enter(session, place).await?;
            let removal = move_uids(session, &[place.uid], &target.folder.raw).await.map_err(classify)?;
            forget(store, place).await?;
            follow(session, store, &change.account, change.message, target).await?;
            Ok(describe(place, removal, Some(target)))
        }
    }
}

/// Selects the place's folder, checking that its UIDs still mean what the store thinks.
async fn enter(session: &mut Session, place: &Place) -> Result<(), Problem> {
    match select_place(session, &place.folder.folder.raw, place.uidvalidity).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(Problem::Later(format!(
            "\"{}\" was renumbered on the server (UIDVALIDITY); the change is applied after the next sync",
            place.folder.folder.name
        ))),
        Err(e) => Err(classify(e)),
    }
}

/// The store forgets a location that was moved or deleted (the message itself stays).
async fn forget(store: &SharedStore, place: &Place) -> Result<(), Problem> {
    let (folder, uidvalidity, uid) = (place.folder.id, place.uidvalidity, place.uid);
    store
        .call(move |c| store::messages::mark_removed(c, folder, uidvalidity, &[uid]))
        .await
        .map(drop)
        .map_err(|e| Problem::Connection(e.into()))
}

/// After a move: finds the message in the destination and records its new place at
/// once, so the store never shows it in no folder until the next pass. The message is
/// found by its Message-ID among the destination's UIDs the store does not know yet
/// (without a Message-ID: the destination's newest UID). Not finding it is no error:
/// the next pass links it.
async fn follow(
    session: &mut Session,
    store: &SharedStore,
    account: &str,
    message: i64,
    to: &FolderRow,
) -> Result<(), Problem> {
    let message_id = store
        .call(move |c| store::messages::message_id_of(c, message))
        .await
        .map_err(|e| Problem::Connection(e.into()))?;
    let raw = to.folder.raw.clone();
    let t = session.timeout;
    let mailbox = timed(t, format!("SELECT {raw}"), session.inner.select(&raw))
        .await
        .map_err(Problem::Connection)?
        .map_err(|e| classify(ImapError::command(format!("SELECT \"{raw}\""), e)))?;
    let Some(uidvalidity) = mailbox.uid_validity else { return Ok(()) };
    let query = match message_id.as_deref().and_then(quoted) {
        Some(id) => format!("HEADER Message-ID {id}"),
        None => "UID *".to_owned(),
    };
    let found = search(session, &query).await.map_err(classify)?;
    let folder = to.id;
    let known = store
        .call(move |c| store::messages::known_uids(c, folder, uidvalidity))
        .await
        .map_err(|e| Problem::Connection(e.into()))?;
    let Some(uid) = found.into_iter().filter(|u| !known.contains(u)).max() else { return Ok(()) };
    let command = format!("UID FETCH {uid} (UID FLAGS)");
    let fetched: Vec<_> = {
        let stream = timed(t, command.clone(), session.inner.uid_fetch(uid.to_string(), "(UID FLAGS)"))
            .await
            .map_err(Problem::Connection)?
            .map_err(|e| classify(ImapError::command(command.clone(), e)))?;
        timed(t, command.clone(), stream.try_collect::<Vec<_>>())
            .await
            .map_err(Problem::Connection)?
            .map_err(|e| classify(ImapError::command(command.clone(), e)))?
    };
    let (flags, modseq) =
        fetched.iter().find(|f| f.uid == Some(uid)).map(|f| (super::sync::flags(f), f.modseq)).unwrap_or_default();
    let link = Link { uid, message, flags, modseq };
    let account = account.to_owned();
    store
        .call(move |c| store::messages::commit_batch(c, &account, folder, uidvalidity, &[], &[link]))
        .await
        .map(drop)
        .map_err(|e| Problem::Connection(e.into()))
}

/// An IMAP quoted string, or `None` for a value that cannot be one (control characters,
/// 8-bit text).
fn quoted(value: &str) -> Option<String> {
    if value.is_empty() || !value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return None;
    }
    Some(format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\"")))
}

fn describe(place: &Place, removal: Removal, to: Option<&FolderRow>) -> String {
    let from = &place.folder.folder.name;
    match (removal, to) {
        (Removal::Done, Some(t)) => format!("moved from {from} to {}", t.folder.name),
        (Removal::Done, None) => format!("deleted from {from}"),
        (Removal::MarkedDeleted, Some(t)) => format!(
            "copied from {from} to {}; the original is marked \\Deleted (the server lacks UIDPLUS, so it is not expunged)",
            t.folder.name
        ),
        (Removal::MarkedDeleted, None) => {
            format!("marked \\Deleted in {from} (the server lacks UIDPLUS, so it is not expunged)")
        }
    }
}
