//! Sending mail: composing messages (identity, signatures, threading) and submitting them
//! to the account's SMTP server. The outbox that delivers, retries and keeps the Sent copy
//! is the daemon's (it needs the store and IMAP).

#![deny(missing_docs)]

mod compose;
mod submit;

pub use compose::{ComposeError, Composed, Draft, FileAttachment, Parent, compose, new_message_id};
pub use submit::{ProbeStep, SmtpError, probe, submit};
