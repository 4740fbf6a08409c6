//! Attachments as the API lists and serves them.

use crate::{guard, listing, parser};

/// One attachment of a message, as listed by [`parse`](crate::parse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The IMAP section number of the MIME part (`2`, `1.2`, `3.1.2`); a single-part
    /// message's body is `1`. Stable for the same bytes.
    pub id: String,
    /// The decoded file name (RFC 2231 / RFC 2047), from the Content-Disposition
    /// `filename` or the Content-Type `name`. Control characters and any directory part
    /// are removed, so it is safe to put into a download header.
    pub filename: Option<String>,
    /// `type/subtype` in lower case without parameters; `application/octet-stream` when
    /// the part does not say.
    pub content_type: String,
    /// Length of the decoded content in bytes.
    pub size: u64,
    /// Whether the part is an embedded image: it has a Content-ID that the HTML body
    /// refers to (`cid:`) and is not marked `Content-Disposition: attachment`.
    pub inline: bool,
}

/// An attachment together with its decoded content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentData {
    /// What [`parse`](crate::parse) lists for it.
    pub meta: Attachment,
    /// The decoded content: transfer encoding removed; text parts as UTF-8; an embedded
    /// message as its raw RFC 5322 bytes.
    pub bytes: Vec<u8>,
}

/// The attachment with the given `id` (as listed by [`parse`](crate::parse)) and its
/// decoded bytes; `None` for an id that names no attachment.
pub fn attachment(raw: &[u8], id: &str) -> Option<AttachmentData> {
    guard::or_default(|| {
        let message = parser::message(raw)?;
        let listed = listing::list(&message).into_iter().find(|l| l.meta.id == id)?;
        let bytes = listing::content(message.raw_message(), listed.part).to_vec();
        Some(AttachmentData { meta: listed.meta, bytes })
    })
}

/// Whether [`parse`](crate::parse) would list at least one attachment that is not an
/// embedded image — what a message list marks with a paper clip.
pub fn has_attachments(raw: &[u8]) -> bool {
    guard::or_default(|| {
        parser::message(raw).is_some_and(|message| listing::list(&message).iter().any(|l| !l.meta.inline))
    })
}
