//! Property-based fuzzing (proptest) of the two parsers here that read what servers send:
//! modified UTF-7 mailbox names and the header fields the store keeps.
//!
//! `make test` runs a fixed number of cases from a fixed seed (the same inputs every
//! time); `PROPTEST_CASES` and `PROPTEST_RNG_SEED` override both, which is what
//! `make fuzz` does for long runs.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use proptest::test_runner::RngSeed;

use crate::{headers, utf7};

/// `cases` unless `PROPTEST_CASES` is set; a fixed seed unless `PROPTEST_RNG_SEED` is set.
fn config(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(0x0174_0007);
    }
    // A failure prints its shrunk input and the seed reproduces it: no files in the tree.
    config.failure_persistence = None;
    config
}

/// Text that exercises the shifted form: `&`, `-`, the base64 alphabet (with `,` and
/// `+`), `=` and `/` (standard base64, invalid here), printable ASCII and any character.
fn utf7_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => Just("&".to_owned()),
        3 => Just("-".to_owned()),
        1 => Just("&-".to_owned()),
        6 => "[A-Za-z0-9+,]{1,8}",
        1 => "[=/]",
        2 => "[ -~]{1,4}",
        2 => any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

/// Checks `decode` and `decode_lossless` on one wire name: no panic, and they agree.
fn check_decode(raw: &str) {
    match utf7::decode(raw) {
        Ok(decoded) => {
            assert_eq!(utf7::decode_lossless(raw), decoded);
            // What decodes, encodes to something that decodes to the same.
            assert_eq!(utf7::decode(&utf7::encode(&decoded)).as_ref(), Ok(&decoded));
        }
        Err(e) => {
            assert_eq!(e.0, raw);
            assert_eq!(utf7::decode_lossless(raw), raw);
        }
    }
}

proptest! {
    #![proptest_config(config(4000))]

    #[test]
    fn utf7_round_trips_any_text(s in any::<String>()) {
        let wire = utf7::encode(&s);
        prop_assert!(wire.chars().all(|c| (' '..='~').contains(&c)), "not printable ASCII: {wire:?}");
        prop_assert_eq!(utf7::decode(&wire), Ok(s));
    }

    #[test]
    fn utf7_round_trips_mostly_ascii_names(s in "([ -~]{0,6}[^ -~]{0,3}){0,6}") {
        prop_assert_eq!(utf7::decode(&utf7::encode(&s)), Ok(s));
    }

    #[test]
    fn utf7_decode_never_panics_on_any_text(raw in any::<String>()) {
        check_decode(&raw);
    }

    #[test]
    fn utf7_decode_never_panics_on_shifted_runs(raw in utf7_like()) {
        check_decode(&raw);
    }

    #[test]
    fn utf7_decode_never_panics_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        check_decode(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn utf7_decode_never_panics_on_damaged_encodings(
        s in any::<String>(),
        at in any::<prop::sample::Index>(),
        with in prop_oneof![Just(None), any::<char>().prop_map(Some)],
    ) {
        let mut wire: Vec<char> = utf7::encode(&s).chars().collect();
        if !wire.is_empty() {
            let i = at.index(wire.len());
            match with {
                Some(c) => wire[i] = c,
                None => {
                    wire.remove(i);
                }
            }
        }
        check_decode(&wire.into_iter().collect::<String>());
    }
}

/// A header field name: one the store reads, a MIME or trace field, or a random token.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "Message-ID", "message-id", "MESSAGE-ID", "Subject", "From", "To", "Cc", "Date", "In-Reply-To",
            "References", "Received", "Content-Type", "Content-Transfer-Encoding", "MIME-Version", "Reply-To",
            "Sender", "Return-Path", "X-Mailer",
        ])
        .prop_map(str::to_owned),
        1 => "[!-9;-~]{1,20}",
    ]
}

/// A charset for encoded words: real ones, misspelt ones and nonsense.
fn charset() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "utf-8", "UTF-8", "iso-8859-1", "ISO-8859-15", "windows-1252", "us-ascii", "koi8-r", "shift_jis",
            "gb2312", "utf-16", "utf-7", "x-unknown", "", "utf-8*de",
        ])
        .prop_map(str::to_owned),
        1 => "[!-~]{0,12}",
    ]
}

/// One piece of a header value: plain words, 8-bit and NUL bytes, encoded words (valid
/// or broken), addresses, angle-bracketed ids, quotes, comments and folds.
fn value_piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => "[ -~]{1,16}".prop_map(String::into_bytes),
        2 => "[a-z0-9.]{1,8}@[a-z0-9.]{1,8}".prop_map(|a| format!("<{a}>").into_bytes()),
        2 => (charset(), prop::sample::select(vec!["Q", "B", "q", "b", "X"]), "[!-~]{0,24}")
            .prop_map(|(c, e, t)| format!("=?{c}?{e}?{t}?=").into_bytes()),
        1 => (charset(), "[!-~]{0,12}").prop_map(|(c, t)| format!("=?{c}?Q?{t}").into_bytes()),
        1 => prop::collection::vec(any::<u8>().prop_filter("no line end", |b| *b != b'\r' && *b != b'\n'), 1..12),
        1 => Just(b"\0".to_vec()),
        1 => prop::sample::select(vec!["\"", "(", ")", "<", ">", ",", ";", ":", "\\", "@"]).prop_map(|s| s.as_bytes().to_vec()),
        2 => prop::sample::select(vec!["\r\n ", "\r\n\t", "\n ", "\r\n  \r\n "]).prop_map(|s| s.as_bytes().to_vec()),
        1 => Just("Jürgen Müller".as_bytes().to_vec()),
        1 => "[0-9]{1,2} (Jan|Feb|Nov|Xyz) [0-9]{2,4} [0-9]{1,2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}".prop_map(String::into_bytes),
    ]
}

