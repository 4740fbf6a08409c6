//! Real mail servers for Postfach's tests, demo and benchmarks.
//!
//! Everything runs on loopback, on free ports, in a temporary directory that is removed
//! afterwards: [`Dovecot`] (IMAP with TLS from a [`TestCa`] made for the run, LMTP, and
//! an auth listener for Postfix SASL), [`Postgres`] for the cluster, provider-shaped
//! folder layouts ([`Layout`]), and [`ImapClient`], a small blocking IMAP client that is
//! deliberately independent of the daemon's own IMAP stack, for seeding mailboxes and
//! playing "another mail client".

mod ca;
mod client;
pub mod demo;
mod dovecot;
mod error;
mod fault;
pub mod gmail;
mod hostile;
pub mod mail;
mod net;
pub mod oauth;
mod postfix;
pub mod postgres;
mod process;
mod proxy;
mod replay;
pub mod webhook;

pub use ca::TestCa;
pub use client::{ImapClient, ListLine};
pub use dovecot::{Dovecot, DovecotConfig, Layout, MailboxSpec, Ports, User, stop_detached};
pub use error::HarnessError;
pub use fault::{Direction, Fault, FaultProxy};
pub use gmail::GmailProxy;
pub use hostile::{HostileServer, Misbehaviour};
pub use net::{free_port, wait_for_greeting, wait_for_port};
pub use oauth::{OAuthConfig, OAuthServer};
pub use postfix::{Listener, Postfix};
pub use postgres::Postgres;
pub use process::{terminate, wait_or_kill};
pub use proxy::RecordingProxy;
pub use replay::{Action, ReplayMailbox, ReplayServer, ReplaySetup, Rule, When};
pub use webhook::{Delivery, WebhookReceiver};

/// Whether this process runs as root (then servers drop to their usual system users).
pub fn running_as_root() -> bool {
    process::euid() == 0
}
