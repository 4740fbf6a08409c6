//! Errors of an IMAP session, worded for the admin who reads them in `postfachd accounts`.

use crate::store::StoreFailure;
use postfach_config::EndpointError;
use postfach_net::tls::TlsError;

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
        /// The I/O error from resolving or connecting, e.g. `Connection refused (os error 111)`.
        source: std::io::Error,
    },
    /// TLS setup or handshake failed.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// An operation took longer than `timeout_secs`.
    #[error("{what} timed out after {secs}s (imap.timeout_secs)")]
    Timeout {
        /// The command or step that timed out, e.g. `SELECT INBOX` or `logging in to mail.example.de:993`.
        what: String,
        /// The limit that passed, in whole seconds: `imap.timeout_secs` (twice that for APPEND).
        secs: u64,
    },
    /// The server greeted with BYE or not at all.
    #[error("{addr} did not greet as an IMAP server: {text}")]
    Greeting {
        /// `host:port`.
        addr: String,
        /// The greeting's status and text (e.g. `Bye Too many connections`), or why none arrived.
        text: String,
    },
    /// The STARTTLS command failed (NO, BAD or a broken connection); a failed handshake after it is `Tls`.
    #[error("{addr} refused STARTTLS: {text}")]
    Starttls {
        /// `host:port`.
        addr: String,
        /// The server's answer (`NO …`, `BAD …`) or the connection error, e.g. `the server closed the connection`.
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
    /// The server answered a command with a tagged NO or BAD.
    #[error("{command}: {status} {text}")]
    Refused {
        /// The command, e.g. `UID FETCH 1:20 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])`.
        command: String,
        /// `NO` (the server will not) or `BAD` (it did not understand).
        status: &'static str,
        /// The server's words with their response code, e.g. `[UNAVAILABLE] Backend down`.
        text: String,
    },
    /// The server's data does not allow syncing (e.g. no UIDVALIDITY).
    #[error("{0}")]
    Server(String),
    /// The store failed (in the store's words).
    #[error("{0}")]
    Store(#[from] StoreFailure),
}

impl ImapError {
    /// A short name of the kind of failure, for metrics labels (a fixed, small set).
    pub fn kind(&self) -> &'static str {
        match self {
            ImapError::Endpoint(_) => "endpoint",
            ImapError::Connect { .. } => "connect",
            ImapError::Tls(_) => "tls",
            ImapError::Timeout { .. } => "timeout",
            ImapError::Greeting { .. } => "greeting",
            ImapError::Starttls { .. } => "starttls",
            ImapError::Auth { .. } => "auth",
            ImapError::Command { .. } => "command",
            ImapError::Refused { .. } => "refused",
            ImapError::Server(_) => "server",
            ImapError::Store(_) => "store",
        }
    }

    /// Whether this is a credentials problem (the account shows `auth-failed`). Office
    /// 365 accepts a wrong password (or a mailbox without IMAP access) at LOGIN and refuses
    /// the first command after it with `BAD User is authenticated but not connected`:
    /// retrying would only repeat that.
    pub fn is_auth(&self) -> bool {
        // Gmail refuses the login itself when an account has too many connections: that is
        // no reason to distrust the password.
        if self.is_connection_limit() {
            return false;
        }
        match self {
            ImapError::Auth { .. } => true,
            ImapError::Refused { text, .. } | ImapError::Command { text, .. } => {
                text.to_ascii_lowercase().contains("authenticated but not connected")
            }
            _ => false,
        }
    }

    /// Whether the server refused a connection because the account has too many already
    /// (Dovecot: "Maximum number of connections from user+IP exceeded"; Gmail: "Too many
    /// simultaneous connections").
    pub fn is_connection_limit(&self) -> bool {
        let text = match self {
            ImapError::Refused { text, .. }
            | ImapError::Command { text, .. }
            | ImapError::Auth { text, .. }
            | ImapError::Greeting { text, .. } => text.to_ascii_lowercase(),
            _ => return false,
        };
        ["maximum number of connections", "too many simultaneous connections", "too many connections"]
            .iter()
            .any(|p| text.contains(p))
    }

    /// Whether the server says it is throttling this client (Exchange Online: `Request is
    /// throttled`).
    pub fn is_throttled(&self) -> bool {
        match self {
            ImapError::Refused { text, .. } | ImapError::Command { text, .. } => {
                text.to_ascii_lowercase().contains("throttled")
            }
            _ => false,
        }
    }

    /// The delay the server asks for before the next attempt, if it names one: Exchange
    /// Online's throttling answer `NO Request is throttled. Suggested Backoff Time: 299609
    /// milliseconds` (as NO, or BAD before a BYE).
    pub fn suggested_backoff(&self) -> Option<std::time::Duration> {
        let text = match self {
            ImapError::Refused { text, .. } | ImapError::Command { text, .. } => text,
            _ => return None,
        };
        let lower = text.to_ascii_lowercase();
        let at = lower.find("suggested backoff time:")? + "suggested backoff time:".len();
        let rest = lower[at..].trim_start();
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let n: u64 = digits.parse().ok()?;
        let unit = rest[digits.len()..].trim_start();
        Some(if unit.starts_with("ms") || unit.starts_with("milli") {
            std::time::Duration::from_millis(n)
        } else {
            std::time::Duration::from_secs(n)
        })
    }

    /// Whether the server refused a command with a tagged NO (it will not do this now,
    /// for this folder or message) — not a broken connection, not a malformed command, and
    /// not throttling, which is about the whole account and must stop the pass.
    pub fn is_no(&self) -> bool {
        if self.is_throttled() {
            return false;
        }
        match self {
            ImapError::Refused { status, .. } => *status == "NO",
            ImapError::Command { text, .. } => text.starts_with("NO "),
            _ => false,
        }
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
        Error::No(text) => format!("NO {}", server_words(&text)),
        Error::Bad(text) => format!("BAD {}", server_words(&text)),
        Error::ConnectionLost => "the server closed the connection".to_owned(),
        Error::Io(e) => match e.to_string().split_once(" during parsing of ") {
            // async-imap's parse errors carry the whole unparsable buffer twice (as bytes and
            // as text), which a hostile server can make as large as its 512 MiB buffer.
            Some((_, input)) => format!("the server sent a response that cannot be parsed: {}", excerpt(input)),
            None => format!("connection error: {e}"),
        },
        other => other.to_string(),
    }
}