/// One header field `name: value` from generated pieces, with a CRLF or LF line end.
fn field_line(name: impl Strategy<Value = String>) -> impl Strategy<Value = Vec<u8>> {
    (name, prop::collection::vec(value_piece(), 0..6), prop::bool::weighted(0.9)).prop_map(|(name, pieces, crlf)| {
        let mut line = name.into_bytes();
        line.extend_from_slice(b": ");
        for p in pieces {
            line.extend_from_slice(&p);
        }
        line.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
        line
    })
}

/// A header block of generated fields (and now and then a line of random bytes), a blank
/// line and a body.
fn header_block() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        12 => field_line(field_name()),
        1 => prop::collection::vec(any::<u8>(), 0..30).prop_map(|mut l| {
            l.extend_from_slice(b"\r\n");
            l
        }),
    ];
    (prop::collection::vec(line, 0..14), prop::collection::vec(any::<u8>(), 0..40)).prop_map(|(lines, body)| {
        let mut raw = lines.concat();
        raw.extend_from_slice(b"\r\n");
        raw.extend_from_slice(&body);
        raw
    })
}

/// Checks the parsed headers of `raw`: no panic, and the ids are what the store expects.
fn check_headers(raw: &[u8]) {
    let h = headers::parse(raw);
    assert_eq!(headers::message_id(raw), h.message_id, "the pre-pass reads the same Message-ID");
    let ids = h.message_id.iter().chain(&h.in_reply_to).chain(&h.references);
    for id in ids {
        assert!(!id.is_empty() && id.trim() == id, "id {id:?} is not cleaned");
    }
    for a in h.from.iter().chain(&h.to).chain(&h.cc) {
        assert!(!a.is_empty(), "empty address in {h:?}");
    }
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn headers_never_panic_on_any_bytes(raw in prop::collection::vec(any::<u8>(), 0..512)) {
        check_headers(&raw);
    }

    #[test]
    fn headers_never_panic_on_generated_header_blocks(raw in header_block()) {
        check_headers(&raw);
    }

    #[test]
    fn headers_find_plain_fields_among_generated_ones(
        others in prop::collection::vec(
            field_line(field_name().prop_filter("another field", |n| {
                !n.eq_ignore_ascii_case("subject") && !n.eq_ignore_ascii_case("message-id")
            })),
            0..14,
        ),
        subject in "[A-Za-z0-9][A-Za-z0-9 .\\[\\]-]{0,40}[A-Za-z0-9]",
        id in "[a-z0-9.]{1,12}@[a-z0-9.]{1,12}",
    ) {
        let mut message = others.concat();
        message.extend_from_slice(format!("Subject: {subject}\r\nMessage-ID: <{id}>\r\n\r\nBody\r\n").as_bytes());
        let h = headers::parse(&message);
        prop_assert_eq!(h.subject.as_deref(), Some(subject.as_str()));
        prop_assert_eq!(h.message_id.as_deref(), Some(id.as_str()));
    }
}

/// Found by `headers_never_panic_on_generated_header_blocks`: an empty encoded word as
/// the whole From gave the address `""`.
#[test]
fn an_empty_encoded_word_is_no_address() {
    let h = headers::parse(b"From: =?utf-8?B??=\n\r\n");
    assert_eq!(h.from, Vec::<String>::new());
    check_headers(b"From: =?utf-8?B??=\n\r\n");
}

/// Found by `headers_find_plain_fields_among_generated_ones`: a Date ending in a
/// one-letter token (RFC 822's military zones, or junk) made mail-parser swallow the next
/// field, here the Subject.
#[test]
fn a_one_letter_zone_does_not_swallow_the_next_field() {
    for (date, timestamp) in [
        ("0 Jan 00 0:00:00 -0000a", Some(946_598_400)),
        ("Mon, 1 Jan 2024 10:00:00 Z", Some(1_704_103_200)),
        ("Mon, 1 Jan 2024 10:00:00 +0100", Some(1_704_099_600)),
        ("Mon, 1 Jan 2024 10:00:00 EST", Some(1_704_121_200)),
        ("Mon,\r\n 1 Jan 2024 10:00:00 +0100 (CET)", Some(1_704_099_600)),
        ("garbage", None),
    ] {
        let raw = format!("Date: {date}\nSubject: 00\r\nMessage-ID: <.@.>\r\n\r\nBody\r\n");
        let h = headers::parse(raw.as_bytes());
        assert_eq!(h.subject.as_deref(), Some("00"), "{date}");
        assert_eq!(h.message_id.as_deref(), Some(".@."), "{date}");
        assert_eq!(h.date, timestamp, "{date}");
    }
}
