//! Postfach keeps many IMAP/SMTP mail accounts in sync with a local store for business
//! applications, routes every message to a project, and sends mail.
//!
//! This crate is the daemon: the account [`pass`] (connect → LIST → roles → folder sync
//! → routing → events), the [`supervisor`] that schedules passes, IDLE and backoff per
//! account, the [`outbox`] loop, and the [`cli`]. The pieces below it are crates of their
//! own, so that data flows one way and a wrong-way import does not compile:
//! [`config`] → [`imap`] / [`smtp`] → [`store`], with [`plugins`] beside them; they are
//! re-exported here under their short names.

#![deny(missing_docs)]

pub mod api;
pub mod bodies;
pub mod changes;
pub mod cli;
pub mod cluster;
pub mod daemon;
pub mod drafts;
#[cfg(test)]
mod fuzz;
pub mod import;
pub mod logging;
pub mod logins;
pub mod notify;
pub mod oauth;
pub mod outbox;
pub mod pass;
pub mod privileges;
pub mod probe;
pub mod provider;
pub mod routing;
pub mod supervisor;
pub mod wake;

pub use postfach_config as config;
pub use postfach_imap as imap;
pub use postfach_model as model;
pub use postfach_net as net;
pub use postfach_oauth as oauth2;
pub use postfach_plugins as plugins;
pub use postfach_smtp as smtp;
pub use postfach_store as store;
