//! Applying the store's pending local changes (`postfachd mark`, `delete`, `spam`) on the
//! server, in the order they were made, by whoever holds the account's connection: the
//! daemon, or the command itself when no daemon runs. Moves are followed into their
//! destination at once, so the store never shows a moved message in no folder.

use postfach_imap::{self as imap, ImapError, Session};
use postfach_imap::{Removal, delete_uids, move_uids, select_place, store_flags};
use postfach_model::{MessageId, Role};
use postfach_store::{Change, ChangeState, FolderRow, Link, Op, Place, Store, StoreError};

use crate::pass::PassError;

/// What happened to one pending change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The id the store gave the change when `postfachd mark`, `delete` or `spam` queued it (`change #<id>`).
    pub id: i64,
    /// Done, failed, or still pending (tried again later).
    pub state: ChangeState,
    /// What was done, or why not (the server's words).
    pub result: String,
}

/// Folders by role, from the stored listing.
fn by_role(folders: &[FolderRow], role: Role) -> Option<&FolderRow> {
    folders.iter().find(|f| f.present && f.folder.selectable && f.folder.role == Some(role))
}

/// Applies an account's pending changes in order. Server refusals fail only their change;
/// a broken connection stops here and leaves the rest pending.
pub async fn apply_pending(session: &mut Session, store: &Store, account: &str) -> Result<Vec<Applied>, PassError> {
    let pending = store.pending_changes(account).await?;
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    let folders = store.folders(account).await?;
    let mut out = Vec::new();
    for change in pending {
        let places = store.places(change.message).await?;
        let outcome = apply_one(session, store, &folders, &change, &places).await;
        let (state, result) = match outcome {
            Ok(text) => (ChangeState::Done, text),
            Err(Problem::Refused(text)) => (ChangeState::Failed, text),
            Err(Problem::Later(text)) if change.attempts + 1 >= 3 => (ChangeState::Failed, text),
            Err(Problem::Later(text)) => (ChangeState::Pending, text),
            Err(Problem::Connection(e)) => return Err(e.into()),
            Err(Problem::Store(e)) => return Err(e.into()),
        };
        store.finish_change(change.id, state, &result).await?;
        out.push(Applied { id: change.id, state, result });
    }
    Ok(out)
}

enum Problem {
    /// The server or the situation says no; trying again will not help.
    Refused(String),
    /// Try again after the next sync (the folder was renumbered).
    Later(String),
    /// Any other IMAP error (I/O, timeout, BYE): applying stops and the remaining changes stay pending.
    Connection(ImapError),
    /// The store could not read or record a change; applying stops with this error.
    Store(StoreError),
}

impl Problem {
    fn store(e: StoreError) -> Problem {
        Problem::Store(e)
    }
}

fn classify(e: ImapError) -> Problem {
    match e {
        e @ ImapError::Refused { .. } => Problem::Refused(e.to_string()),
        ImapError::Command { command, text } if text.starts_with("NO ") || text.starts_with("BAD ") => {
            Problem::Refused(format!("{command}: {text}"))
        }
        other => Problem::Connection(other),
    }
}

async fn apply_one(
    session: &mut Session,
    store: &Store,
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
                store.update_flags(place.folder.id, place.uidvalidity, after).await.map_err(Problem::store)?;
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
                store.emit_removed(&change.account, vec![change.message]).await.map_err(Problem::store)?;
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
        Op::Move => {
            let wanted = change.target.as_deref().unwrap_or_default();
            let Some(target) = move_target(folders, wanted) else {
                return Err(Problem::Refused(format!("the account has no folder {wanted}")));
            };
            // One copy moves (the first outside the destination); a copy already there stays.
            let movable: Vec<&Place> = places.iter().filter(|p| p.folder.id != target.id).collect();
            let Some(place) = movable.first() else {
                return Err(Problem::Refused(format!("the message is already in {}", target.folder.name)));
            };
            enter(session, place).await?;
            let removal = move_uids(session, &[place.uid], &target.folder.raw).await.map_err(classify)?;
            forget(store, place).await?;
            follow(session, store, &change.account, change.message, target).await?;
            Ok(describe(place, removal, Some(target)))
        }
    }
}

/// The destination of a move: `role:<role>` names a folder by role, anything else by its
/// decoded name.
fn move_target<'a>(folders: &'a [FolderRow], wanted: &str) -> Option<&'a FolderRow> {
    match wanted.strip_prefix("role:") {
        Some(role) => role.parse::<Role>().ok().and_then(|role| by_role(folders, role)),
        None => folders.iter().find(|f| f.present && f.folder.selectable && f.folder.name == wanted),
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
async fn forget(store: &Store, place: &Place) -> Result<(), Problem> {
    store.mark_removed(place.folder.id, place.uidvalidity, vec![place.uid]).await.map(drop).map_err(Problem::store)
}

/// After a move: finds the message in the destination and records its new place at
/// once, so the store never shows it in no folder until the next pass. The message is
/// found by its Message-ID among the destination's UIDs the store does not know yet
/// (without a Message-ID: the destination's newest UID). Not finding it is no error:
/// the next pass links it.
async fn follow(
    session: &mut Session,
    store: &Store,
    account: &str,
    message: MessageId,
    to: &FolderRow,
) -> Result<(), Problem> {
    let message_id = store.message_id_of(message).await.map_err(Problem::store)?;
    let Some(found) = imap::find_moved(session, &to.folder.raw, message_id.as_deref()).await.map_err(classify)? else {
        return Ok(());
    };
    let known = store.known_uids(to.id, found.uidvalidity).await.map_err(Problem::store)?;
    let Some(uid) = found.uids.into_iter().filter(|u| !known.contains(u)).max() else { return Ok(()) };
    let (flags, modseq) = imap::fetch_flags(session, uid).await.map_err(classify)?.unwrap_or_default();
    let link = Link { uid, message, flags, modseq };
    store
        .commit_batch(account, to.id, found.uidvalidity, Vec::new(), vec![link])
        .await
        .map(drop)
        .map_err(Problem::store)
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
