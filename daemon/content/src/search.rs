//! The document the full-text index stores for a message.

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

/// Builds the index document for a message from its raw bytes. Unreadable input gives
/// an empty document.
pub fn search_document(raw: &[u8]) -> SearchDocument {
    guard::or_default(|| {
        let Some(message) = parser::message(raw) else { return SearchDocument::default() };
        let body = body::choose(&message);

        let mut addresses = String::new();
        address::words(message.from(), &mut addresses);
        address::words(message.to(), &mut addresses);
        address::words(message.cc(), &mut addresses);

        let names: Vec<String> =
            listing::list_with_body(&message, &body).into_iter().filter_map(|l| l.meta.filename).collect();

        SearchDocument {
            subject: fold::index_text(message.subject().unwrap_or_default()),
            addresses: fold::index_text(&addresses),
            body: fold::index_text(truncate(body.text().as_deref().unwrap_or_default(), MAX_BODY_BYTES)),
            attachments: fold::index_text(&names.join(" ")),
        }
    })
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    s.get(..s.floor_char_boundary(max)).unwrap_or_default()
}
