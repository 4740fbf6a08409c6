//! The walk over a message's MIME tree that names every leaf part by its IMAP section
//! number (RFC 3501 §6.4.5: `1`, `2.1`, `3.1.2`), so attachment ids agree with what the
//! server would call the same part and stay stable for the same bytes.
//!
//! mail-parser keeps the parts of a message in a flat list; a multipart's body lists the
//! positions of its children. The walk is iterative so that absurdly deep nesting in
//! hostile mail cannot exhaust the stack.

use mail_parser::{Message, MessagePart, MimeHeaders, PartType};

/// A part that is not a multipart container: a body, an attachment, or an embedded
/// message (which is not descended into).
pub(crate) struct Leaf<'m, 'x> {
    /// The IMAP section number.
    pub(crate) section: String,
    /// The part's position in `Message::parts`.
    pub(crate) id: u32,
    /// The part itself.
    pub(crate) part: &'m MessagePart<'x>,
    /// Whether this is the signature of a `multipart/signed` parent, which mail clients
    /// show as a signature status, not as a file.
    pub(crate) is_signature: bool,
}

/// The leaves of `message` in document order.
pub(crate) fn leaves<'m, 'x>(message: &'m Message<'x>) -> Vec<Leaf<'m, 'x>> {
    let mut out = Vec::new();
    let Some(root) = message.parts.first() else { return out };
    let PartType::Multipart(children) = &root.body else {
        // A single-part message's body is section 1, not the empty section of the whole.
        out.push(Leaf { section: "1".to_owned(), id: 0, part: root, is_signature: false });
        return out;
    };

    // Guards against a malformed part list that names a part twice or itself: each part
    // is visited at most once, so the walk always ends.
    let mut seen = vec![false; message.parts.len()];
    seen[0] = true;
    let mut stack = Vec::new();
    push_children(&mut stack, "", root, children);

    while let Some(Pending { id, section, is_signature }) = stack.pop() {
        let Some(part) = message.parts.get(id as usize) else { continue };
        let Some(seen) = seen.get_mut(id as usize) else { continue };
        if std::mem::replace(seen, true) {
            continue;
        }
        match &part.body {
            PartType::Multipart(children) => push_children(&mut stack, &section, part, children),
            _ => out.push(Leaf { section, id, part, is_signature }),
        }
    }
    out
}

/// A part still to visit.
struct Pending {
    id: u32,
    section: String,
    is_signature: bool,
}

/// Queues `parent`'s children, last first so they pop in document order.
fn push_children(stack: &mut Vec<Pending>, prefix: &str, parent: &MessagePart<'_>, children: &[u32]) {
    let signed = parent.content_type().and_then(|ct| ct.subtype()).is_some_and(|s| s.eq_ignore_ascii_case("signed"));
    for (pos, &id) in children.iter().enumerate().rev() {
        let number = pos + 1;
        let section = if prefix.is_empty() { number.to_string() } else { format!("{prefix}.{number}") };
        // RFC 1847: the second body part of multipart/signed is the signature.
        stack.push(Pending { id, section, is_signature: signed && number == 2 });
    }
}
