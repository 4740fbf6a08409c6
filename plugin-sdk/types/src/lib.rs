//! The plain values of the Postfach plugin API, shared by the plugin SDK (what plugins
//! return) and the plugin host (what the daemon receives), so they are defined once. They
//! mirror the WIT (`plugin-sdk/wit/v<version>`) one to one; the generated bindings on each
//! side convert to and from these. No dependencies, so plugins built for
//! `wasm32-wasip2` pay nothing for it.

#![deny(missing_docs)]

/// Transport security of a server connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Security {
    /// Implicit TLS.
    Tls,
    /// STARTTLS upgrade.
    Starttls,
    /// No encryption.
    Plain,
}

/// One server endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Server {
    /// Host name.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Security mode.
    pub security: Security,
}

impl Server {
    /// A server with implicit TLS.
    pub fn tls(host: &str, port: u16) -> Server {
        Server { host: host.to_owned(), port, security: Security::Tls }
    }

    /// A server with STARTTLS.
    pub fn starttls(host: &str, port: u16) -> Server {
        Server { host: host.to_owned(), port, security: Security::Starttls }
    }
}

/// Which form of the address the provider expects as login name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoginForm {
    /// `max@example.com`.
    FullAddress,
    /// `max`.
    LocalPart,
}

/// Server settings for an address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerDefaults {
    /// Incoming server.
    pub imap: Server,
    /// Outgoing server.
    pub smtp: Server,
    /// Login name form.
    pub login: LoginForm,
    /// A hint for the admin, e.g. "needs an app password".
    pub hint: Option<String>,
}

/// A provider's OAuth2 endpoints and scopes, for `auth = "oauth2"` accounts (plugin API
/// 0.3, `oauth2-provider`). The URLs may contain `{tenant}`, which the daemon replaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OAuth2Defaults {
    /// Short name of the provider: `google`, `microsoft`.
    pub provider: String,
    /// Authorization endpoint of the browser flow.
    pub auth_url: String,
    /// Token endpoint.
    pub token_url: String,
    /// Device authorization endpoint (RFC 8628); `None` when the provider's device flow
    /// cannot grant the mail scopes.
    pub device_url: Option<String>,
    /// Scopes to request.
    pub scopes: Vec<String>,
    /// Whether the scopes must be sent again on refresh (Microsoft: yes).
    pub scope_on_refresh: bool,
}

/// What a folder is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Incoming mail.
    Inbox,
    /// Sent mail.
    Sent,
    /// Drafts.
    Drafts,
    /// Deleted mail.
    Trash,
    /// Spam.
    Junk,
    /// Archive.
    Archive,
    /// Every message (Gmail's All Mail).
    All,
    /// Starred.
    Flagged,
    /// Gmail's Important.
    Important,
    /// A webmailer's outbox; never "sent".
    Outbox,
    /// Known to be none of the above.
    Other,
}

/// Why a role was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoleSource {
    /// A SPECIAL-USE or XLIST attribute.
    Attribute,
    /// The provider's own table of names.
    Adapter,
    /// Matching the name against known names.
    Name,
}

/// A folder as listed by the server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Folder {
    /// Full decoded name as listed (`INBOX.Entwürfe`).
    pub name: String,
    /// Wire form (`INBOX.Entw&APw-rfe`).
    pub raw: String,
    /// Hierarchy delimiter.
    pub delimiter: Option<String>,
    /// LIST attributes as sent.
    pub attributes: Vec<String>,
    /// Hierarchy segments without the namespace prefix (`["Entwürfe"]`).
    pub path: Vec<String>,
}

impl Folder {
    /// A folder whose name is its path joined by `/` (for tests and examples).
    pub fn new(name: &str, attributes: &[&str]) -> Folder {
        Folder {
            name: name.to_owned(),
            raw: name.to_owned(),
            delimiter: Some("/".to_owned()),
            attributes: attributes.iter().map(|a| (*a).to_owned()).collect(),
            path: name.split('/').map(str::to_owned).collect(),
        }
    }

    /// The last path segment (the folder's own name without parents or prefix).
    pub fn leaf(&self) -> &str {
        self.path.last().map_or(self.name.as_str(), String::as_str)
    }

    /// Whether it has an attribute (case-insensitive, `\` included: `"\\Sent"`).
    pub fn has_attribute(&self, attribute: &str) -> bool {
        self.attributes.iter().any(|a| a.eq_ignore_ascii_case(attribute))
    }

    /// Whether it can be selected (not `\Noselect` / `\NonExistent`).
    pub fn is_selectable(&self) -> bool {
        !self.has_attribute("\\Noselect") && !self.has_attribute("\\NonExistent")
    }

    /// Whether this is the inbox (`INBOX` in any case).
    pub fn is_inbox(&self) -> bool {
        self.name.eq_ignore_ascii_case("INBOX")
    }
}

/// A role decision for one folder.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoleChoice {
    /// The folder's wire name ([`Folder::raw`]).
    pub folder: String,
    /// Its role.
    pub role: Role,
    /// Why.
    pub source: RoleSource,
    /// A short explanation shown to admins.
    pub reason: String,
}

/// What the provider calls a system folder: hierarchy segments below the personal
/// namespace (`["Sent Messages"]`); the host adds the server's separator and prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FolderName {
    /// The role.
    pub role: Role,
    /// The path segments.
    pub path: Vec<String>,
}

impl FolderName {
    /// A top-level folder.
    pub fn top(role: Role, name: &str) -> Self {
        FolderName { role, path: vec![name.to_owned()] }
    }
}

/// Behaviour the host must adapt to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Quirks {
    /// The server stores SMTP-sent mail in Sent itself: never APPEND a copy.
    pub auto_saves_sent: bool,
    /// Simultaneous connections per account; 0 = unknown.
    pub max_connections: u32,
    /// Re-issue IDLE after this many seconds; 0 = the host's default.
    pub idle_refresh_secs: u32,
    /// Send NOOP while idle.
    pub noop_keepalive: bool,
    /// Fetch whole messages; partial FETCH is unreliable.
    pub avoid_partial_fetch: bool,
}

/// An assignment of a message to a project.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Assignment {
    /// The project number or key.
    pub project: String,
    /// Why, for `postfachd route explain`.
    pub reason: String,
}

/// A router's answer for one message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Assign the message to a project.
    Project(Assignment),
    /// No opinion; the next router decides.
    Skip,
}

impl Decision {
    /// Assigns to `project` with a reason.
    pub fn project(project: impl Into<String>, reason: impl Into<String>) -> Decision {
        Decision::Project(Assignment { project: project.into(), reason: reason.into() })
    }
}

/// Log levels of `host::log` of the SDK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// Very verbose.
    Trace,
    /// Verbose.
    Debug,
    /// Normal.
    Info,
    /// Something odd.
    Warn,
    /// Something failed.
    Error,
}
