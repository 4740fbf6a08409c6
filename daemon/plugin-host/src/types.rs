//! The plugin API's values on the host side, independent of the WIT version a plugin was
//! built against (each version's bindings convert to and from these).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use postfach_config::Security;
use postfach_model::{Role, RoleSource};

/// One server endpoint suggested by an adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// Host name.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Security mode.
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
    /// Incoming server.
    pub imap: Server,
    /// Outgoing server.
    pub smtp: Server,
    /// Login name form.
    pub login: LoginForm,
    /// A hint for the admin.
    pub hint: Option<String>,
}

/// A folder as passed to adapters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderInfo {
    /// Decoded full name.
    pub name: String,
    /// Wire name.
    pub raw: String,
    /// Delimiter.
    pub delimiter: Option<String>,
    /// LIST attributes.
    pub attributes: Vec<String>,
    /// Path without the namespace prefix.
    pub path: Vec<String>,
}

/// An adapter's role decision. `role` is `None` for the WIT role `other`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleChoice {
    /// Wire name of the folder.
    pub folder: String,
    /// The role, or `None` for "known to be none".
    pub role: Option<Role>,
    /// Why: attribute, adapter table or name.
    pub source: RoleSource,
    /// Explanation.
    pub reason: String,
}

/// Provider behaviour.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quirks {
    /// The server saves SMTP-sent mail itself.
    pub auto_saves_sent: bool,
    /// Connection cap per account (0 = unknown).
    pub max_connections: u32,
    /// IDLE refresh interval (0 = default).
    pub idle_refresh_secs: u32,
    /// Send NOOP while idle.
    pub noop_keepalive: bool,
    /// Avoid partial FETCH.
    pub avoid_partial_fetch: bool,
}

/// An adapter's names for system folders: per role, the path segments below the personal
/// namespace.
pub type FolderNames = Vec<(Role, Vec<String>)>;

/// A message as routers see it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageMeta {
    /// Account id.
    pub account: String,
    /// Decoded folder name.
    pub folder: String,
    /// Folder path without prefix.
    pub folder_path: Vec<String>,
    /// Message-ID.
    pub message_id: Option<String>,
    /// Subject.
    pub subject: Option<String>,
    /// From.
    pub from: Vec<String>,
    /// To.
    pub to: Vec<String>,
    /// Cc.
    pub cc: Vec<String>,
    /// In-Reply-To.
    pub in_reply_to: Option<String>,
    /// References.
    pub references: Vec<String>,
    /// Date, Unix seconds.
    pub date: Option<i64>,
    /// Size.
    pub size: u64,
    /// Flags.
    pub flags: Vec<String>,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
}

/// A router's decision for one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Assign to a project.
    Project {
        /// Project key.
        project: String,
        /// Why.
        reason: String,
    },
    /// No opinion.
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
    /// Project of a stored message.
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
