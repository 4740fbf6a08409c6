//! Which parts are attachments, how they are numbered, named and served.

use super::fixtures::{alternative_with_pdf, base64, binary_payload, crlf, forwarded, text_with_pdf};
use crate::{attachment, has_attachments, parse};

#[test]
fn an_rfc2231_encoded_attachment_name_is_decoded() {
    let content = parse(&text_with_pdf());
    assert_eq!(content.attachments.len(), 1);
    let pdf = &content.attachments[0];
    assert_eq!(pdf.id, "2");
    assert_eq!(pdf.filename.as_deref(), Some("Übersicht März.pdf"));
    assert_eq!(pdf.content_type, "application/pdf");
    assert_eq!(pdf.size, 512);
    assert!(!pdf.inline);
}

#[test]
fn attachment_bytes_are_decoded_byte_exact_from_base64() {
    let data = attachment(&text_with_pdf(), "2").unwrap();
    assert_eq!(data.bytes, binary_payload());
    assert_eq!(data.meta, parse(&text_with_pdf()).attachments[0]);
}

#[test]
fn an_rfc2047_encoded_attachment_name_is_decoded() {
    let raw = crlf(
        "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nHi\n--b\n\
Content-Type: application/pdf; name=\"=?ISO-8859-1?Q?Gr=FC=DFe.pdf?=\"\n\
Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--b--\n",
    );
    let content = parse(&raw);
    assert_eq!(content.attachments[0].filename.as_deref(), Some("Grüße.pdf"));
    assert_eq!(attachment(&raw, "2").unwrap().bytes, b"%PDF-1.4\n");
}

#[test]
fn alternative_parts_inside_mixed_are_body_not_attachments() {
    let content = parse(&alternative_with_pdf());
    assert_eq!(content.text.as_deref().map(str::trim), Some("Hallo Welt"));
    assert_eq!(content.html.as_deref().map(str::trim), Some("<p>Hallo <b>Welt</b></p>"));
    let ids: Vec<&str> = content.attachments.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["2"]);
    assert_eq!(content.attachments[0].filename.as_deref(), Some("plan.pdf"));
    assert!(has_attachments(&alternative_with_pdf()));
    assert!(attachment(&alternative_with_pdf(), "1.1").is_none());
}

#[test]
fn nested_multiparts_are_numbered_like_imap_sections() {
    let raw = crlf(
        "Content-Type: multipart/mixed; boundary=m\n\n\
--m\nContent-Type: multipart/related; boundary=r\n\n\
--r\nContent-Type: text/html\n\n<p>Plan</p>\n\
--r\nContent-Type: application/zip; name=a.zip\nContent-Transfer-Encoding: base64\n\nUEsDBA==\n\
--r--\n\
--m\nContent-Type: multipart/mixed; boundary=n\n\n\
--n\nContent-Type: application/pdf; name=b.pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n\
--n\nContent-Type: image/png; name=c.png\nContent-Disposition: attachment\nContent-Transfer-Encoding: base64\n\niVBORw==\n\
--n--\n\
--m--\n",
    );
    let content = parse(&raw);
    let listed: Vec<(&str, Option<&str>)> =
        content.attachments.iter().map(|a| (a.id.as_str(), a.filename.as_deref())).collect();
    assert_eq!(listed, [("1.2", Some("a.zip")), ("2.1", Some("b.pdf")), ("2.2", Some("c.png"))]);
    assert_eq!(attachment(&raw, "2.1").unwrap().bytes, b"%PDF-1.4\n");
    assert_eq!(attachment(&raw, "1.2").unwrap().bytes, b"PK\x03\x04");
}

#[test]
fn an_inline_image_with_a_content_id_is_inline() {
    let raw = crlf(&format!(
        "Content-Type: multipart/related; boundary=r\n\n\
--r\nContent-Type: text/html; charset=utf-8\n\n<p>Logo: <img src=\"cid:Logo@Example\"></p>\n\
--r\nContent-Type: image/png\nContent-ID: <logo@example>\nContent-Disposition: inline; filename=logo.png\n\
Content-Transfer-Encoding: base64\n\n{}\n\
--r--\n",
        base64(b"\x89PNG\r\n\x1a\n")
    ));
    let content = parse(&raw);
    assert_eq!(content.attachments.len(), 1);
    let logo = &content.attachments[0];
    assert_eq!((logo.id.as_str(), logo.inline), ("2", true));
    assert_eq!(logo.content_type, "image/png");
    assert!(!has_attachments(&raw), "an embedded image is no paper clip");
    assert_eq!(attachment(&raw, "2").unwrap().bytes, b"\x89PNG\r\n\x1a\n");
}

#[test]
fn an_image_marked_as_attachment_is_not_inline() {
    let raw = crlf(
        "Content-Type: multipart/related; boundary=r\n\n\
--r\nContent-Type: text/html\n\n<img src=\"cid:logo@example\">\n\
--r\nContent-Type: image/png; name=logo.png\nContent-ID: <logo@example>\nContent-Disposition: attachment\n\
Content-Transfer-Encoding: base64\n\niVBORw==\n\
--r--\n",
    );
    assert!(!parse(&raw).attachments[0].inline);
    assert!(has_attachments(&raw));
}

