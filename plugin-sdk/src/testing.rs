//! Unit-testing plugins natively with `cargo test`: a fake host with options, a project
//! list, known assignments and captured logs.
//!
//! ```
//! use postfach_plugin_sdk::testing::FakeHost;
//! use postfach_plugin_sdk::{host, Level};
//!
//! let fake = FakeHost::new().option("pattern", "P-(\\d+)").projects(["210-01"]);
//! let seen = fake.run(|| {
//!     host::log(Level::Info, "routing");
//!     (host::option("pattern"), host::project_exists("210-01"), host::project_exists("999"))
//! });
//! assert_eq!(seen, (Some("P-(\\d+)".to_owned()), true, false));
//! assert_eq!(fake.logs(), vec![(Level::Info, "routing".to_owned())]);
//! ```

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use crate::Level;

/// A host for native tests. Install it for a closure with [`FakeHost::run`]; clones
/// share the captured logs.
#[derive(Debug, Clone, Default)]
pub struct FakeHost {
    options: BTreeMap<String, String>,
    projects: Option<BTreeSet<String>>,
    assigned: BTreeMap<String, String>,
    logs: Rc<RefCell<Vec<(Level, String)>>>,
}

thread_local! {
    static CURRENT: RefCell<Option<FakeHost>> = const { RefCell::new(None) };
}

impl FakeHost {
    /// A host with no options, no project list (every project exists), no assignments.
    pub fn new() -> FakeHost {
        FakeHost::default()
    }

    /// Sets an option as `host::option(key)` sees it (the key without the plugin id).
    pub fn option(mut self, key: &str, value: &str) -> FakeHost {
        self.options.insert(key.to_owned(), value.to_owned());
        self
    }

    /// Configures a project list; only these projects exist.
    pub fn projects<I: IntoIterator<Item = S>, S: Into<String>>(mut self, projects: I) -> FakeHost {
        self.projects = Some(projects.into_iter().map(Into::into).collect());
        self
    }

    /// Records that a stored message (by Message-ID) is assigned to a project.
    pub fn assigned(mut self, message_id: &str, project: &str) -> FakeHost {
        self.assigned.insert(message_id.to_owned(), project.to_owned());
        self
    }

    /// Runs `f` with this host installed on the current thread.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        let previous = CURRENT.with(|c| c.replace(Some(self.clone())));
        let result = f();
        CURRENT.with(|c| *c.borrow_mut() = previous);
        result
    }

    /// Everything logged so far, in order.
    pub fn logs(&self) -> Vec<(Level, String)> {
        self.logs.borrow().clone()
    }

    pub(crate) fn record_log(&self, level: Level, message: &str) {
        self.logs.borrow_mut().push((level, message.to_owned()));
    }

    pub(crate) fn option_value(&self, key: &str) -> Option<String> {
        self.options.get(key).cloned()
    }

    pub(crate) fn has_project(&self, project: &str) -> bool {
        self.projects.as_ref().is_none_or(|p| p.contains(project))
    }

    pub(crate) fn project_of_message(&self, message_id: &str) -> Option<String> {
        self.assigned.get(message_id).cloned()
    }
}

/// Runs `f` on the installed host, if any.
pub(crate) fn with_host<R>(f: impl FnOnce(&FakeHost) -> R) -> Option<R> {
    CURRENT.with(|c| c.borrow().as_ref().map(f))
}
