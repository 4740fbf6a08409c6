//! Postfach keeps many IMAP/SMTP mail accounts in sync with a local SQLite store for
//! business applications, routes every message to a project, and sends mail.
//!
//! Data flows one way: [`config`] (validated account files) → [`supervisor`] (one task
//! per account) → [`imap`] (session, folders, sync) → [`store`] (messages, locations,
//! events). The [`cli`] module is the command-line contract; [`daemon`] is `postfachd run`.

pub mod cli;
pub mod config;
pub mod daemon;
pub mod imap;
pub mod import;
pub mod logging;
pub mod model;
pub mod plugins;
pub mod provider;
pub mod routing;
pub mod sasl;
pub mod smtp;
pub mod store;
pub mod supervisor;
pub mod tls;
pub mod wake;
