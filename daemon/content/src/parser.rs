//! The one mail-parser configuration this crate reads messages with.

use std::sync::LazyLock;

use mail_parser::{Message, MessageParser};

/// Built once: a parser's header table is allocated on construction, and every API call
/// and every indexed message parses. Only the fields this crate reads are parsed (MIME
/// headers, Subject, the addresses); the rest, notably long `Received` chains, is
/// skipped unparsed: the profile of an initial sync showed them as a large share of
/// indexing a message.
static PARSER: LazyLock<MessageParser> =
    LazyLock::new(|| MessageParser::new().with_minimal_headers().default_header_ignore());

/// Parses `raw` as a whole message; `None` when not even a header could be read.
pub(crate) fn message(raw: &[u8]) -> Option<Message<'_>> {
    PARSER.parse(raw)
}
