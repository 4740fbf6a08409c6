//! The harness's error type: what failed, with the server's log where it helps.

/// A server could not be set up, started or talked to.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// Filesystem or process I/O.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A required program is missing.
    #[error("{program} is not installed ({hint})")]
    Missing {
        /// The program.
        program: String,
        /// How to install it.
        hint: String,
    },
    /// A server did not come up; `log` is the tail of its log.
    #[error("{server} did not start: {reason}\n--- log ---\n{log}")]
    Start {
        /// Which server.
        server: String,
        /// What happened.
        reason: String,
        /// Its log.
        log: String,
    },
    /// Certificate generation failed.
    #[error("certificate generation: {0}")]
    Cert(String),
    /// A fixture was set up with unusable values.
    #[error("fixture setup: {0}")]
    Setup(String),
    /// An IMAP exchange with the fixture client failed.
    #[error("IMAP fixture client: {0}")]
    Imap(String),
}

/// Wraps an I/O error with context.
pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> HarnessError {
    let what = what.into();
    move |source| HarnessError::Io { what, source }
}
