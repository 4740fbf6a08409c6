//! A router that misbehaves as its option `"bad-router.mode"` says: `panic`, `loop`, or
//! `unknown-project` (assigns a project that is not in the list).
use postfach_plugin_sdk::{Decision, MessageMeta, Router, host, register_router};

struct Bad {
    mode: String,
}

impl Router for Bad {
    const ID: &'static str = "bad-router";
    fn new() -> Self {
        Bad { mode: host::option("mode").unwrap_or_default() }
    }
    fn route(&self, message: &MessageMeta<'_>) -> Decision {
        match self.mode.as_str() {
            "panic" => panic!("kaputt bei {}", message.subject.unwrap_or("?")),
            "loop" => loop {
                std::hint::spin_loop();
            },
            "unknown-project" => Decision::project("999-99", "made up"),
            _ => Decision::Skip,
        }
    }
}

register_router!(Bad);
