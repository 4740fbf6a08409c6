//! Property-based fuzzing (proptest) of the MIME reading: arbitrary bytes, generated MIME
//! trees (nested multiparts, random charsets and transfer encodings, file names, Content-IDs,
//! NULs and 8-bit bytes) and damaged copies of them go through every public entry point.
//! Nothing may panic (the panic guard re-raises in tests), and the results must agree with
//! each other and keep their documented shape: the snippet is one line of at most 200
//! characters plus `…`, attachment ids name their attachment, the index text is folded.
//!
//! `make test` runs a fixed number of cases from a fixed seed; `PROPTEST_CASES` and
//! `PROPTEST_RNG_SEED` override both (`make fuzz`).

#![allow(clippy::unwrap_used)]

use std::collections::HashSet;

use proptest::prelude::*;
use proptest::test_runner::RngSeed;

use crate::snippet::SNIPPET_CHARS;
use crate::{attachment, has_attachments, index, parse, search_document};

/// `cases` unless `PROPTEST_CASES` is set; a fixed seed unless `PROPTEST_RNG_SEED` is set.
fn config(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(0x0C0_47E47);
    }
    // A failure prints its shrunk input and the seed reproduces it: no files in the tree.
    config.failure_persistence = None;
    config
}

/// Runs every entry point on `raw` and checks that the answers fit together.
fn check(raw: &[u8]) {
    let content = parse(raw);
    let indexed = index(raw);
    assert_eq!(indexed.snippet, content.snippet, "index and parse give the same snippet");
    assert_eq!(search_document(raw), indexed.search);
    check_snippet(&content.snippet);

    let listed_files = content.attachments.iter().any(|a| !a.inline);
    assert_eq!(indexed.has_attachments, listed_files);
    assert_eq!(has_attachments(raw), listed_files);

    let mut ids = HashSet::new();
    for a in &content.attachments {
        assert!(ids.insert(a.id.as_str()), "attachment id {} twice", a.id);
        assert!(!a.id.is_empty() && a.id.split('.').all(|n| n.parse::<u32>().is_ok_and(|n| n > 0)), "id {}", a.id);
        let data = attachment(raw, &a.id).unwrap();
        assert_eq!(&data.meta, a);
        assert_eq!(data.bytes.len() as u64, a.size);
        assert!(a.content_type.contains('/') && a.content_type == a.content_type.to_ascii_lowercase());
        if let Some(name) = &a.filename {
            assert!(!name.is_empty() && name.trim() == name, "file name {name:?} is not trimmed");
            assert!(!name.chars().any(char::is_control), "file name {name:?} has control characters");
            assert!(!name.contains(['/', '\\']), "file name {name:?} has a directory part");
        }
    }
    assert_eq!(attachment(raw, ""), None);
    assert_eq!(attachment(raw, "0"), None);

    for folded in
        [&indexed.search.subject, &indexed.search.addresses, &indexed.search.body, &indexed.search.attachments]
    {
        assert!(!folded.bytes().any(|b| b.is_ascii_uppercase()), "not lower-cased: {folded:?}");
        assert!(!folded.contains("  ") && folded.trim() == folded.as_str(), "not single-spaced: {folded:?}");
    }
}

/// The snippet is one trimmed line with single spaces, at most [`SNIPPET_CHARS`]
/// characters and `…` when cut.
fn check_snippet(snippet: &str) {
    assert!(snippet.chars().count() <= SNIPPET_CHARS + 1, "snippet too long: {snippet:?}");
    assert!(!snippet.chars().any(|c| c.is_whitespace() && c != ' '), "snippet has line breaks: {snippet:?}");
    assert!(!snippet.contains("  ") && snippet.trim() == snippet, "snippet not collapsed: {snippet:?}");
}

/// A charset name: real ones, misspelt ones and nonsense.
fn charset() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "utf-8", "UTF-8", "iso-8859-1", "ISO-8859-15", "windows-1252", "us-ascii", "koi8-r", "shift_jis",
            "gb2312", "big5", "utf-16", "utf-16le", "utf-7", "x-unknown", "", "\"utf-8\"",
        ])
        .prop_map(str::to_owned),
        1 => "[!-~]{0,12}",
    ]
}

