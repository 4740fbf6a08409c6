//! A router that only looks at each message: the floor of routing cost (benchmarks).
use postfach_plugin_sdk::{Decision, MessageMeta, Router, register_router};

struct Trivial;

impl Router for Trivial {
    const ID: &'static str = "trivial";
    fn new() -> Self {
        Trivial
    }
    fn route(&self, message: &MessageMeta<'_>) -> Decision {
        if message.subject == Some("never") { Decision::project("x", "never") } else { Decision::Skip }
    }
}

register_router!(Trivial);