#[test]
fn an_image_the_html_does_not_show_is_not_inline() {
    let raw = crlf(
        "Content-Type: multipart/mixed; boundary=m\n\n\
--m\nContent-Type: text/plain\n\nFoto anbei\n\
--m\nContent-Type: image/jpeg; name=foto.jpg\nContent-ID: <foto@example>\nContent-Disposition: inline\n\
Content-Transfer-Encoding: base64\n\n/9j/4A==\n\
--m--\n",
    );
    let content = parse(&raw);
    assert_eq!(content.attachments[0].filename.as_deref(), Some("foto.jpg"));
    assert!(!content.attachments[0].inline);
    assert!(has_attachments(&raw));
}

#[test]
fn an_embedded_message_is_listed_once_with_its_raw_bytes() {
    let (raw, inner) = forwarded();
    let content = parse(&raw);
    assert_eq!(content.attachments.len(), 1);
    let fwd = &content.attachments[0];
    assert_eq!((fwd.id.as_str(), fwd.content_type.as_str()), ("2", "message/rfc822"));
    assert_eq!(fwd.filename.as_deref(), Some("fwd.eml"));
    let data = attachment(&raw, "2").unwrap();
    assert_eq!(data.bytes, inner);
    assert_eq!(data.meta.size, data.bytes.len() as u64);
    assert_eq!(content.text.as_deref().map(str::trim), Some("Siehe Anhang"));
}

#[test]
fn a_base64_encoded_embedded_message_is_served_decoded() {
    let inner = crlf("From: b@example.de\nSubject: Innen\n\nInnen\n");
    let raw = crlf(&format!(
        "Content-Type: multipart/mixed; boundary=m\n\n\
--m\nContent-Type: text/plain\n\nSiehe Anhang\n\
--m\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n{}\n\
--m--\n",
        base64(&inner)
    ));
    assert_eq!(attachment(&raw, "2").unwrap().bytes, inner);
}

#[test]
fn an_unknown_id_gives_no_attachment() {
    assert!(attachment(&text_with_pdf(), "nope").is_none());
    assert!(attachment(&text_with_pdf(), "1").is_none(), "the body is no attachment");
    assert!(attachment(&text_with_pdf(), "").is_none());
}

#[test]
fn a_single_part_text_message_has_no_attachments() {
    let raw = crlf("From: a@example.de\nSubject: Hallo\nContent-Type: text/plain; charset=utf-8\n\nNur Text.\n");
    let content = parse(&raw);
    assert!(content.attachments.is_empty());
    assert!(!has_attachments(&raw));
    assert_eq!(content.text.as_deref().map(str::trim), Some("Nur Text."));
}

#[test]
fn a_single_part_pdf_is_attachment_one() {
    let raw = crlf("Content-Type: application/pdf; name=x.pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n");
    let content = parse(&raw);
    assert_eq!(content.attachments.len(), 1);
    assert_eq!(content.attachments[0].id, "1");
    assert_eq!(content.text, None);
    assert_eq!(attachment(&raw, "1").unwrap().bytes, b"%PDF-1.4\n");
}

#[test]
fn the_signature_of_a_signed_message_is_not_listed() {
    let raw = crlf(
        "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=s\n\n\
--s\nContent-Type: text/plain\n\nUnterschrieben\n\
--s\nContent-Type: application/pkcs7-signature; name=smime.p7s\nContent-Transfer-Encoding: base64\n\nMIAG\n\
--s--\n",
    );
    assert!(parse(&raw).attachments.is_empty());
    assert!(!has_attachments(&raw));
}

#[test]
fn a_text_file_with_a_name_is_an_attachment_and_other_text_types_too() {
    let raw = crlf(
        "Content-Type: multipart/mixed; boundary=m\n\n\
--m\nContent-Type: text/plain\n\nBody\n\
--m\nContent-Type: text/plain; charset=iso-8859-1\nContent-Disposition: attachment; filename=notiz.txt\n\nNotiz\n\
--m\nContent-Type: text/calendar; method=REQUEST\n\nBEGIN:VCALENDAR\n\
--m--\n",
    );
    let content = parse(&raw);
    let listed: Vec<(&str, &str)> =
        content.attachments.iter().map(|a| (a.id.as_str(), a.content_type.as_str())).collect();
    assert_eq!(listed, [("2", "text/plain"), ("3", "text/calendar")]);
    assert_eq!(content.text.as_deref().map(str::trim), Some("Body"));
}

#[test]
fn an_attachment_without_content_type_is_octet_stream() {
    let raw = crlf(
        "Content-Type: multipart/mixed; boundary=m\n\n\
--m\nContent-Type: text/plain\n\nBody\n\
--m\nContent-Disposition: attachment; filename=daten.bin\n\nxyz\n\
--m--\n",
    );
    assert_eq!(parse(&raw).attachments[0].content_type, "application/octet-stream");
}

#[test]
fn a_file_name_with_a_directory_and_line_breaks_is_cleaned() {
    let raw = crlf(
        "Content-Type: multipart/mixed; boundary=m\n\n\
--m\nContent-Type: text/plain\n\nBody\n\
--m\nContent-Type: application/pdf; name=\"=?UTF-8?Q?C:\\Users\\jm\\Plan=0D=0A.pdf?=\"\n\nPDF\n\
--m--\n",
    );
    assert_eq!(parse(&raw).attachments[0].filename.as_deref(), Some("Plan.pdf"));
}