/// Text with what hurts parsers: 8-bit bytes, NULs, lone CRs, umlauts, long words.
fn text() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        6 => "[ -~]{1,20}".prop_map(String::into_bytes),
        2 => Just("Grüße aus Süd, Müller & Söhne ".as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 1..16),
        1 => Just(b"\0".to_vec()),
        1 => Just(b"\r".to_vec()),
        2 => Just(b"\r\n".to_vec()),
        1 => "=[0-9A-Fa-fG-Z]{0,2}".prop_map(String::into_bytes),
        1 => "[a-z]{100,300}".prop_map(String::into_bytes),
        1 => Just("<p>Hallo <b>Welt</b><img src=\"cid:bild1@x\"><!-- x --></p>".as_bytes().to_vec()),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|p| p.concat())
}

/// Base64 of `bytes` in 76-character lines.
fn base64(bytes: &[u8]) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    for (i, chunk) in bytes.chunks(3).enumerate() {
        if i > 0 && i % 19 == 0 {
            out.extend_from_slice(b"\r\n");
        }
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for j in 0..4 {
            out.push(if j <= chunk.len() { ALPHABET[(n >> (18 - 6 * j)) as usize & 63] } else { b'=' });
        }
    }
    out
}

/// A leaf part: MIME headers and a body that fits them, or does not.
fn leaf() -> impl Strategy<Value = Vec<u8>> {
    let content_type = prop_oneof![
        3 => charset().prop_map(|c| format!("text/plain; charset={c}")),
        2 => charset().prop_map(|c| format!("text/html; charset={c}")),
        1 => Just("application/pdf".to_owned()),
        1 => Just("image/png".to_owned()),
        1 => Just("message/rfc822".to_owned()),
        1 => Just("text/calendar; method=REQUEST".to_owned()),
        1 => Just("TEXT/PLAIN".to_owned()),
        1 => "[!-~]{0,10}(/[!-~]{0,10})?",
    ];
    let encoding = prop::option::of(prop::sample::select(vec![
        "base64",
        "quoted-printable",
        "7bit",
        "8bit",
        "binary",
        "BASE64",
        "x-uuencode",
        "gzip",
    ]));
    let file_name = prop_oneof![
        "[A-Za-z0-9 ._-]{1,20}".prop_map(|n| format!("filename=\"{n}\"")),
        "[A-Za-z0-9]{1,12}".prop_map(|n| format!("filename*=UTF-8''%C3%9C{n}%20M%C3%A4rz.pdf")),
        "[A-Za-z0-9]{1,8}".prop_map(|n| format!("filename*0=\"{n}\"; filename*1=\"teil2.pdf\"")),
        Just("filename=\"C:\\\\Users\\\\mm\\\\Plan.pdf\"".to_owned()),
        Just("filename=\"/\"".to_owned()),
        Just("filename=\" \\\\ / \"".to_owned()),
        Just("filename=\"=?UTF-8?Q?a=0D=0Ab.pdf?=\"".to_owned()),
        Just("filename=".to_owned()),
        "[ -~]{0,12}".prop_map(|n| format!("filename={n}")),
    ];
    let disposition = prop::option::of((
        prop::sample::select(vec!["attachment", "inline", "ATTACHMENT", "form-data", ""]),
        prop::option::of(file_name),
    ));
    let content_id =
        prop::option::of(prop::sample::select(vec!["<bild1@x>", "bild1@x", "<>", "<BILD1@X>", "<other@y>"]));
    (content_type, encoding, disposition, content_id, text(), prop::collection::vec(any::<u8>(), 0..64)).prop_map(
        |(content_type, encoding, disposition, content_id, text, binary)| {
            let mut part = Vec::new();
            part.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
            if let Some(e) = encoding {
                part.extend_from_slice(format!("Content-Transfer-Encoding: {e}\r\n").as_bytes());
            }
            if let Some((kind, name)) = disposition {
                let name = name.map(|n| format!("; {n}")).unwrap_or_default();
                part.extend_from_slice(format!("Content-Disposition: {kind}{name}\r\n").as_bytes());
            }
            if let Some(id) = content_id {
                part.extend_from_slice(format!("Content-ID: {id}\r\n").as_bytes());
            }
            part.extend_from_slice(b"\r\n");
            match encoding {
                Some(e) if e.eq_ignore_ascii_case("base64") => part.extend_from_slice(&base64(&binary)),
                _ => part.extend_from_slice(&text),
            }
            part
        },
    )
}

