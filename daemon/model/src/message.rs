//! A message as the sync produces it and the store keeps it: parsed headers, the fetched
//! bytes, its identity, and where it is on the server.

use crate::folder::FolderRow;
use crate::ids::MessageId;

/// Headers parsed from a message, as stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Headers {
    /// Message-ID without angle brackets.
    pub message_id: Option<String>,
    /// The Subject header with RFC 2047 encoded words decoded (`Grüße aus Süd`).
    pub subject: Option<String>,
    /// From addresses (`Name <addr>` or `addr`).
    pub from: Vec<String>,
    /// To addresses, in the same form as `from`.
    pub to: Vec<String>,
    /// Cc addresses, in the same form as `from`.
    pub cc: Vec<String>,
    /// The Date header as Unix time.
    pub date: Option<i64>,
    /// In-Reply-To without angle brackets.
    pub in_reply_to: Option<String>,
    /// References, oldest first, without angle brackets.
    pub references: Vec<String>,
}

/// A message fetched from the server, ready to store.
#[derive(Debug, Clone)]
pub struct FetchedMessage {
    /// UID in the folder being synced.
    pub uid: u32,
    /// IMAP flags (`\Seen`, keywords).
    pub flags: Vec<String>,
    /// MODSEQ, where the server has CONDSTORE.
    pub modseq: Option<u64>,
    /// INTERNALDATE as Unix time.
    pub internal_date: Option<i64>,
    /// The raw RFC 5322 bytes.
    pub raw: Vec<u8>,
    /// BLAKE3 hex of `raw`.
    pub hash: String,
    /// Fields parsed from `raw`'s header section; missing or unreadable ones stay empty.
    pub headers: Headers,
    /// Gmail's thread id (`X-GM-THRID`), where the server offers it.
    pub gmail_thread: Option<u64>,
    /// `Some(size)`: `raw` holds only the header section (`[sync] bodies = "on-demand"`);
    /// the whole message is `size` bytes and is fetched when first asked for.
    pub header_only: Option<u64>,
}

impl FetchedMessage {
    /// The identity key: `mid:<Message-ID>`, or `hash:<content key>` without one.
    pub fn identity(&self) -> String {
        match self.headers.message_id.as_deref() {
            Some(id) if !id.is_empty() => identity_of(Some(id), ""),
            _ => identity_of(None, &content_key(&self.raw)),
        }
    }
}

/// A hash of a message's content that ignores line-end style and trailing blank lines,
/// so the copy a POP3 client saved (LF, an extra newline) and the server's (CRLF) agree.
pub fn content_key(raw: &[u8]) -> String {
    let mut hasher = blake3::Hasher::new();
    let end = raw.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(0, |i| i + 1);
    for line in raw[..end].split(|b| *b == b'\n') {
        hasher.update(line.strip_suffix(b"\r").unwrap_or(line));
        hasher.update(b"\n");
    }
    hasher.finalize().to_hex().to_string()
}

/// The identity key for a Message-ID (preferred) or content hash.
pub fn identity_of(message_id: Option<&str>, hash: &str) -> String {
    match message_id {
        Some(id) if !id.is_empty() => format!("mid:{id}"),
        _ => format!("hash:{hash}"),
    }
}

/// A UID found to be an already stored message (by Message-ID and size), so its body
/// need not be downloaded again.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// UID in the folder being synced.
    pub uid: u32,
    /// Local id of the stored message.
    pub message: MessageId,
    /// IMAP flags of the UID, as the server reported them.
    pub flags: Vec<String>,
    /// MODSEQ of the UID; `None` where the server lacks CONDSTORE.
    pub modseq: Option<u64>,
}

/// A stored identity: local id and size of its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredIdentity {
    /// Local id of the message (`messages.id`).
    pub id: MessageId,
    /// Size of the stored raw message in bytes, compared with the server's RFC822.SIZE.
    pub size: u64,
}

/// What one batch commit did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchStats {
    /// New messages stored.
    pub new_messages: u64,
    /// Locations added for already known messages (copies, moves, re-found mail).
    pub linked: u64,
    /// Stale locations (old UIDVALIDITY) re-linked to their new UID.
    pub relinked: u64,
    /// Local ids of messages that are new or gained a location (to be routed).
    pub touched: Vec<MessageId>,
}

impl std::ops::AddAssign for BatchStats {
    fn add_assign(&mut self, o: Self) {
        self.new_messages += o.new_messages;
        self.linked += o.linked;
        self.relinked += o.relinked;
        self.touched.extend(o.touched);
    }
}

/// What finishing a folder pass or marking removals did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassOutcome {
    /// Locations found gone from the server.
    pub removed: u64,
    /// Local ids of the messages that lost a location.
    pub touched: Vec<MessageId>,
}

/// A place where a stored message is on the server.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    /// The folder holding the message, with its checkpoints.
    pub folder: FolderRow,
    /// UIDVALIDITY the UID belongs to.
    pub uidvalidity: u32,
    /// The message's UID in the folder, valid under `uidvalidity`.
    pub uid: u32,
    /// IMAP flags in this folder as of the last sync (`\Seen`, keywords).
    pub flags: Vec<String>,
}
