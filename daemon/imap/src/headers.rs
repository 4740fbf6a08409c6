//! Header extraction from raw messages (mail-parser), in the form the store keeps.
//!
//! Parsing is lenient: a message with broken headers is still stored, with whatever
//! could be read, because losing mail to a parser is never acceptable.

use std::sync::LazyLock;

use mail_parser::{Address, DateTime, HeaderName, HeaderValue, MessageParser};

use postfach_model::Headers;

/// A parser for just the fields the store keeps. Every other field (notably the long
/// `Received` chains) is skipped unparsed: the profile of an initial sync showed
/// `Received` parsing as the largest single cost of reading headers.
static PARSER: LazyLock<MessageParser> = LazyLock::new(|| {
    MessageParser::new()
        .header_id(HeaderName::MessageId)
        .header_id(HeaderName::InReplyTo)
        .header_id(HeaderName::References)
        .header_text(HeaderName::Subject)
        .header_address(HeaderName::From)
        .header_address(HeaderName::To)
        .header_address(HeaderName::Cc)
        // Read raw and parsed on its own below: mail-parser's date parser reads two bytes
        // past a one-letter zone (`Date: … 10:00:00 Z`), which at the end of the line
        // swallows the next field (found by the fuzz tests: the Subject went missing).
        .header_raw(HeaderName::Date)
        .default_header_ignore()
});

/// Parses the header fields the store keeps. Only the header section is read.
pub fn parse(raw: &[u8]) -> Headers {
    let Some(msg) = PARSER.parse_headers(raw) else { return Headers::default() };
    Headers {
        message_id: msg.message_id().map(clean_id).filter(|s| !s.is_empty()),
        subject: msg.subject().map(str::to_owned),
        from: addresses(msg.from()),
        to: addresses(msg.to()),
        cc: addresses(msg.cc()),
        date: msg
            .header(HeaderName::Date)
            .and_then(HeaderValue::as_text)
            .and_then(DateTime::parse_rfc822)
            .map(|d| d.to_timestamp()),
        in_reply_to: ids(msg.in_reply_to()).into_iter().next(),
        references: ids(msg.references()),
    }
}

/// Only the Message-ID of a header block (for the cheap identity pre-pass).
pub fn message_id(header_block: &[u8]) -> Option<String> {
    let msg = PARSER.parse_headers(header_block)?;
    msg.message_id().map(clean_id).filter(|s| !s.is_empty())
}

fn clean_id(id: &str) -> String {
    id.trim().trim_start_matches('<').trim_end_matches('>').trim().to_owned()
}

fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    value
        .as_text_list()
        .map(|list| list.iter().map(|s| clean_id(s)).filter(|s| !s.is_empty()).collect())
        .unwrap_or_default()
}

fn addresses(addr: Option<&Address<'_>>) -> Vec<String> {
    let Some(addr) = addr else { return Vec::new() };
    addr.iter()
        .filter_map(|a| match (&a.name, &a.address) {
            (Some(name), Some(address)) if !name.is_empty() => Some(format!("{name} <{address}>")),
            (_, Some(address)) if !address.is_empty() => Some(address.to_string()),
            // An empty encoded word (`From: =?utf-8?B??=`) reads as an empty name: no address.
            (Some(name), _) if !name.is_empty() => Some(name.to_string()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_stored_fields() {
        let raw = b"Message-ID: <abc@example.de>\r\n\
From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jm@example.de>\r\n\
To: a@example.de, \"B, C\" <bc@example.de>\r\n\
Cc: d@example.de\r\n\
Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_S=C3=BCd?=\r\n\
Date: Mon, 23 Nov 2026 10:00:00 +0100\r\n\
In-Reply-To: <parent@example.de>\r\n\
References: <root@example.de> <parent@example.de>\r\n\
\r\n\
Body\r\n";
        let h = parse(raw);
        assert_eq!(h.message_id.as_deref(), Some("abc@example.de"));
        assert_eq!(h.subject.as_deref(), Some("Grüße aus Süd"));
        assert_eq!(h.from, vec!["Jürgen Müller <jm@example.de>"]);
        assert_eq!(h.to, vec!["a@example.de", "B, C <bc@example.de>"]);
        assert_eq!(h.cc, vec!["d@example.de"]);
        assert_eq!(h.date, Some(1_795_424_400));
        assert_eq!(h.in_reply_to.as_deref(), Some("parent@example.de"));
        assert_eq!(h.references, vec!["root@example.de", "parent@example.de"]);
    }

    #[test]
    fn skips_fields_it_does_not_keep() {
        let raw = b"Received: from mx1.example.net (mx1.example.net [192.0.2.1])\r\n\
\tby mail.example.de with ESMTPS id 0123; Mon, 23 Nov 2026 08:00:00 +0100\r\n\
X-Spam-Status: No, score=-1.0 required=5.0 tests=ALL_TRUSTED\r\n\
Subject: [P-210-01] Plaene\r\n\
Received: from [10.0.0.1] by mx1.example.net; Mon, 23 Nov 2026 07:59:00 +0100\r\n\
From: Bauamt <bauamt@musterstadt.de>\r\n\
Message-ID: <id-1@example.de>\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Body\r\n";
        let h = parse(raw);
        assert_eq!(h.subject.as_deref(), Some("[P-210-01] Plaene"));
        assert_eq!(h.from, vec!["Bauamt <bauamt@musterstadt.de>"]);
        assert_eq!(h.message_id.as_deref(), Some("id-1@example.de"));
        assert!(h.to.is_empty() && h.date.is_none());
    }

    #[test]
    fn tolerates_garbage() {
        let h = parse(b"no headers at all");
        assert_eq!(h.message_id, None);
        assert_eq!(message_id(b"Message-ID:   <x@y>  \r\n\r\n").as_deref(), Some("x@y"));
    }
}
