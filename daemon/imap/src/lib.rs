//! IMAP: sessions (TLS, STARTTLS, login), the folder list and its roles, syncing folders
//! into a store, server-side changes and housekeeping.
//!
//! Built on async-imap for the protocol; everything Postfach decides (which UIDs to
//! fetch, how identities are re-linked, how names are decoded and roles assigned) lives
//! here. This crate knows no plugins and no SQL: the store comes in as a [`MailStore`],
//! provider knowledge as data ([`RoleHints`], folder names).

#![deny(missing_docs)]

mod answer;
mod append;
mod changes;
mod create;
mod error;
mod folders;
#[cfg(test)]
mod fuzz;
mod gmail;
mod headers;
mod idle;
mod repair;
mod retention;
mod session;
mod store;
mod sync;
mod utf7;

pub use append::{Placed, append_once};
pub use changes::{Found, Removal, delete_uids, fetch_flags, find_moved, move_uids, select_place, store_flags};
pub use create::{Created, SYSTEM_ROLES, create_missing};
pub use error::ImapError;
pub use folders::{ListEntry, RoleHints, assign_roles, decode_listing, list_folders, same_folder_name, sync_set};
pub use headers::parse as parse_headers;
pub use idle::{Woken, drain_changes, idle};
pub use retention::{RetentionReport, apply_retention};
pub use session::{ChangeTracking, Session, Transport, open};
pub use store::{MailStore, StoreFailure};
pub use sync::{
    FolderReport, MAX_MESSAGE_BYTES, Skipped, SyncOptions, fetch_body, sequence_set, since_date, sync_folder,
};
pub use utf7::{Utf7Error, decode as decode_mailbox_name, encode as encode_mailbox_name};
