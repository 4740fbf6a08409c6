//! A router that misbehaves as its option `"bad-router.mode"` says: `panic`, `loop`,
//! `unknown-project` (assigns a project that is not in the list), `huge-project` (a 10 MB
//! project id) or `huge-reason` (a known project with a 10 MB reason).
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
            "huge-project" => Decision::project("9".repeat(10 << 20), "huge"),
            "huge-reason" => Decision::project("210-01", "x".repeat(10 << 20)),
            _ => Decision::Skip,
        }
    }
}

register_router!(Bad);
