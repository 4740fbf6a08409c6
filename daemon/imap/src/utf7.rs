//! Modified UTF-7 for mailbox names (RFC 3501 §5.1.3): `Entw&APw-rfe` is `Entwürfe`,
//! `&-` is `&`.
//!
//! Printable ASCII stands for itself except `&`; everything else is UTF-16, encoded in a
//! base64 variant using `,` instead of `/`, between `&` and `-`.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// Why a wire name is not valid modified UTF-7.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not valid modified UTF-7")]
pub struct Utf7Error(pub String);

/// Encodes a decoded mailbox name as modified UTF-7 for the wire: `Entwürfe` becomes `Entw&APw-rfe`.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut pending, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut pending, &mut out);
    out
}

fn flush(pending: &mut Vec<u16>, out: &mut String) {
    if pending.is_empty() {
        return;
    }
    out.push('&');
    let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out.push('-');
    pending.clear();
}

/// Decodes a wire name. Fails on malformed input (the caller shows the raw name).
pub fn decode(raw: &str) -> Result<String, Utf7Error> {
    let err = || Utf7Error(raw.to_owned());
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let end = after.find('-').ok_or_else(err)?;
        let encoded = &after[..end];
        if encoded.is_empty() {
            out.push('&');
        } else {
            let units = decode_base64_utf16(encoded).ok_or_else(err)?;
            let decoded = String::from_utf16(&units).map_err(|_| err())?;
            // A shifted run must not hide characters that have a direct form.
            if decoded.chars().any(|c| (' '..='~').contains(&c)) {
                return Err(err());
            }
            out.push_str(&decoded);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Decodes, or returns the input unchanged when it is not valid modified UTF-7 (some
/// servers send raw UTF-8 names).
pub fn decode_lossless(raw: &str) -> String {
    decode(raw).unwrap_or_else(|_| raw.to_owned())
}

fn decode_base64_utf16(encoded: &str) -> Option<Vec<u16>> {
    let mut bits: u32 = 0;
    let mut nbits = 0;
    let mut bytes = Vec::with_capacity(encoded.len());
    for c in encoded.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        bits = (bits << 6) | v;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            bytes.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    if bytes.is_empty() || bytes.len() % 2 != 0 || bits != 0 || nbits >= 6 {
        return None;
    }
    Some(bytes.chunks(2).map(|p| u16::from_be_bytes([p[0], p[1]])).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names() {
        for (plain, wire) in [
            ("Entwürfe", "Entw&APw-rfe"),
            ("Gelöscht", "Gel&APY-scht"),
            ("Gelöschte Elemente", "Gel&APY-schte Elemente"),
            ("Müller & Söhne", "M&APw-ller &- S&APY-hne"),
            ("&", "&-"),
            ("INBOX", "INBOX"),
            ("日本語", "&ZeVnLIqe-"),
            ("Schule Süd", "Schule S&APw-d"),
            ("😀", "&2D3eAA-"),
        ] {
            assert_eq!(encode(plain), wire, "encode {plain}");
            assert_eq!(decode(wire).unwrap(), plain, "decode {wire}");
        }
    }

    #[test]
    fn round_trips_mixed_text() {
        let s = "ProjektPro/211-07 Schule Süd & Aula – Übergabe ✓";
        assert_eq!(decode(&encode(s)).unwrap(), s);
    }

    #[test]
    fn rejects_malformed() {
        assert!(decode("Entw&APw").is_err()); // unterminated
        assert!(decode("&AGE-").is_err()); // "a" must not be shifted
        assert!(decode("&A-").is_err()); // partial unit
        assert_eq!(decode_lossless("Entwürfe"), "Entwürfe");
    }
}
