//! The document the full-text index stores for a message.

use crate::snippet::{SNIPPET_CHARS, snippet};
use crate::{address, body, fold, guard, listing, parser};

/// How much body text is indexed. Beyond this a message is a log dump or a mailing list
/// digest, and the rest adds index size more than findability.
const MAX_BODY_BYTES: usize = 256 * 1024;

/// What the full-text index stores for one message, every field already folded with
/// [`fold::index_text`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchDocument {
    /// The subject.
    pub subject: String,
    /// Names and addresses from From, To and Cc.
    pub addresses: String,
    /// The body text (text part, or text made from HTML), at most 256 KiB before folding.
    pub body: String,
    /// The attachments' file names.
    pub attachments: String,
}

/// What the store derives from a message when it stores it, from one parse: the index
/// document, the snippet, and whether the message has an attachment that is not an
/// embedded image.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Indexed {
    /// The index document.
    pub search: SearchDocument,
    /// The snippet, as [`crate::Content::snippet`].
    pub snippet: String,
    /// Whether an attachment other than an embedded image is listed.
    pub has_attachments: bool,
}

/// Builds the index document for a message from its raw bytes. Unreadable input gives
/// an empty document.
pub fn search_document(raw: &[u8]) -> SearchDocument {
    index(raw).search
}

/// Parses a message once for everything the store keeps of its content.
pub fn index(raw: &[u8]) -> Indexed {
    guard::or_default(|| {
        let Some(message) = parser::message(raw) else { return Indexed::default() };
        let body = body::choose(&message);

        let mut addresses = String::new();
        address::words(message.from(), &mut addresses);
        address::words(message.to(), &mut addresses);
        address::words(message.cc(), &mut addresses);

        let listed = listing::list_with_body(&message, &body);
        let has_attachments = listed.iter().any(|l| !l.meta.inline);
        let names: Vec<String> = listed.into_iter().filter_map(|l| l.meta.filename).collect();
        let text = body.text();
        let text = text.as_deref().unwrap_or_default();

        Indexed {
            snippet: snippet(text, SNIPPET_CHARS),
            has_attachments,
            search: SearchDocument {
                subject: fold::index_text(message.subject().unwrap_or_default()),
                addresses: fold::index_text(&addresses),
                body: fold::index_text(truncate(text, MAX_BODY_BYTES)),
                attachments: fold::index_text(&names.join(" ")),
            },
        }
    })
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    s.get(..s.floor_char_boundary(max)).unwrap_or_default()
}
