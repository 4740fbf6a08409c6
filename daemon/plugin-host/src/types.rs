//! The plugin API's values on the host side, independent of the WIT version a plugin was
//! built against (each version's bindings convert to and from these).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use postfach_config::Security;
use postfach_model::{Role, RoleSource};

/// One server endpoint suggested by an adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// Host name to connect to (`imap.example.de`).
    pub host: String,
    /// TCP port (`993`, `465`, `587`).
    pub port: u16,
    /// Transport security: implicit TLS, STARTTLS or none.
    pub security: Security,
}

/// Which form of the address the provider expects as login name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginForm {
    /// The full address.
    FullAddress,
    /// The part before `@`.
    LocalPart,
}

/// Server settings an adapter knows for an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerDefaults {
    /// The IMAP server.
    pub imap: Server,
    /// The SMTP submission server.
    pub smtp: Server,
    /// Whether the login name is the full address or its local part.
    pub login: LoginForm,
    /// A hint shown to the admin, e.g. "needs an app password".
    pub hint: Option<String>,
}

/// A folder as passed to adapters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderInfo {
    /// Full decoded name as listed (`INBOX.Entwürfe`).
    pub name: String,
    /// Wire form in modified UTF-7 (`INBOX.Entw&APw-rfe`); role choices name folders by it.
    pub raw: String,
    /// Hierarchy delimiter from LIST (`.` or `/`); `None` when the server has none.
    pub delimiter: Option<String>,
    /// LIST (and XLIST) attributes as sent (`\HasNoChildren`, `\Sent`).
    pub attributes: Vec<String>,
    /// Hierarchy segments without the namespace prefix (`["Entwürfe"]`).
    pub path: Vec<String>,
}

/// An adapter's role decision. `role` is `None` for the WIT role `other`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleChoice {
    /// Wire name (`raw`) of the folder; it must be one the server listed.
    pub folder: String,
    /// The role, or `None` for "known to be none".
    pub role: Option<Role>,
    /// Why: attribute, adapter table or name.
    pub source: RoleSource,
    /// The adapter's free-text explanation of the choice; informational, not stored.
    pub reason: String,
}

/// Provider behaviour.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quirks {
    /// The server stores SMTP-sent mail in Sent itself, so the outbox never appends a copy.
    pub auto_saves_sent: bool,
    /// Simultaneous connections per account (IDLE, sync and send together); 0 = unknown.
    pub max_connections: u32,
    /// Seconds after which IDLE is re-issued before the server drops it; 0 = the default.
    pub idle_refresh_secs: u32,
    /// Send NOOP while idle to keep the connection alive.
    pub noop_keepalive: bool,
    /// Fetch whole messages: the server's partial FETCH / BODYSTRUCTURE is unreliable.
    pub avoid_partial_fetch: bool,
}

/// An adapter's names for system folders: per role, the path segments below the personal
/// namespace.
pub type FolderNames = Vec<(Role, Vec<String>)>;

/// A message as routers see it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageMeta {
    /// Id of the account the message belongs to (`kanzlei`).
    pub account: String,
    /// Decoded full name of its folder; an own folder of the account wins over the inbox.
    pub folder: String,
    /// `folder`'s hierarchy segments without the namespace prefix.
    pub folder_path: Vec<String>,
    /// Message-ID without angle brackets; the key `host.project-of` takes.
    pub message_id: Option<String>,
    /// Decoded Subject header.
    pub subject: Option<String>,
    /// From addresses (`Name <addr>` or `addr`).
    pub from: Vec<String>,
    /// To addresses, in the same form as `from`.
    pub to: Vec<String>,
    /// Cc addresses, in the same form as `from`.
    pub cc: Vec<String>,
    /// In-Reply-To without angle brackets: the parent's Message-ID.
    pub in_reply_to: Option<String>,
    /// References without angle brackets, oldest first.
    pub references: Vec<String>,
    /// The Date header in Unix seconds; `None` when missing or unreadable.
    pub date: Option<i64>,
    /// Size of the raw message in bytes.
    pub size: u64,
    /// IMAP flags in `folder` (`\Seen`, keywords).
    pub flags: Vec<String>,
    /// Further header fields as `(name, value)` pairs; the daemon's routing passes none yet.
    pub headers: Vec<(String, String)>,
}

/// A router's decision for one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Assign to a project.
    Project {
        /// Project number as in the project list (`210-01`).
        project: String,
        /// The router's reason, recorded with the assignment and shown by `route explain`.
        reason: String,
    },
    /// No opinion; the next router in the chain decides.
    Skip,
}

/// Looks up the project of a stored message by Message-ID (for `host.project-of`).
pub type ProjectLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// What the host functions answer during one call.
#[derive(Clone, Default)]
pub struct CallContext {
    /// The account's `[routing.options]`, keys as written (`"<plugin>.<key>"`).
    pub options: BTreeMap<String, String>,
    /// Known projects; `None` means every project exists.
    pub projects: Option<Arc<HashSet<String>>>,
    /// Answers `host.project-of`; without it, no message has a project.
    pub project_of: Option<ProjectLookup>,
}

impl std::fmt::Debug for CallContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallContext")
            .field("options", &self.options)
            .field("projects", &self.projects.as_ref().map(|p| p.len()))
            .finish_non_exhaustive()
    }
}
