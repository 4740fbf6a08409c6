//! The store's ids as types of their own, so a folder id cannot be passed where a message
//! id belongs. Both are the store's row ids (SQLite `INTEGER PRIMARY KEY`, PostgreSQL
//! `bigint`); `postfachd messages` shows a message's as `local_id`.

use std::fmt;

/// A stored message's local id, stable for the life of the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(pub i64);

/// A stored folder's id (one per account and folder name on the server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FolderId(pub i64);

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for FolderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
