//! The values plugins receive and return, as plain Rust types (the generated WIT bindings
//! stay private). They mirror `wit/v0.1/plugin.wit` one to one.

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

/// A stored message as routers see it. It borrows its text from the batch the host sent,
/// so routing a thousand messages allocates nothing per message.
///
/// In tests, build one with struct syntax and [`Texts::from`]:
/// `MessageMeta { subject: Some("Hallo"), from: Texts::from(&["a@b.de"][..]), ..MessageMeta::default() }`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageMeta<'a> {
    /// Account id.
    pub account: &'a str,
    /// Decoded full folder name.
    pub folder: &'a str,
    /// Folder hierarchy without the namespace prefix.
    pub folder_path: Texts<'a>,
    /// Message-ID without brackets.
    pub message_id: Option<&'a str>,
    /// Subject.
    pub subject: Option<&'a str>,
    /// From addresses (`Name <addr>` or `addr`).
    pub from: Texts<'a>,
    /// To addresses.
    pub to: Texts<'a>,
    /// Cc addresses.
    pub cc: Texts<'a>,
    /// In-Reply-To without brackets.
    pub in_reply_to: Option<&'a str>,
    /// References without brackets, oldest first.
    pub references: Texts<'a>,
    /// Date header, Unix seconds.
    pub date: Option<i64>,
    /// Size in bytes.
    pub size: u64,
    /// IMAP flags.
    pub flags: Texts<'a>,
    /// Further header fields the host passes on, as name, value, name, value, …; see
    /// [`MessageMeta::header`].
    pub headers: Texts<'a>,
}

impl<'a> MessageMeta<'a> {
    /// The value of a passed-on header field (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        let mut it = self.headers.iter();
        while let (Some(n), Some(v)) = (it.next(), it.next()) {
            if n.eq_ignore_ascii_case(name) {
                return Some(v);
            }
        }
        None
    }
}

/// A list of texts of a [`MessageMeta`], borrowed; iterate with [`Texts::iter`].
#[derive(Clone, Copy)]
pub struct Texts<'a> {
    repr: TextsRepr<'a>,
}

#[derive(Clone, Copy)]
enum TextsRepr<'a> {
    Slice(&'a [&'a str]),
    #[cfg(all(target_arch = "wasm32", feature = "router"))]
    Spans {
        text: &'a str,
        spans: &'a [crate::export::wit::types::Span],
    },
}

impl<'a> Texts<'a> {
    /// No texts.
    pub const EMPTY: Texts<'static> = Texts { repr: TextsRepr::Slice(&[]) };

    #[cfg(all(target_arch = "wasm32", feature = "router"))]
    pub(crate) fn spans(text: &'a str, spans: &'a [crate::export::wit::types::Span]) -> Texts<'a> {
        Texts { repr: TextsRepr::Spans { text, spans } }
    }

    /// How many.
    pub fn len(&self) -> usize {
        match self.repr {
            TextsRepr::Slice(s) => s.len(),
            #[cfg(all(target_arch = "wasm32", feature = "router"))]
            TextsRepr::Spans { spans, .. } => spans.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`-th text.
    pub fn get(&self, i: usize) -> Option<&'a str> {
        match self.repr {
            TextsRepr::Slice(s) => s.get(i).copied(),
            #[cfg(all(target_arch = "wasm32", feature = "router"))]
            TextsRepr::Spans { text, spans } => {
                let span = spans.get(i)?;
                let start = span.start as usize;
                text.get(start..start + span.len as usize)
            }
        }
    }

    /// The first text.
    pub fn first(&self) -> Option<&'a str> {
        self.get(0)
    }

    /// The last text.
    pub fn last(&self) -> Option<&'a str> {
        self.len().checked_sub(1).and_then(|i| self.get(i))
    }

    /// The texts in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &'a str> + ExactSizeIterator + 'a {
        let this = *self;
        (0..this.len()).map(move |i| this.get(i).unwrap_or_default())
    }

    /// The texts as owned strings.
    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(str::to_owned).collect()
    }
}

impl<'a> From<&'a [&'a str]> for Texts<'a> {
    fn from(slice: &'a [&'a str]) -> Texts<'a> {
        Texts { repr: TextsRepr::Slice(slice) }
    }
}

impl Default for Texts<'_> {
    fn default() -> Self {
        Texts::EMPTY
    }
}

impl PartialEq for Texts<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Texts<'_> {}

impl std::fmt::Debug for Texts<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
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

/// Log levels of [`crate::host::log`].
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
