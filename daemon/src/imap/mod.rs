//! IMAP: sessions (TLS, STARTTLS, login), the folder list, and syncing folders into the
//! store.
//!
//! Built on async-imap for the protocol; everything Postfach decides (which UIDs to
//! fetch, how identities are re-linked, how names are decoded and roles assigned) lives
//! here.

mod append;
pub mod changes;
mod create;
mod error;
pub mod folders;
mod headers;
pub mod idle;
mod pass;
pub mod retention;
mod session;
mod sync;
pub mod utf7;

pub use append::{Placed, append_once};
pub use create::{Created, SYSTEM_ROLES, create_missing, create_missing_for};
pub use error::ImapError;
pub use folders::{ListEntry, RoleHints};
pub use headers::parse as parse_headers;
pub use pass::{AccountReport, Connected, connect, refresh_folders, sync_account, sync_with_session};
pub use session::{ChangeTracking, Session, Transport, open};
pub use sync::{FolderReport, SyncOptions, sequence_set, since_date, sync_folder};
