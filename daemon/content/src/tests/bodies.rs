//! Text, HTML, Reply-To and snippet.

use super::fixtures::crlf;
use crate::parse;
use crate::snippet::snippet;

#[test]
fn an_html_only_message_gets_text_made_from_the_html() {
    let raw = crlf(
        "Subject: Nur HTML\nContent-Type: text/html; charset=utf-8\n\n\
<html><head><style>p { color: red }</style></head><body><p>Guten <b>Tag</b>, Frau M&uuml;ller!</p></body></html>\n",
    );
    let content = parse(&raw);
    let text = content.text.unwrap();
    assert!(text.contains("Guten") && text.contains("Tag") && text.contains("Müller"), "{text:?}");
    assert!(!text.contains('<') && !text.contains("color"), "{text:?}");
    assert!(content.html.unwrap().contains("<b>Tag</b>"));
    assert!(content.snippet.starts_with("Guten Tag"), "{:?}", content.snippet);
}

#[test]
fn a_text_only_message_has_no_html() {
    let content = parse(&crlf("Content-Type: text/plain\n\nNur Text\n"));
    assert_eq!(content.html, None);
    assert_eq!(content.snippet, "Nur Text");
}

#[test]
fn an_empty_text_part_beside_html_falls_back_to_the_html() {
    let raw = crlf(
        "Content-Type: multipart/alternative; boundary=a\n\n\
--a\nContent-Type: text/plain\n\n\n\
--a\nContent-Type: text/html\n\n<p>Inhalt</p>\n\
--a--\n",
    );
    assert_eq!(parse(&raw).snippet, "Inhalt");
}

#[test]
fn a_latin1_quoted_printable_body_is_decoded() {
    let raw = crlf(
        "Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\nGr=FC=DFe\n",
    );
    assert_eq!(parse(&raw).text.as_deref().map(str::trim), Some("Grüße"));
}

#[test]
fn a_footer_part_after_the_body_is_kept_in_the_text() {
    let raw = crlf(
        "Content-Type: multipart/mixed; boundary=m\n\n\
--m\nContent-Type: text/plain\n\nNachricht\n\
--m\nContent-Type: text/plain\n\nListen-Fußzeile\n\
--m--\n",
    );
    let content = parse(&raw);
    let text = content.text.unwrap();
    assert!(text.contains("Nachricht") && text.contains("Listen-Fußzeile"), "{text:?}");
    assert!(content.attachments.is_empty());
}

#[test]
fn reply_to_is_formatted_like_from() {
    let raw = crlf(
        "Reply-To: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jm@example.de>, info@example.de\n\
Content-Type: text/plain\n\nx\n",
    );
    assert_eq!(parse(&raw).reply_to, ["Jürgen Müller <jm@example.de>", "info@example.de"]);
}

#[test]
fn the_snippet_collapses_whitespace() {
    let raw = crlf("Content-Type: text/plain\n\n  Hallo\n\n\tWelt,   wie\u{a0}geht's?  \n");
    assert_eq!(parse(&raw).snippet, "Hallo Welt, wie geht's?");
}

#[test]
fn the_snippet_is_cut_at_a_character_boundary() {
    // 199 ASCII characters, then two-byte and four-byte characters across the limit.
    let text = format!("{} äöü😀😀", "a".repeat(198));
    let cut = snippet(&text, 200);
    assert_eq!(cut, format!("{} ä…", "a".repeat(198)));
    assert_eq!(cut.chars().count(), 201);

    let raw = crlf(&format!("Content-Type: text/plain; charset=utf-8\n\n{}\n", "ü".repeat(300)));
    let content = parse(&raw);
    assert_eq!(content.snippet, format!("{}…", "ü".repeat(200)));
}

#[test]
fn the_snippet_does_not_end_in_a_space_when_cut_between_words() {
    assert_eq!(snippet("abc def", 4), "abc…");
    assert_eq!(snippet("abc def", 3), "abc…");
    assert_eq!(snippet("abc", 3), "abc");
    assert_eq!(snippet(" \n ", 3), "");
}

#[test]
fn a_message_without_a_header_section_is_all_body_text() {
    let raw = b"Nur ein Text ohne Kopfzeilen: und ohne Leerzeile davor.\r\nZweite Zeile.\r\n";
    let content = parse(raw);
    assert_eq!(
        content.text.as_deref(),
        Some("Nur ein Text ohne Kopfzeilen: und ohne Leerzeile davor.\r\nZweite Zeile.\r\n")
    );
    assert!(content.snippet.starts_with("Nur ein Text"), "{:?}", content.snippet);
    assert!(crate::search_document(raw).body.contains("zweite"));
}

#[test]
fn a_first_line_that_is_a_header_field_or_an_mbox_separator_still_starts_the_header() {
    for raw in [
        &b"Subject: Kopf\r\n\r\nRumpf\r\n"[..],
        b"X-Obsolet : Kopf\r\n\r\nRumpf\r\n",
        b"From jm@example.de Mon Nov 23 09:00:00 2026\r\nSubject: Kopf\r\n\r\nRumpf\r\n",
    ] {
        assert_eq!(parse(raw).text.as_deref().map(str::trim), Some("Rumpf"), "{}", String::from_utf8_lossy(raw));
    }
}
