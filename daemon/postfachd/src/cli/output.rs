//! Printing results: aligned tables for people, JSON arrays for scripts.
#![allow(clippy::print_stderr)]

use serde::Serialize;

/// A plain text table with a header row; columns are padded to their widest cell.
pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles.
    pub fn new(header: &[&'static str]) -> Self {
        Table { header: header.to_vec(), rows: Vec::new() }
    }

    /// Adds a row; missing cells print empty.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Renders the table.
    pub fn render(&self) -> String {
        let width = |s: &str| s.chars().count();
        let mut widths: Vec<usize> = self.header.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if i < widths.len() {
                    widths[i] = widths[i].max(width(cell));
                }
            }
        }
        let mut out = String::new();
        let mut line = |cells: Vec<&str>| {
            let last = cells.len().saturating_sub(1);
            let mut text = String::new();
            for (i, cell) in cells.iter().enumerate() {
                text.push_str(cell);
                if i < last {
                    text.push_str(&" ".repeat(widths[i] - width(cell) + 2));
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        line(self.header.clone());
        for row in &self.rows {
            line(row.iter().map(String::as_str).collect());
        }
        out
    }

    /// Prints the table to standard output.
    pub fn print(&self) {
        write_out(&self.render());
    }
}

/// Writes to standard output. A reader that went away (`postfachd outbox | head`, `grep
/// -q`) is not an error worth a panic: the rest of the output is dropped.
fn write_out(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Prints a value as pretty JSON to standard output.
pub fn json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => write_out(&format!("{s}\n")),
        Err(e) => eprintln!("postfachd: cannot encode JSON: {e}"),
    }
}

/// Prints a line to standard output.
pub fn line(text: &str) {
    write_out(&format!("{text}\n"));
}

/// Shortens a cell for the table view.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_by_characters() {
        let mut t = Table::new(&["NAME", "N"]);
        t.row(vec!["Entwürfe".into(), "3".into()]);
        t.row(vec!["INBOX".into(), "12".into()]);
        assert_eq!(t.render(), "NAME      N\nEntwürfe  3\nINBOX     12\n");
        assert_eq!(clip("abcdef", 4), "abc…");
    }
}
