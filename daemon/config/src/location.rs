//! Maps problems to `line:column` in the file the admin wrote.
//!
//! serde reports syntax and type errors with a byte span; semantic checks (two default
//! accounts, an archive policy without a folder) know only a key path such as
//! `sync.after_window`. [`Located`] parses the document once more with spans kept and
//! answers both questions.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// A 1-based line and column (in characters) within a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineCol {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub col: usize,
}

impl Default for LineCol {
    fn default() -> Self {
        LineCol { line: 1, col: 1 }
    }
}

/// Converts a byte offset into `line:col`.
pub fn line_col(src: &str, offset: usize) -> LineCol {
    let offset = offset.min(src.len());
    let before = src.get(..offset).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    LineCol { line, col }
}

/// A source document with its spans, for locating keys.
pub struct Located<'a> {
    src: &'a str,
    root: Option<Spanned<DeTable<'a>>>,
}

impl<'a> Located<'a> {
    /// Parses `src` keeping spans; a document that does not parse locates nothing.
    pub fn new(src: &'a str) -> Self {
        Located { src, root: DeTable::parse(src).ok() }
    }

    /// Where the key at `path` is written (its key), falling back to the nearest
    /// enclosing table that exists, then to the start of the file.
    pub fn key(&self, path: &[&str]) -> LineCol {
        self.span(path, false).map_or_else(LineCol::default, |r| line_col(self.src, r.start))
    }

    /// Where the value at `path` is written, with the same fallbacks as [`Located::key`].
    pub fn value(&self, path: &[&str]) -> LineCol {
        self.span(path, true).map_or_else(LineCol::default, |r| line_col(self.src, r.start))
    }

    fn span(&self, path: &[&str], want_value: bool) -> Option<Range<usize>> {
        let root = self.root.as_ref()?;
        let mut table = root.get_ref();
        let mut best: Option<Range<usize>> = None;
        for (i, segment) in path.iter().enumerate() {
            let Some((key, value)) = table.iter().find(|(k, _)| k.get_ref().as_ref() == *segment) else {
                break;
            };
            let last = i + 1 == path.len();
            best = Some(if last && want_value { value.span() } else { key.span() });
            if last {
                break;
            }
            match value.get_ref() {
                DeValue::Table(inner) => table = inner,
                // `[[webhooks]]` entries are addressed as `["webhooks", "0", "url"]`.
                DeValue::Array(items) => {
                    let Some(index) = path.get(i + 1).and_then(|s| s.parse::<usize>().ok()) else { break };
                    let Some(item) = items.get(index) else { break };
                    best = Some(item.span());
                    match item.get_ref() {
                        DeValue::Table(inner) => table = inner,
                        _ => break,
                    }
                    return self.span_in(table, &path[i + 2..], want_value).or(best);
                }
                _ => break,
            }
        }
        best
    }

    fn span_in(&self, table: &'a DeTable<'a>, path: &[&str], want_value: bool) -> Option<Range<usize>> {
        let mut table = table;
        let mut best = None;
        for (i, segment) in path.iter().enumerate() {
            let (key, value) = table.iter().find(|(k, _)| k.get_ref().as_ref() == *segment)?;
            let last = i + 1 == path.len();
            best = Some(if last && want_value { value.span() } else { key.span() });
            match value.get_ref() {
                DeValue::Table(inner) if !last => table = inner,
                _ => break,
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_not_bytes() {
        let src = "a = 1\nb = \"ü\" c";
        assert_eq!(line_col(src, 0), LineCol { line: 1, col: 1 });
        let c = src.find(" c").unwrap() + 1;
        assert_eq!(line_col(src, c), LineCol { line: 2, col: 9 });
    }

    #[test]
    fn finds_nested_keys_and_values() {
        let src = "description = \"x\"\n\n[sync]\ninterval_secs = 5\nafter_window = \"archive\"\n";
        let loc = Located::new(src);
        assert_eq!(loc.key(&["sync", "after_window"]), LineCol { line: 5, col: 1 });
        assert_eq!(loc.value(&["sync", "after_window"]), LineCol { line: 5, col: 16 });
        // A missing key falls back to its table.
        assert_eq!(loc.key(&["sync", "window_days"]), LineCol { line: 3, col: 2 });
        // Dotted and inline forms are found too.
        let loc = Located::new("folders.archive = \"A\"\nimap = { host = \"h\" }\n");
        assert_eq!(loc.key(&["imap", "host"]), LineCol { line: 2, col: 10 });
    }

    #[test]
    fn finds_keys_inside_arrays_of_tables() {
        let src = "[[webhooks]]\nurl = \"a\"\n\n[[webhooks]]\nurl = \"b\"\nevents = [\"x\"]\n";
        let loc = Located::new(src);
        assert_eq!(loc.value(&["webhooks", "1", "url"]), LineCol { line: 5, col: 7 });
        assert_eq!(loc.value(&["webhooks", "1", "events"]), LineCol { line: 6, col: 10 });
        assert_eq!(loc.value(&["webhooks", "0", "url"]), LineCol { line: 2, col: 7 });
    }
}
