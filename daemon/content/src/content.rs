//! A message's content as the API shows it.

use crate::attachment::Attachment;
use crate::snippet::{SNIPPET_CHARS, snippet};
use crate::{address, body, guard, listing, parser};

/// Everything the API shows of a message's content.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Content {
    /// The text/plain body; made from the HTML body when there is no usable text part;
    /// `None` if the message has neither.
    pub text: Option<String>,
    /// The text/html body as sent; `None` if the message has no HTML part (HTML is never
    /// made up from text).
    pub html: Option<String>,
    /// Reply-To addresses, `Name <addr>` or `addr`.
    pub reply_to: Vec<String>,
    /// The attachments, embedded images included (see [`Attachment::inline`]).
    pub attachments: Vec<Attachment>,
    /// About the first 200 characters of the text on one line, `…` appended when cut.
    pub snippet: String,
}

/// Reads a message's content from its raw bytes. Never fails: unreadable input gives
/// an empty [`Content`], broken MIME gives whatever could be read.
pub fn parse(raw: &[u8]) -> Content {
    guard::or_default(|| {
        let Some(message) = parser::message(raw) else { return Content::default() };
        let body = body::choose(&message);
        let attachments = listing::list_with_body(&message, &body).into_iter().map(|l| l.meta).collect();
        let text = body.text();
        Content {
            snippet: text.as_deref().map(|t| snippet(t, SNIPPET_CHARS)).unwrap_or_default(),
            reply_to: address::display(message.reply_to()),
            attachments,
            text,
            html: body.html.map(str::to_owned),
        }
    })
}
