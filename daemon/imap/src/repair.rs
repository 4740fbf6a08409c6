//! Repairs of known server syntax errors, applied to the byte stream before async-imap's
//! parser sees it. The parser is strict, and one unparsable line ends the session: a
//! server that writes a number in exponent notation would never sync. Each repair is
//! narrow (one documented server's mistake, one line shape) and literal data — message
//! bodies — is never looked at: the stream is followed line by line, and the `{n}` at a
//! line's end says how many bytes to pass through untouched.
//!
//! - `* NOOP` (Zimbra, during CLOSE): not an IMAP response; dropped.
//! - A line starting with `[` (Exchange 2013's bare `[COPYUID 124 10 233]`): dropped.
//! - `RFC822.SIZE 9.3736e+06` (mail.ru): written as the integer it means.
//! - A LIST name sent unquoted with tabs or other control characters (Exchange):
//!   quoted.

/// Lines longer than this are passed on unrepaired as they come (a hostile server's
/// endless line must not be buffered here).
const MAX_LINE: usize = 64 << 10;

/// The repair state of one connection's incoming stream.
#[derive(Debug, Default)]
pub(crate) struct Repair {
    /// The current line, until its line end arrives.
    line: Vec<u8>,
    /// Bytes of literal data still to pass through untouched.
    literal: u64,
    /// The current line grew past [`MAX_LINE`]: pass the rest of it through.
    passthrough: bool,
}

impl Repair {
    /// Feeds bytes as they were read; appends what the parser is to see to `out`.
    pub(crate) fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        while !input.is_empty() {
            if self.literal > 0 {
                let n = usize::try_from(self.literal).unwrap_or(usize::MAX).min(input.len());
                out.extend_from_slice(&input[..n]);
                self.literal -= n as u64;
                input = &input[n..];
                continue;
            }
            let end = input.iter().position(|b| *b == b'\n');
            let take = end.map_or(input.len(), |i| i + 1);
            if self.passthrough {
                out.extend_from_slice(&input[..take]);
            } else {
                self.line.extend_from_slice(&input[..take]);
                if end.is_none() && self.line.len() > MAX_LINE {
                    out.append(&mut self.line);
                    self.passthrough = true;
                }
            }
            input = &input[take..];
            if end.is_some() {
                if self.passthrough {
                    self.passthrough = false;
                } else {
                    let line = std::mem::take(&mut self.line);
                    self.literal = literal_after(&line);
                    repaired(line, out);
                }
            }
        }
    }

    /// At end-of-file: whatever is left of an unfinished line goes to the parser as it is.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.line);
    }
}

/// The length of the literal announced at the end of a line (`{123}\r\n`, `{123+}\r\n`).
fn literal_after(line: &[u8]) -> u64 {
    let body = line.strip_suffix(b"\r\n").or_else(|| line.strip_suffix(b"\n")).unwrap_or(line);
    let Some(inner) = body.strip_suffix(b"}") else { return 0 };
    let Some(open) = inner.iter().rposition(|b| *b == b'{') else { return 0 };
    let digits = inner[open + 1..].strip_suffix(b"+").unwrap_or(&inner[open + 1..]);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return 0;
    }
    std::str::from_utf8(digits).ok().and_then(|d| d.parse().ok()).unwrap_or(0)
}

/// One complete line, repaired where it matches a known mistake.
fn repaired(line: Vec<u8>, out: &mut Vec<u8>) {
    let upper = line.to_ascii_uppercase();
    let body = upper.strip_suffix(b"\r\n").or_else(|| upper.strip_suffix(b"\n")).unwrap_or(&upper);
    if body == b"* NOOP" || line.first() == Some(&b'[') {
        return;
    }
    if let Some(fixed) = size_in_exponent(&line, &upper) {
        out.extend_from_slice(&fixed);
        return;
    }
    if let Some(fixed) = unquoted_list_name(&line) {
        out.extend_from_slice(&fixed);
        return;
    }
    out.extend_from_slice(&line);
}

/// `RFC822.SIZE 9.3736e+06` → `RFC822.SIZE 9373600`.
fn size_in_exponent(line: &[u8], upper: &[u8]) -> Option<Vec<u8>> {
    const KEY: &[u8] = b"RFC822.SIZE ";
    let at = upper.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let len = line[at..].iter().position(|b| matches!(b, b' ' | b')' | b'\r' | b'\n')).unwrap_or(line.len() - at);
    let token = std::str::from_utf8(&line[at..at + len]).ok()?;
    if !token.contains(['e', 'E']) {
        return None;
    }
    let value: f64 = token.parse().ok()?;
    if !(0.0..=1e15).contains(&value) {
        return None;
    }
    let mut fixed = line[..at].to_vec();
    fixed.extend_from_slice(format!("{}", value.round() as u64).as_bytes());
    fixed.extend_from_slice(&line[at + len..]);
    Some(fixed)
}