/// A MIME tree: leaves, multiparts of any subtype (signed, alternative, digest, …) with
/// preambles, epilogues, missing closing boundaries, and embedded messages.
fn part() -> impl Strategy<Value = Vec<u8>> {
    leaf().prop_recursive(4, 24, 5, |inner| {
        prop_oneof![
            4 => (
                prop::sample::select(vec!["mixed", "alternative", "related", "signed", "digest", "report", "x-y"]),
                "[A-Za-z0-9'()+_,./:=? -]{1,20}",
                prop::collection::vec(inner.clone(), 0..5),
                prop::bool::weighted(0.8),
                text(),
            )
                .prop_map(|(subtype, boundary, children, close, preamble)| {
                    let boundary = boundary.trim_end().to_owned() + "x";
                    let mut out =
                        format!("Content-Type: multipart/{subtype}; boundary=\"{boundary}\"\r\n\r\n").into_bytes();
                    out.extend_from_slice(&preamble);
                    for child in children {
                        out.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
                        out.extend_from_slice(&child);
                    }
                    if close {
                        out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
                    }
                    out
                }),
            1 => (inner, prop::option::of(prop::sample::select(vec!["base64", "7bit"]))).prop_map(|(message, enc)| {
                let mut out = b"Content-Type: message/rfc822\r\n".to_vec();
                match enc {
                    Some("base64") => {
                        out.extend_from_slice(b"Content-Transfer-Encoding: base64\r\n\r\n");
                        out.extend_from_slice(&base64(&message));
                    }
                    _ => {
                        out.extend_from_slice(b"\r\nSubject: innen\r\nFrom: a@b.de\r\n");
                        out.extend_from_slice(&message);
                    }
                }
                out
            }),
        ]
    })
}

/// The top-level fields a reader and the index look at, with encoded words, 8-bit bytes
/// and broken syntax mixed in.
fn top_fields() -> impl Strategy<Value = Vec<u8>> {
    let name = prop::sample::select(vec!["Subject", "From", "To", "Cc", "Reply-To", "Date", "MIME-Version", "X-Spam"]);
    let value = prop_oneof![
        3 => "[ -~]{0,30}".prop_map(String::into_bytes),
        2 => (charset(), prop::sample::select(vec!["Q", "B"]), "[!-~]{0,20}")
            .prop_map(|(c, e, t)| format!("=?{c}?{e}?{t}?=").into_bytes()),
        2 => "[A-Za-z ]{0,10}<[a-z0-9.]{1,8}@[a-z0-9.]{1,8}>(, [a-z]{1,5}@[a-z]{1,5}\\.de)?".prop_map(String::into_bytes),
        1 => Just("\"M\u{fc}ller, J\u{fc}rgen\" <jm@example.de>, undisclosed-recipients:;".as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>().prop_filter("one line", |b| *b != b'\n'), 0..20),
        1 => Just("Mon, 1 Jan 2024 10:00:00 Z".as_bytes().to_vec()),
    ];
    prop::collection::vec((name, value, prop::sample::select(vec!["\r\n", "\n", "\r\n\t"])), 0..8).prop_map(|fields| {
        let mut out = Vec::new();
        for (name, value, end) in fields {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(&value);
            out.extend_from_slice(end.as_bytes());
        }
        out
    })
}

/// A whole message: top-level fields and a MIME tree.
fn message() -> impl Strategy<Value = Vec<u8>> {
    (top_fields(), part()).prop_map(|(mut fields, part)| {
        fields.extend_from_slice(&part);
        fields
    })
}

/// A change to a generated message: a byte replaced, inserted or removed, or the message
/// cut short.
#[derive(Debug, Clone)]
enum Damage {
    Replace(prop::sample::Index, u8),
    Insert(prop::sample::Index, u8),
    Remove(prop::sample::Index),
    Truncate(prop::sample::Index),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Damage::Replace(i, b)),
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Damage::Insert(i, b)),
        any::<prop::sample::Index>().prop_map(Damage::Remove),
        any::<prop::sample::Index>().prop_map(Damage::Truncate),
    ]
}

fn apply(raw: &mut Vec<u8>, damage: &[Damage]) {
    for d in damage {
        if raw.is_empty() {
            return;
        }
        match d {
            Damage::Replace(i, b) => {
                let i = i.index(raw.len());
                raw[i] = *b;
            }
            Damage::Insert(i, b) => raw.insert(i.index(raw.len()), *b),
            Damage::Remove(i) => {
                raw.remove(i.index(raw.len()));
            }
            Damage::Truncate(i) => raw.truncate(i.index(raw.len())),
        }
    }
}

