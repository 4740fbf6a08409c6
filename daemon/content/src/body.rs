//! Choosing the parts a reader sees as the message body, the way mail-parser's
//! text/HTML body lists describe them.

use mail_parser::decoders::html::html_to_text;
use mail_parser::{Message, PartType};

/// The readable body of a message, borrowed from it, and the parts it is made of.
pub(crate) struct Body<'m> {
    /// The first real HTML part, exactly as sent.
    pub(crate) html: Option<&'m str>,
    /// The text body parts; HTML ones among them are converted when the text is built.
    texts: Vec<&'m PartType<'m>>,
    /// Positions (in `Message::parts`) of the parts shown; they are not attachments.
    used: Vec<u32>,
}

impl Body<'_> {
    /// Whether the part at `id` is shown as body.
    pub(crate) fn uses(&self, id: u32) -> bool {
        self.used.contains(&id)
    }

    /// The plain text: the text body parts joined, or text made from the HTML when they
    /// are missing or blank — some senders put an empty text/plain beside the real HTML,
    /// and a blank text would leave the snippet and the index empty.
    pub(crate) fn text(&self) -> Option<String> {
        let parts: Vec<String> = self
            .texts
            .iter()
            .filter_map(|body| match body {
                PartType::Text(text) => Some(text.to_string()),
                PartType::Html(html) => Some(html_to_text(html)),
                _ => None,
            })
            .collect();
        let text = (!parts.is_empty()).then(|| parts.join("\n"));
        match (text, self.html) {
            (Some(text), Some(html)) if text.trim().is_empty() => Some(html_to_text(html)),
            (None, Some(html)) => Some(html_to_text(html)),
            (text, _) => text,
        }
    }
}

/// Picks the body of `message`.
///
/// Every text body part counts, not only the first: mailing lists and some clients add a
/// footer or a second text block as a separate inline part, and dropping it would hide
/// content that is not listed as an attachment either.
pub(crate) fn choose<'m>(message: &'m Message<'m>) -> Body<'m> {
    let mut used = Vec::new();
    let mut texts = Vec::new();
    for &id in &message.text_body {
        if let Some(body @ (PartType::Text(_) | PartType::Html(_))) = message.parts.get(id as usize).map(|p| &p.body) {
            used.push(id);
            texts.push(body);
        }
    }
    let html = message.html_body.iter().find_map(|&id| match message.parts.get(id as usize).map(|p| &p.body) {
        Some(PartType::Html(html)) => {
            used.push(id);
            Some(html.as_ref())
        }
        _ => None,
    });
    Body { html, texts, used }
}
