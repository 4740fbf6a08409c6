//! Server-side housekeeping after a full pass: mail older than the sync window is moved to
//! the archive folder or deleted (`after_window`), and inbox, junk and sent mail older
//! than `server_retention_days` is deleted. Age is the server's INTERNALDATE
//! (`UID SEARCH BEFORE`).
//!
//! Only messages the store holds are touched, so nothing is ever removed from the server
//! that Postfach has not kept; the store marks them gone from the server and keeps them.
//! The window applies to the synced folders except archive, trash, junk and drafts.

use std::collections::HashSet;

use super::changes::{Removal, delete_uids, move_uids};
use super::error::ImapError;
use super::session::Session;
use super::sync::{since_date, timed};
use crate::store::MailStore;
use postfach_config::{Account, AfterWindow};
use postfach_model::Role;
use postfach_model::{FolderRow, MessageId};

/// What housekeeping did, per folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// `(decoded folder name, what was done)`, e.g. `12 older than server_retention_days (90) deleted on the server`.
    pub actions: Vec<(String, String)>,
    /// Local ids of the messages that lost a location.
    pub touched: Vec<MessageId>,
}

enum Action<'a> {
    Archive(&'a FolderRow),
    Delete,
}

/// Runs the account's retention rules over the synced folders.
pub async fn apply_retention<S: MailStore>(
    session: &mut Session,
    store: &S,
    account: &Account,
    synced: &[&FolderRow],
    all: &[FolderRow],
) -> Result<RetentionReport, ImapError> {
    let sync = &account.file.sync;
    let mut report = RetentionReport::default();
    let archive = all.iter().find(|f| f.present && f.folder.selectable && f.folder.role == Some(Role::Archive));
    for folder in synced {
        let role = folder.folder.role;
        let exempt = matches!(role, Some(Role::Archive | Role::Trash | Role::Junk | Role::Drafts));
        if let (Some(days), false) = (sync.window_days, exempt) {
            let action = match sync.after_window {
                AfterWindow::Keep => None,
                AfterWindow::Delete => Some(Action::Delete),
                AfterWindow::Archive => match archive {
                    Some(a) => Some(Action::Archive(a)),
                    None => {
                        report.actions.push((
                            folder.folder.name.clone(),
                            "after_window = \"archive\", but the server has no archive folder".into(),
                        ));
                        None
                    }
                },
            };
            if let Some(action) = action {
                act(session, store, folder, days, &action, "older than the sync window", &mut report).await?;
            }
        }
        let days = match role {
            Some(Role::Inbox) => sync.server_retention_days.inbox,
            Some(Role::Junk) => sync.server_retention_days.junk,
            Some(Role::Sent) => sync.server_retention_days.sent,
            _ => 0,
        };
        if days > 0 {
            let why = format!("older than server_retention_days ({days})");
            act(session, store, folder, days, &Action::Delete, &why, &mut report).await?;
        }
    }
    Ok(report)
}

async fn act<S: MailStore>(
    session: &mut Session,
    store: &S,
    folder: &FolderRow,
    days: u32,
    action: &Action<'_>,
    why: &str,
    report: &mut RetentionReport,
) -> Result<(), ImapError> {
    let t = session.timeout;
    let raw = &folder.folder.raw;
    let mailbox = timed(t, format!("SELECT {raw}"), session.inner.select(raw))
        .await?
        .map_err(|e| ImapError::command(format!("SELECT \"{raw}\""), e))?;
    let Some(uidvalidity) = mailbox.uid_validity else { return Ok(()) };
    if mailbox.exists == 0 {
        return Ok(());
    }
    // Mail already marked \Deleted (by us on a server without UIDPLUS, or by a client) is
    // left to whoever expunges it.
    let query = format!("BEFORE {} NOT DELETED", since_date(days));
    let old: HashSet<u32> = super::sync::search(session, &query).await?;
    if old.is_empty() {
        return Ok(());
    }
    let folder_id = folder.id;
    let stored = store.on_server_uids(folder_id, uidvalidity).await?;
    let mut uids: Vec<u32> = stored.into_iter().filter(|u| old.contains(u)).collect();
    uids.sort_unstable();
    if uids.is_empty() {
        return Ok(());
    }
    let removal = match action {
        Action::Archive(to) => move_uids(session, &uids, &to.folder.raw).await?,
        Action::Delete => delete_uids(session, &uids).await?,
    };
    let n = uids.len();
    let what = match (action, removal) {
        (Action::Archive(to), Removal::Done) => format!("{n} {why} moved to {}", to.folder.name),
        (Action::Delete, Removal::Done) => format!("{n} {why} deleted on the server"),
        (_, Removal::MarkedDeleted) => {
            format!("{n} {why} marked \\Deleted; the server lacks UIDPLUS, so they are not expunged")
        }
    };
    tracing::info!(folder = %folder.folder.name, "{what}");
    report.actions.push((folder.folder.name.clone(), what));
    if removal == Removal::MarkedDeleted {
        return Ok(());
    }
    let gone = store.mark_removed(folder_id, uidvalidity, uids).await?;
    report.touched.extend(gone.touched);
    Ok(())
}
