//! Sending mail: composing messages (identity, signatures, threading), submitting them to
//! the account's SMTP server, and the outbox that delivers, retries and keeps the Sent
//! copy.

mod compose;
pub mod outbox;
mod submit;

pub use compose::{ComposeError, Composed, Draft, FileAttachment, Parent, compose, new_message_id};
pub use submit::{ProbeStep, SmtpError, probe, submit};
