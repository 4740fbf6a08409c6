//! The one error type of configuration loading: a message with the place it refers to.

use std::fmt;
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
        write!(f, "{}:{}:{}: {}", self.path.display(), self.at.line, self.at.col, self.message)
    }
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
