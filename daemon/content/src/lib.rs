//! Postfach's reading of stored messages. The daemon keeps each message's raw RFC 5322
//! bytes; this crate turns them into what the HTTP API shows (text, HTML, attachments, a
//! snippet) and into the text the SQLite FTS5 index stores, folded so that German words
//! are found however they are typed (`Müller`, `Muller`, `Mueller`).
//!
//! Everything here is pure (no I/O) and total: any byte string, however broken, gives a
//! result — bad MIME yields what could be read, never a panic.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod address;
mod attachment;
mod body;
mod content;
pub mod fold;
#[cfg(test)]
mod fuzz;
mod guard;
mod listing;
mod parser;
mod search;
mod snippet;
mod tree;

#[cfg(test)]
mod tests;

pub use attachment::{Attachment, AttachmentData, attachment, has_attachments};
pub use content::{Content, parse};
pub use search::{Indexed, SearchDocument, index, search_document};
