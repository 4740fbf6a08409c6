//! Postfach's plain domain data, shared by the crates that sync, store and show mail:
//! folder roles, account states, folders with their checkpoints, fetched messages and
//! their identity, and error text with its causes. No I/O here; every crate above may
//! depend on this one.

#![deny(missing_docs)]

mod errors;
mod folder;
mod ids;
mod message;
mod role;
mod state;
mod time;

pub use errors::with_causes;
pub use folder::{Checkpoint, FolderRow, ListedFolder};
pub use ids::{FolderId, MessageId};
pub use message::{
    BatchStats, FetchedMessage, Headers, Link, PassOutcome, Place, StoredIdentity, content_key, identity_of,
};
pub use role::{Role, RoleSource};
pub use state::AccountState;
pub use time::{Timestamp, now_unix, rfc3339};
