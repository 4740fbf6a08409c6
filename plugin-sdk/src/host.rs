//! What the host offers a plugin: logging, the account's options, project checks.
//!
//! In a plugin these call into Postfach. In native unit tests they go to the
//! [`crate::testing::FakeHost`] installed on the current thread (without one: logs go to
//! stderr, no options are set, every project exists, no message has a project).

use crate::Level;

/// Writes to the daemon's log, tagged with the plugin id.
pub fn log(level: Level, message: &str) {
    imp::log(level, message);
}

/// An option from the account's `[routing.options]`, by key: `option("pattern")` reads
/// `"<plugin id>.pattern"`.
pub fn option(key: &str) -> Option<String> {
    imp::option(key)
}

/// Whether a project exists; true for any project when no project list is configured.
pub fn project_exists(project: &str) -> bool {
    imp::project_exists(project)
}

/// The project a stored message (by Message-ID, without brackets) is assigned to.
pub fn project_of(message_id: &str) -> Option<String> {
    imp::project_of(message_id)
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use crate::Level;
    use crate::export::wit::host as h;

    pub fn log(level: Level, message: &str) {
        let level = match level {
            Level::Trace => h::Level::Trace,
            Level::Debug => h::Level::Debug,
            Level::Info => h::Level::Info,
            Level::Warn => h::Level::Warn,
            Level::Error => h::Level::Error,
        };
        h::log(level, message);
    }

    pub fn option(key: &str) -> Option<String> {
        h::option(key)
    }

    pub fn project_exists(project: &str) -> bool {
        h::project_exists(project)
    }

    pub fn project_of(message_id: &str) -> Option<String> {
        h::project_of(message_id)
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use crate::Level;
    use crate::testing;

    pub fn log(level: Level, message: &str) {
        if testing::with_host(|h| h.record_log(level, message)).is_none() {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("[{level:?}] {message}");
            }
        }
    }

    pub fn option(key: &str) -> Option<String> {
        testing::with_host(|h| h.option_value(key)).flatten()
    }

    pub fn project_exists(project: &str) -> bool {
        testing::with_host(|h| h.has_project(project)).unwrap_or(true)
    }

    pub fn project_of(message_id: &str) -> Option<String> {
        testing::with_host(|h| h.project_of_message(message_id)).flatten()
    }
}
