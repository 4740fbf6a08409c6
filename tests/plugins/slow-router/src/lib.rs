//! A router that takes its time (about 300 ms per batch), to prove that a call in flight
//! during a reload finishes on the version it started with.
use postfach_plugin_sdk::{Decision, MessageMeta, Router, register_router};

struct Slow;

const VERSION: &str = if cfg!(feature = "v2") { "v2" } else { "v1" };

impl Router for Slow {
    const ID: &'static str = "slow-router";
    fn new() -> Self {
        Slow
    }
    fn route(&self, _message: &MessageMeta<'_>) -> Decision {
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_millis(300) {
            std::hint::spin_loop();
        }
        Decision::project(VERSION, "slow router")
    }
}

register_router!(Slow);
