//! The one error type of configuration loading: a message with the place it refers to.

use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

use super::location::LineCol;

/// A problem in a configuration file, printed as `path:line:col: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file the problem is in, or the directory when the directory itself is the problem.
    pub path: PathBuf,
    /// Where in the file; `1:1` when the problem concerns the whole file.
    pub at: LineCol,
    /// What is wrong and, where possible, how to fix it.
    pub message: String,
}

impl ConfigError {
    /// An error about a whole file (unreadable, badly named).
    pub fn file(path: &Path, message: impl Into<String>) -> Self {
        ConfigError { path: path.to_owned(), at: LineCol::default(), message: message.into() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One problem, one line: a value quoted in the message, or a path taken from a
        // file, may hold a line break (or a terminal escape), which is shown escaped (found
        // by the fuzz tests).
        escaped(f, &self.path.display().to_string())?;
        write!(f, ":{}:{}: ", self.at.line, self.at.col)?;
        escaped(f, &self.message)
    }
}

/// Writes `s` with control characters escaped (`\n`, `\u{1b}`).
fn escaped(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    for c in s.chars() {
        if c.is_control() {
            write!(f, "{}", c.escape_default())?;
        } else {
            f.write_char(c)?;
        }
    }
    Ok(())
}

impl std::error::Error for ConfigError {}

/// Several problems found in one go (`check` reports them all, not just the first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> Self {
        ConfigErrors(vec![e])
    }
}
