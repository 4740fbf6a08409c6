//! The one mail-parser configuration this crate reads messages with.

use std::sync::LazyLock;

use mail_parser::{Message, MessageParser};

/// Built once: a parser's header table is allocated on construction, and every API call
/// and every indexed message parses.
static PARSER: LazyLock<MessageParser> = LazyLock::new(MessageParser::default);

/// Parses `raw` as a whole message; `None` when not even a header could be read.
pub(crate) fn message(raw: &[u8]) -> Option<Message<'_>> {
    PARSER.parse(raw)
}
