//! The host's side of the plugin API, independent of the WIT version a plugin was built
//! against (each version's bindings convert to and from these): the owned message view
//! routers are sent, the call context, and the folder names as the daemon uses them. The
//! plain values (servers, folders, role choices, quirks, decisions) are
//! `postfach-plugin-types`, shared with the SDK.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use postfach_model::Role;

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
