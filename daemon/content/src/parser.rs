//! The one mail-parser configuration this crate reads messages with.

use std::sync::LazyLock;

use mail_parser::{HeaderName, Message, MessageParser};

/// Built once: a parser's header table is allocated on construction, and every API call
/// and every indexed message parses. Only the fields this crate reads are parsed (MIME
/// headers, Subject, the addresses); the rest, notably long `Received` chains, is
/// skipped unparsed: the profile of an initial sync showed them as a large share of
/// indexing a message. So is Date, which nothing here reads: mail-parser's date parser reads
/// two bytes past a one-letter zone (`Date: … 10:00:00 Z`), which at the end of the header
/// swallowed the blank line and so the body (found by the fuzz tests).
static PARSER: LazyLock<MessageParser> = LazyLock::new(|| {
    MessageParser::new().with_minimal_headers().ignore_header(HeaderName::Date).default_header_ignore()
});

/// Parses `raw` as a whole message; `None` when not even a header could be read.
///
/// A message whose first line is not a header field has no header section at all (a
/// script that wrote only a body): it is read as a body after an empty header, as
/// Python's email package does. mail-parser would take its lines for broken header
/// fields and give it no text, so its text, snippet and index entry would be empty.
pub(crate) fn message(raw: &[u8]) -> Option<Message<'_>> {
    if starts_with_body(raw) {
        let mut with_header = Vec::with_capacity(raw.len() + 2);
        with_header.extend_from_slice(b"\r\n");
        with_header.extend_from_slice(raw);
        return PARSER.parse(&with_header).map(Message::into_owned);
    }
    PARSER.parse(raw)
}

/// Whether the first line of `raw` is text rather than a header field (`Name:` with a
/// name of printable ASCII, RFC 5322 §2.2), a continuation, an empty line, or an mbox
/// `From ` line.
fn starts_with_body(raw: &[u8]) -> bool {
    let line = raw.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() || line.starts_with(b" ") || line.starts_with(b"\t") || line.starts_with(b"From ") {
        return false;
    }
    match line.iter().position(|&b| b == b':') {
        // Obsolete syntax allows blanks between the name and the colon.
        Some(colon) => {
            let name = line[..colon].trim_ascii_end();
            name.is_empty() || !name.iter().all(|b| (33..=126).contains(b))
        }
        None => true,
    }
}
