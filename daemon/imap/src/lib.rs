//! IMAP: sessions (TLS, STARTTLS, login), the folder list and its roles, syncing folders
//! into a store, server-side changes and housekeeping.
//!
//! Built on async-imap for the protocol; everything Postfach decides (which UIDs to
//! fetch, how identities are re-linked, how names are decoded and roles assigned) lives
//! here. This crate knows no plugins and no SQL: the store comes in as a [`MailStore`],
//! provider knowledge as data ([`RoleHints`], folder names).

#![deny(missing_docs)]

mod append;
pub mod changes;
mod create;
mod error;
pub mod folders;
mod headers;
pub mod idle;
pub mod retention;
mod session;
mod store;
mod sync;
pub mod utf7;

pub use append::{Placed, append_once};
pub use create::{Created, SYSTEM_ROLES, create_missing};
pub use error::ImapError;
pub use folders::{ListEntry, RoleHints};
pub use headers::parse as parse_headers;
pub use session::{ChangeTracking, Session, Transport, open};
pub use store::{MailStore, StoreFailure};
pub use sync::{FolderReport, SyncOptions, sequence_set, since_date, sync_folder};
