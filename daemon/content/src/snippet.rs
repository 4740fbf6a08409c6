//! The one-line preview shown in message lists.

/// How many characters a snippet keeps before it is cut.
pub(crate) const SNIPPET_CHARS: usize = 200;

/// The first `max_chars` characters of `text` with every run of whitespace collapsed to
/// one space, trimmed; `…` is appended when something was cut off. Counting characters
/// rather than bytes keeps the cut on a character boundary.
pub(crate) fn snippet(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    let mut cut = false;
    'words: for word in text.split_whitespace() {
        if count > 0 {
            if count >= max_chars {
                cut = true;
                break;
            }
            out.push(' ');
            count += 1;
        }
        for ch in word.chars() {
            if count >= max_chars {
                cut = true;
                break 'words;
            }
            out.push(ch);
            count += 1;
        }
    }
    if cut {
        out.truncate(out.trim_end().len());
        out.push('…');
    }
    out
}
