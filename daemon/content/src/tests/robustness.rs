//! Hostile and broken input: nothing may panic, and `parse` returns what it can.

use super::fixtures::{alternative_with_pdf, crlf, forwarded, text_with_pdf};
use crate::{attachment, has_attachments, parse, search_document};

/// Runs every entry point on `raw`; a panic fails the test.
fn exercise(raw: &[u8]) -> crate::Content {
    let content = parse(raw);
    for a in &content.attachments {
        let data = attachment(raw, &a.id).unwrap();
        assert_eq!(data.bytes.len() as u64, a.size);
    }
    let _ = attachment(raw, "1");
    let _ = has_attachments(raw);
    let _ = search_document(raw);
    content
}

#[test]
fn garbage_bytes_do_not_panic() {
    exercise(b"\x00\xff garbage");
    exercise(b"\xff\xfe\xfd");
    exercise(b":\r\n\r\n");
    exercise(b"--\r\n--");
}

#[test]
fn empty_input_gives_empty_content() {
    assert_eq!(exercise(b""), crate::Content::default());
    assert_eq!(search_document(b""), crate::SearchDocument::default());
}

#[test]
fn a_header_without_a_body_does_not_panic() {
    let content = exercise(b"Subject: nur Kopf");
    assert!(content.attachments.is_empty());
    exercise(b"Content-Type: multipart/mixed; boundary=x\r\n");
}

#[test]
fn a_thousand_nested_multiparts_do_not_panic() {
    let mut raw = String::from("Subject: tief\r\n");
    for depth in 0..1000 {
        raw.push_str(&format!("Content-Type: multipart/mixed; boundary=\"b{depth}\"\r\n\r\n--b{depth}\r\n"));
    }
    raw.push_str("Content-Type: application/pdf; name=tief.pdf\r\n\r\nPDF\r\n");
    for depth in (0..1000).rev() {
        raw.push_str(&format!("--b{depth}--\r\n"));
    }
    let content = exercise(raw.as_bytes());
    let ids: Vec<&str> = content.attachments.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, [vec!["1"; 1000].join(".")]);
    // Unclosed as well.
    exercise(&raw.as_bytes()[..raw.len() / 2]);
}

#[test]
fn an_unknown_charset_does_not_panic() {
    let raw = crlf("Subject: =?x-unknown?Q?abc?=\nContent-Type: text/plain; charset=\"x-nonsense\"\n\nText \u{fc}\n");
    let content = exercise(&raw);
    assert!(content.text.unwrap().contains("Text"));
}

#[test]
fn eight_bit_bytes_in_headers_do_not_panic() {
    let raw = b"From: J\xfcrgen <jm@example.de>\r\nSubject: Gr\xfc\xdfe \xff\xfe\r\n\
Content-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\nContent-Type: text/plain\r\n\r\nx\r\n\
--m\r\nContent-Type: application/pdf; name=\"\xc3\x9cbersicht \xfc.pdf\"\r\n\r\nPDF\r\n--m--\r\n";
    let content = exercise(raw);
    assert_eq!(content.attachments.len(), 1);
}

#[test]
fn broken_base64_and_boundaries_do_not_panic() {
    exercise(&crlf(
        "Content-Type: multipart/mixed; boundary=m\n\n--m\nContent-Type: application/pdf\n\
Content-Transfer-Encoding: base64\n\n!!!not base64@@@\n--m\nContent-Type: message/rfc822\n\n\
--m--\n",
    ));
    exercise(&crlf("Content-Type: multipart/alternative\n\nno boundary parameter\n"));
    exercise(&crlf("Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nZm9v\n"));
}

#[test]
fn every_prefix_of_a_message_is_handled() {
    for raw in [text_with_pdf(), alternative_with_pdf(), forwarded().0] {
        for len in 0..raw.len() {
            exercise(&raw[..len]);
        }
    }
}

#[test]
fn mutated_messages_are_handled() {
    // A small deterministic generator: the test must be reproducible without a crate.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let bytes_of_interest = [b'-', b'\r', b'\n', b'=', b'"', b';', b':', 0, 0xff, b'?', b'*', b'%'];
    for base in [text_with_pdf(), alternative_with_pdf(), forwarded().0] {
        for _ in 0..1000 {
            let mut raw = base.clone();
            for _ in 0..(1 + next() % 8) {
                let pos = (next() % raw.len() as u64) as usize;
                match next() % 3 {
                    0 => raw[pos] = bytes_of_interest[(next() % bytes_of_interest.len() as u64) as usize],
                    1 => {
                        raw.remove(pos);
                    }
                    _ => raw.insert(pos, (next() & 0xff) as u8),
                }
            }
            exercise(&raw);
        }
    }
}