/// Recovers the server's words from async-imap's rendering of a tagged NO/BAD, which is
/// `code: Some(Alert), info: Some("text")` (or, for SELECT and STATUS, `outcome: Outcome
/// { code: …, information: … }`): gives `[ALERT] text`. Text in any other shape is
/// returned trimmed.
pub fn server_words(rendered: &str) -> String {
    let normalized = rendered
        .strip_prefix("outcome: Outcome { ")
        .and_then(|r| r.strip_suffix(" }"))
        .map(|inner| inner.replacen("information: ", "info: ", 1));
    let rendered = normalized.as_deref().unwrap_or(rendered);
    let Some(info_at) = rendered.find("info: ") else { return rendered.trim().to_owned() };
    let info = &rendered[info_at + 6..];
    let text = match info.strip_prefix("Some(\"").and_then(|r| r.strip_suffix("\")")) {
        Some(quoted) => unescape_debug(quoted),
        None => String::new(),
    };
    let code = rendered
        .strip_prefix("code: Some(")
        .and_then(|r| r.get(..r.find("), info: ")?))
        .filter(|c| c.chars().all(|ch| ch.is_ascii_alphanumeric()))
        .map(|c| format!("[{}] ", c.to_ascii_uppercase()))
        .unwrap_or_default();
    format!("{code}{}", text.trim()).trim_end().to_owned()
}

/// The first 200 characters of a server's text, with `…` when there was more.
fn excerpt(text: &str) -> String {
    const MAX: usize = 200;
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

fn unescape_debug(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exchange_throttling_names_its_backoff_and_office_365_refusals_are_login_failures() {
        let throttled = ImapError::Refused {
            command: "UID FETCH 1:9 (UID FLAGS)".into(),
            status: "NO",
            text: "Request is throttled. Suggested Backoff Time: 299609 milliseconds".into(),
        };
        assert_eq!(throttled.suggested_backoff(), Some(std::time::Duration::from_millis(299_609)));
        assert!(!throttled.is_auth());
        let not_connected = ImapError::Refused {
            command: "SELECT INBOX".into(),
            status: "BAD",
            text: "User is authenticated but not connected.".into(),
        };
        assert!(not_connected.is_auth());
        assert_eq!(not_connected.suggested_backoff(), None);
        let too_many = ImapError::Auth {
            user: "anna@gmail.com".into(),
            text: "[ALERT] Too many simultaneous connections. (Failure)".into(),
        };
        assert!(too_many.is_connection_limit());
        assert!(!too_many.is_auth());
    }

    #[test]
    fn recovers_server_words() {
        assert_eq!(
            server_words(r#"code: None, info: Some("[AUTHENTICATIONFAILED] Authentication failed.")"#),
            "[AUTHENTICATIONFAILED] Authentication failed."
        );
        assert_eq!(
            server_words(r#"code: Some(Alert), info: Some("Quota \"x\" exceeded")"#),
            r#"[ALERT] Quota "x" exceeded"#
        );
        assert_eq!(server_words(r#"code: Some(TryCreate), info: None"#), "[TRYCREATE]");
        assert_eq!(server_words("plain text "), "plain text");
        assert_eq!(
            server_words(
                r#"outcome: Outcome { code: None, information: Some("User is authenticated but not connected.") }"#
            ),
            "User is authenticated but not connected."
        );
        assert_eq!(
            server_words(r#"outcome: Outcome { code: Some(Alert), information: Some("Mailbox locked") }"#),
            "[ALERT] Mailbox locked"
        );
    }

    #[test]
    fn a_parse_error_names_the_response_in_at_most_200_characters() {
        let garbage = format!("\"* 1 FETCH (UID {}\"", "x".repeat(10_000));
        let e = async_imap::error::Error::Io(std::io::Error::other(format!(
            "Error(Error {{ input: [42, 32], code: Tag }}) during parsing of {garbage}"
        )));
        let text = server_text(e);
        assert!(text.starts_with("the server sent a response that cannot be parsed: \"* 1 FETCH (UID xxx"), "{text}");
        assert_eq!(text.chars().count(), "the server sent a response that cannot be parsed: ".len() + 201);
        assert!(text.ends_with('…'));
    }
}
