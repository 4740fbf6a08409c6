//! One sync pass over an account: open a session, refresh the folder list, sync every
//! folder in the sync set, log out.

use std::sync::Arc;

use tracing::{debug, info, warn};

use super::error::ImapError;
use super::folders::{self, RoleHints};
use super::session::{self, Session};
use super::sync::{self, FolderReport, SyncOptions};
use crate::config::{Account, ImapEndpoint};
use crate::store::{self, FolderRow, SharedStore};

/// What a pass did.
#[derive(Debug, Clone, Default)]
pub struct AccountReport {
    /// Per synced folder.
    pub folders: Vec<FolderReport>,
    /// Folders the server refused (e.g. deleted between LIST and SELECT), with its words.
    pub folder_errors: Vec<(String, String)>,
}

impl AccountReport {
    /// New messages stored in this pass.
    pub fn new_messages(&self) -> u64 {
        self.folders.iter().map(|f| f.stats.new_messages).sum()
    }
}

/// Resolves the endpoint off the async runtime (a password command may run).
pub async fn endpoint(account: &Account) -> Result<ImapEndpoint, ImapError> {
    let account = account.clone();
    tokio::task::spawn_blocking(move || account.imap_endpoint())
        .await
        .map_err(|e| ImapError::Server(format!("internal: {e}")))?
        .map_err(ImapError::from)
}

/// Opens an authenticated session for the account.
pub async fn connect(account: &Account) -> Result<Session, ImapError> {
    let ep = endpoint(account).await?;
    session::open(&ep).await
}

/// LISTs the folders, decides roles, and records them in the store.
pub async fn refresh_folders(
    session: &mut Session,
    store: &SharedStore,
    account: &Account,
    hints: &RoleHints,
) -> Result<Vec<FolderRow>, ImapError> {
    let entries = folders::list(session).await?;
    let separator = account.file.imap.hierarchy_separator.as_ref().and_then(|s| s.chars().next());
    let listing = folders::build_listing(&entries, separator, hints, &account.file.folders);
    warn_unknown_overrides(account, &listing);
    let id = account.id.clone();
    Ok(store.call(move |c| store::folders::replace_listing(c, &id, &listing)).await?)
}

fn warn_unknown_overrides(account: &Account, listing: &[store::ListedFolder]) {
    let f = &account.file.folders;
    for (role, name) in [
        ("inbox", &f.inbox),
        ("sent", &f.sent),
        ("drafts", &f.drafts),
        ("trash", &f.trash),
        ("junk", &f.junk),
        ("archive", &f.archive),
    ] {
        if let Some(name) = name
            && !listing.iter().any(|l| folders::same_name(name, l))
        {
            warn!(folder = %name, "folders.{role} names a folder the server does not list");
        }
    }
}

/// Runs one full pass. Folder-level refusals are collected; connection-level errors end
/// the pass.
pub async fn sync_account(
    account: &Account,
    store: &SharedStore,
    hints: &RoleHints,
    opts: &SyncOptions,
) -> Result<AccountReport, ImapError> {
    let mut session = connect(account).await?;
    let result = sync_with_session(&mut session, account, store, hints, opts).await;
    session.logout().await;
    result
}

/// Runs one pass on an open session.
pub async fn sync_with_session(
    session: &mut Session,
    account: &Account,
    store: &SharedStore,
    hints: &RoleHints,
    opts: &SyncOptions,
) -> Result<AccountReport, ImapError> {
    let rows = refresh_folders(session, store, account, hints).await?;
    let listing: Vec<store::ListedFolder> = rows.iter().filter(|r| r.present).map(|r| r.folder.clone()).collect();
    let wanted = folders::sync_set(&listing, account.file.folders.sync.as_deref());
    let mut report = AccountReport::default();
    let store = Arc::clone(store);
    for folder in wanted {
        let Some(row) = rows.iter().find(|r| r.folder.raw == folder.raw) else { continue };
        match sync::sync_folder(session, &store, &account.id, row, opts).await {
            Ok(r) => {
                if !r.unchanged {
                    debug!(folder = %r.folder, new = r.stats.new_messages, linked = r.stats.linked,
                        relinked = r.stats.relinked, removed = r.removed, bytes = r.bytes, "folder synced");
                }
                if r.uidvalidity_changed {
                    info!(folder = %r.folder, relinked = r.stats.relinked, removed = r.removed,
                        "UIDVALIDITY changed; stored messages re-linked");
                }
                report.folders.push(r);
            }
            Err(ImapError::Command { command, text }) if text.starts_with("NO ") => {
                warn!(folder = %row.folder.name, %command, %text, "folder skipped");
                report.folder_errors.push((row.folder.name.clone(), text));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(report)
}
