//! Folding text for the SQLite FTS5 index (tokenizer `unicode61 remove_diacritics 2`)
//! so that German words are found however they are typed.
//!
//! The tokenizer alone already maps `Müller` to `muller`, but Germans also type
//! `Mueller`, and `ß` is not a diacritic to it at all. So the index side writes every
//! umlaut word in both spellings and spells `ß` as `ss`, and the query side folds what
//! the user typed to the umlaut-free spelling. Both sides split words the same way (on
//! anything that is not a letter or digit) and both compose decomposed umlauts (`u` +
//! U+0308, as macOS writes file names), which the tokenizer would otherwise split.

/// Text to put into the FTS5 index: lower-cased, `ß` → `ss`, every word containing
/// `ä`/`ö`/`ü` emitted twice (`müller` → `muller mueller`), other words once, words
/// separated by single spaces.
pub fn index_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    let mut emit = |word: &str, _| {
        if word.contains(['ä', 'ö', 'ü']) {
            push_word(&mut out, word.chars().map(base_letter));
            push_word(&mut out, word.chars().flat_map(two_letters));
        } else {
            push_word(&mut out, word.chars());
        }
    };
    // Most mail text is ASCII: its words are copied lower-cased in one go; a stretch
    // with other characters (between ASCII separators) takes the careful path.
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_alphanumeric() && bytes[i].is_ascii() {
            i += 1;
            continue;
        }
        let start = i;
        let mut ascii = true;
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || !bytes[i].is_ascii()) {
            ascii &= bytes[i].is_ascii();
            i += 1;
        }
        // `start..i` lies between ASCII bytes, so it is on character boundaries.
        let Some(stretch) = s.get(start..i) else { continue };
        if ascii {
            emit_ascii(&mut emit, stretch);
        } else {
            each_word(stretch, &mut emit);
        }
    }
    out
}

/// Emits an ASCII word lower-cased (a borrowed slice when it is lower case already).
fn emit_ascii(emit: &mut impl FnMut(&str, bool), word: &str) {
    if word.bytes().any(|b| b.is_ascii_uppercase()) {
        emit(&word.to_ascii_lowercase(), false);
    } else {
        emit(word, false);
    }
}

/// An FTS5 MATCH expression for what a user typed, or `None` when it contains no word.
///
/// Each word is lower-cased, `ß` → `ss`, `ä`/`ö`/`ü` → `a`/`o`/`u`, and wrapped in double
/// quotes, so FTS5 operators or quotes in user input are only ever searched for, never
/// interpreted. Words are joined by spaces (all must match). A `*` right after a word
/// makes it a prefix query: `Münch*` → `"munch"*`.
pub fn match_expression(query: &str) -> Option<String> {
    let mut out = String::new();
    each_word(query, |word, prefix| {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push('"');
        // Words hold only letters and digits; the escaping keeps the quoting sound even
        // if that ever changes.
        for ch in word.chars().map(base_letter) {
            if ch == '"' {
                out.push('"');
            }
            out.push(ch);
        }
        out.push('"');
        if prefix {
            out.push('*');
        }
    });
    (!out.is_empty()).then_some(out)
}

/// Calls `emit` with each word of `s`, lower-cased, `ß` spelled `ss`, decomposed umlauts
/// composed and other combining accents dropped; the flag says whether a `*` follows
/// the word directly.
fn each_word(s: &str, mut emit: impl FnMut(&str, bool)) {
    let mut word = String::new();
    for ch in s.chars() {
        // Most mail is ASCII: no case tables, no accents to look at.
        if ch.is_ascii() {
            if ch.is_ascii_alphanumeric() {
                word.push(ch.to_ascii_lowercase());
            } else if !word.is_empty() {
                emit(&word, ch == '*');
                word.clear();
            }
            continue;
        }
        if is_combining_accent(ch) {
            // Accents between words are separators, like any other non-letter.
            if !word.is_empty() {
                attach_accent(&mut word, ch);
            }
        } else if ch.is_alphanumeric() {
            push_lower(&mut word, ch);
        } else if !word.is_empty() {
            emit(&word, ch == '*');
            word.clear();
        }
    }
    if !word.is_empty() {
        emit(&word, false);
    }
}

