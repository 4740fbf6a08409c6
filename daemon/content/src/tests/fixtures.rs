//! Helpers for building test messages.

/// `s` with every LF turned into CRLF, as messages travel.
pub(super) fn crlf(s: &str) -> Vec<u8> {
    s.replace("\r\n", "\n").replace('\n', "\r\n").into_bytes()
}

/// Base64 of `bytes` in 76-character lines (RFC 2045).
pub(super) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out.as_bytes().chunks(76).map(|l| String::from_utf8_lossy(l).into_owned()).collect::<Vec<_>>().join("\n")
}

/// Bytes that a lossy text decoding would change: every byte value, twice.
pub(super) fn binary_payload() -> Vec<u8> {
    (0..=255u8).chain((0..=255u8).rev()).collect()
}

/// multipart/mixed: a text body and a PDF whose name is RFC 2231 encoded.
pub(super) fn text_with_pdf() -> Vec<u8> {
    crlf(&format!(
        "From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jm@example.de>\n\
To: Bauamt <bauamt@musterstadt.de>\n\
Subject: =?UTF-8?Q?Pl=C3=A4ne?=\n\
MIME-Version: 1.0\n\
Content-Type: multipart/mixed; boundary=\"outer\"\n\
\n\
--outer\n\
Content-Type: text/plain; charset=utf-8\n\
\n\
Anbei die Übersicht.\n\
--outer\n\
Content-Type: application/pdf\n\
Content-Disposition: attachment; filename*=UTF-8''%C3%9Cbersicht%20M%C3%A4rz.pdf\n\
Content-Transfer-Encoding: base64\n\
\n\
{}\n\
--outer--\n",
        base64(&binary_payload())
    ))
}

/// multipart/mixed holding multipart/alternative (text, HTML) and a PDF.
pub(super) fn alternative_with_pdf() -> Vec<u8> {
    crlf(
        "From: a@example.de\n\
Subject: Alternative\n\
Content-Type: multipart/mixed; boundary=\"m\"\n\
\n\
--m\n\
Content-Type: multipart/alternative; boundary=\"a\"\n\
\n\
--a\n\
Content-Type: text/plain; charset=utf-8\n\
\n\
Hallo Welt\n\
--a\n\
Content-Type: text/html; charset=utf-8\n\
\n\
<p>Hallo <b>Welt</b></p>\n\
--a--\n\
--m\n\
Content-Type: application/pdf; name=\"plan.pdf\"\n\
Content-Transfer-Encoding: base64\n\
\n\
JVBERi0xLjQK\n\
--m--\n",
    )
}

/// A text body and a forwarded message (itself multipart) as message/rfc822; also gives
/// the embedded message's bytes.
pub(super) fn forwarded() -> (Vec<u8>, Vec<u8>) {
    let inner = "From: b@example.de\nSubject: Weitergeleitet\nContent-Type: multipart/mixed; boundary=i\n\n\
--i\nContent-Type: text/plain\n\nInnen\n\
--i\nContent-Type: application/pdf; name=innen.pdf\n\nPDF\n\
--i--";
    let raw = crlf(&format!(
        "From: a@example.de\nContent-Type: multipart/mixed; boundary=m\n\n\
--m\nContent-Type: text/plain\n\nSiehe Anhang\n\
--m\nContent-Type: message/rfc822; name=fwd.eml\n\n{inner}\n\
--m--\n"
    ));
    (raw, crlf(inner))
}
