//! The index document.

use super::fixtures::{crlf, text_with_pdf};
use crate::search_document;

#[test]
fn the_document_holds_folded_subject_addresses_body_and_attachment_names() {
    let doc = search_document(&text_with_pdf());
    assert_eq!(doc.subject, "plane plaene");
    assert_eq!(doc.addresses, "jurgen juergen muller mueller jm example de bauamt bauamt musterstadt de");
    assert_eq!(doc.body, "anbei die ubersicht uebersicht");
    assert_eq!(doc.attachments, "ubersicht uebersicht marz maerz pdf");
}

#[test]
fn the_document_includes_cc_and_html_only_bodies() {
    let raw = crlf("From: a@example.de\nCc: Frau Weiß <weiss@example.de>\nContent-Type: text/html\n\n<p>Grüße</p>\n");
    let doc = search_document(&raw);
    assert!(doc.addresses.contains("frau weiss weiss example de"), "{}", doc.addresses);
    assert_eq!(doc.body, "grusse gruesse");
}

#[test]
fn the_indexed_body_is_capped_at_256_kib() {
    let body = "ü".repeat(200_000);
    let raw = crlf(&format!("Content-Type: text/plain; charset=utf-8\n\n{body}\n"));
    let doc = search_document(&raw);
    // 256 KiB of two-byte characters is 131072 of them; each word is written twice.
    let (base, two) = doc.body.split_once(' ').unwrap();
    assert_eq!(base.len(), 128 * 1024);
    assert_eq!(two.len(), 2 * 128 * 1024);
}
