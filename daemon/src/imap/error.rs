//! Errors of an IMAP session, worded for the admin who reads them in `postfachd accounts`.

use crate::config::EndpointError;
use crate::store::StoreError;
use crate::tls::TlsError;

/// What went wrong talking to the IMAP server. Server texts are kept verbatim.
#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    /// The account's settings could not be turned into an endpoint.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// TCP connect failed (refused, unreachable, DNS).
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// `host:port`.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// TLS setup or handshake failed.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// An operation took longer than `timeout_secs`.
    #[error("{what} timed out after {secs}s (imap.timeout_secs)")]
    Timeout {
        /// What was being waited for.
        what: String,
        /// The limit.
        secs: u64,
    },
    /// The server greeted with BYE or not at all.
    #[error("{addr} did not greet as an IMAP server: {text}")]
    Greeting {
        /// `host:port`.
        addr: String,
        /// What it sent instead.
        text: String,
    },
    /// STARTTLS was refused.
    #[error("{addr} refused STARTTLS: {text}")]
    Starttls {
        /// `host:port`.
        addr: String,
        /// Server text.
        text: String,
    },
    /// The server rejected the login; `text` is the server's words.
    #[error("login as {user} failed: {text}")]
    Auth {
        /// Login name (never the password).
        user: String,
        /// Server text, e.g. `[AUTHENTICATIONFAILED] Authentication failed.`
        text: String,
    },
    /// A command failed or the connection broke.
    #[error("{command}: {text}")]
    Command {
        /// The command, e.g. `SELECT "Entw&APw-rfe"`.
        command: String,
        /// Server text or I/O error.
        text: String,
    },
    /// The server's data does not allow syncing (e.g. no UIDVALIDITY).
    #[error("{0}")]
    Server(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ImapError {
    /// Whether this is a credentials problem (the account shows `auth-failed`).
    pub fn is_auth(&self) -> bool {
        matches!(self, ImapError::Auth { .. })
    }

    /// Wraps an async-imap error from `command`, keeping the server's words.
    pub fn command(command: impl Into<String>, e: async_imap::error::Error) -> Self {
        ImapError::Command { command: command.into(), text: server_text(e) }
    }
}

/// The most useful text of an async-imap error: the server's own words for NO/BAD.
pub fn server_text(e: async_imap::error::Error) -> String {
    use async_imap::error::Error;
    match e {
        Error::No(text) => format!("NO {}", text.trim()),
        Error::Bad(text) => format!("BAD {}", text.trim()),
        Error::ConnectionLost => "the server closed the connection".to_owned(),
        Error::Io(e) => format!("connection error: {e}"),
        other => other.to_string(),
    }
}