proptest! {
    #![proptest_config(config(1500))]

    #[test]
    fn any_bytes_read_without_panic(raw in prop::collection::vec(any::<u8>(), 0..1024)) {
        check(&raw);
    }

    #[test]
    fn generated_messages_read_without_panic(raw in message()) {
        check(&raw);
    }

    #[test]
    fn damaged_messages_read_without_panic(mut raw in message(), damage in prop::collection::vec(damage(), 1..6)) {
        apply(&mut raw, &damage);
        check(&raw);
    }

    #[test]
    fn a_plain_text_body_is_the_text_and_its_snippet(
        fields in top_fields(),
        words in prop::collection::vec("[A-Za-z0-9äöüß.,!?-]{1,12}", 1..80),
        separators in prop::collection::vec(prop::sample::select(vec![" ", "  ", "\r\n", "\t", "\r\n\r\n"]), 80),
    ) {
        let body: String = words.iter().zip(&separators).map(|(w, s)| format!("{w}{s}")).collect();
        let mut raw = b"Content-Type: text/plain; charset=utf-8\r\n".to_vec();
        raw.extend_from_slice(&fields);
        // The generated fields may end in a fold; a last field ends the header for sure.
        raw.extend_from_slice(b"X-End: 1\r\n\r\n");
        raw.extend_from_slice(body.as_bytes());
        check(&raw);
        let content = parse(&raw);
        prop_assert_eq!(content.text.as_deref().map(str::trim_end), Some(body.trim_end()));
        let flat = words.join(" ");
        if flat.chars().count() <= SNIPPET_CHARS {
            prop_assert_eq!(content.snippet, flat);
        } else {
            prop_assert!(content.snippet.ends_with('…'));
            let kept = content.snippet.trim_end_matches('…');
            prop_assert!(flat.starts_with(kept), "{:?} does not start the text", kept);
        }
    }
}

/// Found by `generated_messages_read_without_panic`: a file name of only separators was
/// kept as `/`, a directory part.
#[test]
fn a_file_name_of_only_separators_is_no_file_name() {
    for name in ["/", "\\\\", " / \\\\ ", "a/"] {
        let raw =
            format!("Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n\r\nPDF");
        let content = parse(raw.as_bytes());
        let expected = (name == "a/").then(|| "a".to_owned());
        assert_eq!(content.attachments[0].filename, expected, "{name}");
        check(raw.as_bytes());
    }
}

/// Found by `generated_messages_read_without_panic`: an embedded message whose own body
/// is an embedded message, cut short, hit a `debug_assert!` in mail-parser; in a debug build
/// the panic guard then gave the message no content at all (see the root Cargo.toml).
#[test]
fn a_message_in_a_message_cut_short_is_read() {
    let raw = b"Content-Type: multipart/mixed; boundary=\"_x\"\r\n\r\n\r\n--_x\r\n\
Content-Type: message/rfc822\r\n\r\nSubject: innen\r\nFrom: a@b.de\r\nContent-Type: message/rfc822\r\n\r\n\r\r\n\
--_x--\r\n";
    check(raw);
    let content = parse(raw);
    assert_eq!(content.attachments.len(), 1);
    assert_eq!(content.attachments[0].content_type, "message/rfc822");
}

/// A Date ending in a one-letter zone (RFC 822's military zones) right before the blank
/// line: mail-parser's date parser reads two bytes past the zone and took the blank line,
/// and with it the body.
#[test]
fn a_one_letter_zone_keeps_the_body() {
    let raw = b"Subject: Gruss\r\nDate: Mon, 1 Jan 2024 10:00:00 Z\r\n\r\nHallo Welt\r\n";
    check(raw);
    let content = parse(raw);
    assert_eq!(content.text.as_deref().map(str::trim_end), Some("Hallo Welt"));
    assert_eq!(index(raw).search.subject, "gruss");
}

/// Found by `generated_messages_read_without_panic`: a quoted-printable part of only a
/// soft line break before the boundary made mail-parser subtract below zero, a panic in a
/// debug build (see the root Cargo.toml).
#[test]
fn a_soft_line_break_before_the_boundary_is_read() {
    let raw = b"Content-Type: multipart/mixed; boundary=\"ax\"\r\n\r\n\r\n--ax\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=\r\n--ax--\r\n";
    check(raw);
    assert!(parse(raw).text.is_some());
}
