//! A folder as the server lists it and as the store keeps it, with its sync checkpoints.

use crate::ids::FolderId;
use crate::role::{Role, RoleSource};
use crate::time::Timestamp;

/// A folder as listed by the server, with its role decided.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedFolder {
    /// Full decoded name as listed (`INBOX.Entwürfe`).
    pub name: String,
    /// Wire form (`INBOX.Entw&APw-rfe`).
    pub raw: String,
    /// Hierarchy delimiter, if the server has one.
    pub delimiter: Option<String>,
    /// Hierarchy segments without the namespace prefix (`["Entwürfe"]`).
    pub path: Vec<String>,
    /// LIST attributes as sent (`\HasNoChildren`, `\Sent`).
    pub attributes: Vec<String>,
    /// The folder's role; `None` for an ordinary folder that no source claimed.
    pub role: Option<Role>,
    /// Which source decided `role`; set exactly when `role` is.
    pub role_source: Option<RoleSource>,
    /// Whether the folder can be selected (not `\Noselect` / `\NonExistent`).
    pub selectable: bool,
}

/// A stored folder with its checkpoints and message count.
#[derive(Debug, Clone, PartialEq)]
pub struct FolderRow {
    /// The store's id for the folder (`folders.id`); locations and checkpoints refer to it.
    pub id: FolderId,
    /// Names, attributes and role as of the last LIST that included the folder.
    pub folder: ListedFolder,
    /// Still present in the last LIST.
    pub present: bool,
    /// UIDVALIDITY of the last complete pass; `None` before the first.
    pub uidvalidity: Option<u32>,
    /// UIDNEXT at the last complete pass.
    pub uidnext: Option<u32>,
    /// HIGHESTMODSEQ at the last complete pass.
    pub highestmodseq: Option<u64>,
    /// Unix time of the last complete pass.
    pub synced_at: Option<Timestamp>,
    /// EXISTS at the last complete pass.
    pub exists: Option<u32>,
    /// Messages stored for this folder that are still on the server.
    pub messages: u64,
}

/// Where a completed folder pass left off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// UIDVALIDITY of the pass.
    pub uidvalidity: u32,
    /// UIDNEXT the server reported.
    pub uidnext: Option<u32>,
    /// HIGHESTMODSEQ the server reported (CONDSTORE).
    pub highestmodseq: Option<u64>,
    /// EXISTS the server reported.
    pub exists: u32,
}