/// Appends the lower case of `ch`, with `ß` as `ss`.
fn push_lower(word: &mut String, ch: char) {
    for lower in ch.to_lowercase() {
        match lower {
            'ß' => word.push_str("ss"),
            // `İ` lower-cases to `i` + U+0307.
            c if is_combining_accent(c) => attach_accent(word, c),
            c => word.push(c),
        }
    }
}

/// Composes a diaeresis with the `a`/`o`/`u` before it; drops any other accent, which
/// the tokenizer's `remove_diacritics` would remove anyway.
fn attach_accent(word: &mut String, accent: char) {
    if accent != '\u{308}' {
        return;
    }
    let composed = match word.chars().next_back() {
        Some('a') => 'ä',
        Some('o') => 'ö',
        Some('u') => 'ü',
        _ => return,
    };
    word.pop();
    word.push(composed);
}

/// Whether `ch` is in the Combining Diacritical Marks block (U+0300–U+036F), the
/// accents of Latin script in decomposed form.
fn is_combining_accent(ch: char) -> bool {
    ('\u{300}'..='\u{36f}').contains(&ch)
}

/// `ä` → `a`, `ö` → `o`, `ü` → `u`; anything else unchanged.
fn base_letter(ch: char) -> char {
    match ch {
        'ä' => 'a',
        'ö' => 'o',
        'ü' => 'u',
        c => c,
    }
}

/// `ä` → `ae`, `ö` → `oe`, `ü` → `ue`; anything else unchanged.
fn two_letters(ch: char) -> impl Iterator<Item = char> {
    let (first, second) = match ch {
        'ä' => ('a', Some('e')),
        'ö' => ('o', Some('e')),
        'ü' => ('u', Some('e')),
        c => (c, None),
    };
    std::iter::once(first).chain(second)
}

/// Appends a word, space-separated from what is already there.
fn push_word(out: &mut String, word: impl Iterator<Item = char>) {
    if !out.is_empty() {
        out.push(' ');
    }
    out.extend(word);
}

#[cfg(test)]
mod fast_path {
    use super::*;

    /// The word-by-word definition the fast path must agree with.
    fn reference(s: &str) -> String {
        let mut out = String::new();
        each_word(s, |word, _| {
            if word.contains(['ä', 'ö', 'ü']) {
                push_word(&mut out, word.chars().map(base_letter));
                push_word(&mut out, word.chars().flat_map(two_letters));
            } else {
                push_word(&mut out, word.chars());
            }
        });
        out
    }

    #[test]
    fn the_ascii_fast_path_folds_exactly_like_the_word_by_word_path() {
        let samples = [
            "Müller Straße",
            "JM@Example.DE, \"Jürgen\" <jm@x.de>",
            "Mu\u{308}ller–Lüdenscheid/ÄÖÜ 12:30",
            "İstanbul ǅemal ΣΑΣ",
            "a\u{301}b c\u{308}d",
            "***x*** y* ÄRGER-ärger",
            "",
            "   ",
            "ß",
            "tab\there\r\nnew",
            "emoji 🙂 mitten drin",
            "MIXEDcase123Numbers",
        ];
        let mut rng = 0x9e37_79b9_u32;
        let alphabet: Vec<char> = "aZ9 .-@ßüÜ\u{308}–é*\"İ".chars().collect();
        let mut random = Vec::new();
        for _ in 0..500 {
            let mut s = String::new();
            for _ in 0..(rng % 24) {
                rng = rng.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                s.push(alphabet[(rng >> 16) as usize % alphabet.len()]);
            }
            random.push(s);
        }
        for s in samples.iter().map(|s| (*s).to_owned()).chain(random) {
            assert_eq!(index_text(&s), reference(&s), "input {s:?}");
        }
    }
}
