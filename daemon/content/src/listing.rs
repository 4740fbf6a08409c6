//! Deciding which MIME parts are attachments, the way a mail client does, and reading
//! their metadata and decoded content.
//!
//! A leaf part is an attachment when it is not shown as the body and it has a file name,
//! is marked `Content-Disposition: attachment`, or is anything but plain text or HTML
//! (images, PDFs, embedded messages, calendar invitations). The signature of a
//! `multipart/signed` message is not listed: clients show it as a status, and listing
//! it would put a paper clip on every signed message.

use mail_parser::{Encoding, Message, MessagePart, MimeHeaders, PartType};

use crate::attachment::Attachment;
use crate::body::{self, Body};
use crate::tree;

/// An attachment's metadata together with the part it came from.
pub(crate) struct Listed<'m, 'x> {
    /// What the API shows.
    pub(crate) meta: Attachment,
    /// Where the content is.
    pub(crate) part: &'m MessagePart<'x>,
}

/// The attachments of `message`, in document order.
pub(crate) fn list<'m, 'x>(message: &'m Message<'x>) -> Vec<Listed<'m, 'x>> {
    list_with_body(message, &body::choose(message))
}

/// [`list`] for a caller that has already chosen the body.
pub(crate) fn list_with_body<'m, 'x>(message: &'m Message<'x>, body: &Body) -> Vec<Listed<'m, 'x>> {
    let raw = message.raw_message();
    // Lower-cased once: Content-ID references are compared without regard to (ASCII) case.
    let mut html_lower: Option<String> = None;
    let mut out = Vec::new();
    for leaf in tree::leaves(message) {
        let part = leaf.part;
        if leaf.is_signature || body.uses(leaf.id) {
            continue;
        }
        let marked_attachment = part.content_disposition().is_some_and(|d| d.is_attachment());
        let filename = part.attachment_name().and_then(clean_filename);
        if filename.is_none() && !marked_attachment && is_readable_text(part) {
            continue;
        }
        let inline = !marked_attachment
            && part.content_id().map(strip_brackets).is_some_and(|cid| {
                let html = html_lower.get_or_insert_with(|| body.html.unwrap_or_default().to_ascii_lowercase());
                !cid.is_empty() && html.contains(&format!("cid:{}", cid.to_ascii_lowercase()))
            });
        let meta = Attachment {
            id: leaf.section,
            filename,
            content_type: content_type(part),
            size: content(raw, part).len() as u64,
            inline,
        };
        out.push(Listed { meta, part });
    }
    out
}

/// The decoded content of `part`. An embedded message is served as the bytes it was
/// sent as: when it was not transfer-encoded, mail-parser parses it in place and keeps
/// only offsets into the outer message, so it is cut out of `raw`.
pub(crate) fn content<'a>(raw: &'a [u8], part: &'a MessagePart<'_>) -> &'a [u8] {
    if let PartType::Message(_) = part.body
        && part.encoding == Encoding::None
        && let Some(bytes) = raw.get(part.offset_body as usize..part.offset_end as usize)
    {
        return bytes;
    }
    part.contents()
}

/// Whether a part is text a reader would see inline (text/plain or text/html, which is
/// also what a part without Content-Type is) rather than a file.
fn is_readable_text(part: &MessagePart<'_>) -> bool {
    match part.content_type() {
        Some(ct) => {
            ct.ctype().eq_ignore_ascii_case("text")
                && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("plain") || s.eq_ignore_ascii_case("html"))
        }
        None => matches!(part.body, PartType::Text(_) | PartType::Html(_)),
    }
}

/// `type/subtype` in lower case, without parameters.
fn content_type(part: &MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => match ct.subtype().filter(|s| !s.is_empty()) {
            Some(sub) if !ct.ctype().is_empty() => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
            _ => DEFAULT_TYPE.to_owned(),
        },
        // In a multipart/digest a part without Content-Type is a message (RFC 2046 §5.1.5).
        None if matches!(part.body, PartType::Message(_)) => "message/rfc822".to_owned(),
        None => DEFAULT_TYPE.to_owned(),
    }
}

/// What an attachment of unknown type is served as: bytes, never something a browser
/// would render.
const DEFAULT_TYPE: &str = "application/octet-stream";

/// A file name fit to show and to put into a download header: no control characters
/// (a decoded RFC 2047 word may contain CR LF), no directory part (old clients send
/// `C:\Users\...\file.pdf`; `.` and `..` are no names either), no surrounding blanks;
/// `None` if nothing is left (also for a name of only separators such as `/`, or `..`).
fn clean_filename(name: &str) -> Option<String> {
    name.rsplit(['/', '\\'])
        .map(|part| part.chars().filter(|c| !c.is_control()).collect::<String>().trim().to_owned())
        .find(|part| !matches!(part.as_str(), "" | "." | ".."))
}

/// A Content-ID without its angle brackets.
fn strip_brackets(id: &str) -> &str {
    id.trim().trim_start_matches('<').trim_end_matches('>').trim()
}
