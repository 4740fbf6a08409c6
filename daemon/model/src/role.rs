//! What a folder is for, and who decided it.

use std::fmt;
use std::str::FromStr;

/// What a folder is for. Lower-case names are the wire form in the store and `--json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Where new mail arrives: `INBOX`, or `folders.inbox`.
    Inbox,
    /// Copies of sent mail; the outbox appends sent messages here unless the provider does.
    Sent,
    /// Unfinished messages; the outbox stores drafts here.
    Drafts,
    /// Deleted mail; a `delete` change moves messages here.
    Trash,
    /// Spam; a `spam` change moves messages here, `not-spam` back to the inbox.
    Junk,
    /// Old mail kept out of the inbox; `after_window = "archive"` moves mail here.
    Archive,
    /// Every message (Gmail's All Mail).
    All,
    /// A view of flagged messages (`\Flagged`, Gmail's Starred).
    Flagged,
    /// Gmail's Important.
    Important,
    /// Mail waiting to be sent by a webmailer; never "sent".
    Outbox,
}

impl Role {
    /// Every role, in display order.
    pub const ALL: [Role; 10] = [
        Role::Inbox,
        Role::Sent,
        Role::Drafts,
        Role::Trash,
        Role::Junk,
        Role::Archive,
        Role::All,
        Role::Flagged,
        Role::Important,
        Role::Outbox,
    ];

    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Inbox => "inbox",
            Role::Sent => "sent",
            Role::Drafts => "drafts",
            Role::Trash => "trash",
            Role::Junk => "junk",
            Role::Archive => "archive",
            Role::All => "all",
            Role::Flagged => "flagged",
            Role::Important => "important",
            Role::Outbox => "outbox",
        }
    }

    /// The RFC 6154 SPECIAL-USE attribute that marks this role, if any.
    pub fn from_attribute(attribute: &str) -> Option<Role> {
        let a = attribute.to_ascii_lowercase();
        Some(match a.as_str() {
            "\\sent" => Role::Sent,
            "\\drafts" => Role::Drafts,
            "\\trash" => Role::Trash,
            "\\junk" | "\\spam" => Role::Junk,
            "\\archive" => Role::Archive,
            "\\all" | "\\allmail" => Role::All,
            "\\flagged" | "\\starred" => Role::Flagged,
            "\\important" => Role::Important,
            "\\inbox" => Role::Inbox,
            _ => return None,
        })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| format!("unknown folder role `{s}`"))
    }
}

/// Who decided a folder's role. Later sources win: config over attribute over adapter
/// over name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoleSource {
    /// A SPECIAL-USE / XLIST attribute from the server.
    Attribute,
    /// The provider adapter's table.
    Adapter,
    /// Matching the folder's name (INBOX, multilingual names).
    Name,
    /// `[folders]` in the account file.
    Config,
}

impl RoleSource {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            RoleSource::Attribute => "attribute",
            RoleSource::Adapter => "adapter",
            RoleSource::Name => "name",
            RoleSource::Config => "config",
        }
    }
}

impl FromStr for RoleSource {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "attribute" => RoleSource::Attribute,
            "adapter" => RoleSource::Adapter,
            "name" => RoleSource::Name,
            "config" => RoleSource::Config,
            other => return Err(format!("unknown role source `{other}`")),
        })
    }
}