/// `* LIST (\HasNoChildren) "/" Projekte<TAB>Alt` → the name as a quoted string.
fn unquoted_list_name(line: &[u8]) -> Option<Vec<u8>> {
    let upper = line.get(..7)?.to_ascii_uppercase();
    if upper != b"* LIST " && upper != b"* LSUB " {
        return None;
    }
    let close = line.iter().position(|b| *b == b')')?;
    // The delimiter: a quoted character (maybe escaped) or NIL, then the name.
    let rest = line.get(close + 1..)?.strip_prefix(b" ")?;
    let after_delimiter = if rest.starts_with(b"NIL ") || rest.starts_with(b"nil ") {
        4
    } else if rest.starts_with(b"\"\\") {
        rest.get(3..)?.strip_prefix(b"\" ")?;
        5
    } else if rest.first() == Some(&b'"') {
        rest.get(2..)?.strip_prefix(b"\" ")?;
        4
    } else {
        return None;
    };
    let name_at = close + 2 + after_delimiter;
    let name = line.get(name_at..)?;
    let name = name.strip_suffix(b"\r\n").or_else(|| name.strip_suffix(b"\n")).unwrap_or(name);
    if name.is_empty() || name[0] == b'"' || name[0] == b'{' || !name.iter().any(|b| *b < 0x20 || *b == 0x7f) {
        return None;
    }
    let mut fixed = line[..name_at].to_vec();
    fixed.push(b'"');
    for &b in name {
        if b == b'"' || b == b'\\' {
            fixed.push(b'\\');
        }
        fixed.push(b);
    }
    fixed.extend_from_slice(b"\"\r\n");
    Some(fixed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `step` bytes.
    fn run(input: &[u8], step: usize) -> Vec<u8> {
        let mut repair = Repair::default();
        let mut out = Vec::new();
        for piece in input.chunks(step.max(1)) {
            repair.feed(piece, &mut out);
        }
        repair.finish(&mut out);
        out
    }

    #[test]
    fn known_mistakes_are_repaired_in_any_piece_sizes() {
        let input = b"* NOOP\r\n[COPYUID 124 10 233]\r\n* 1 FETCH (UID 1 RFC822.SIZE 9.3736e+06)\r\n\
* LIST (\\HasNoChildren) \"/\" Projekte\tAlt\r\nA1 OK done\r\n";
        let want = b"* 1 FETCH (UID 1 RFC822.SIZE 9373600)\r\n* LIST (\\HasNoChildren) \"/\" \"Projekte\tAlt\"\r\nA1 OK done\r\n";
        for step in [1, 2, 3, 7, 64, 4096] {
            assert_eq!(run(input, step), want, "step {step}");
        }
    }

    #[test]
    fn literal_data_is_never_touched() {
        let body = b"* NOOP\r\n[x]\r\nRFC822.SIZE 1e+03\r\n";
        let mut input = format!("* 1 FETCH (UID 1 BODY[] {{{}}}\r\n", body.len()).into_bytes();
        input.extend_from_slice(body);
        input.extend_from_slice(b")\r\nA1 OK done\r\n");
        for step in [1, 5, 4096] {
            assert_eq!(run(&input, step), input, "step {step}");
        }
    }

    proptest::proptest! {
        /// Whatever a message contains, and however the stream is cut, a body passes
        /// through byte for byte.
        #[test]
        fn any_body_in_any_pieces_passes_unchanged(
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..3000),
            step in 1usize..500,
        ) {
            let mut input = format!("* 7 FETCH (UID 7 RFC822.SIZE {} BODY[] {{{}}}\r\n", body.len(), body.len()).into_bytes();
            input.extend_from_slice(&body);
            input.extend_from_slice(b")\r\nA9 OK FETCH completed\r\n");
            proptest::prop_assert_eq!(run(&input, step), input);
        }
    }

    #[test]
    fn correct_answers_pass_unchanged() {
        let input = b"* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n* LIST () NIL Projekte\r\n\
* 3 FETCH (UID 9 RFC822.SIZE 4711 FLAGS (\\Seen))\r\n* SEARCH 1 2 \r\n* OK [HIGHESTMODSEQ 7]\r\n";
        assert_eq!(run(input, 3), input);
    }

    #[test]
    fn an_endless_line_is_passed_on_without_being_buffered_whole() {
        let mut repair = Repair::default();
        let mut out = Vec::new();
        let chunk = vec![b'q'; 16 << 10];
        for _ in 0..100 {
            repair.feed(&chunk, &mut out);
            assert!(repair.line.len() <= MAX_LINE + chunk.len());
        }
        assert!(out.len() >= 100 * chunk.len() - MAX_LINE - chunk.len());
    }
}
