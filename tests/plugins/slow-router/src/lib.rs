//! A router that takes its time (about 300 ms per message), to prove that a call in
//! flight during a reload finishes on the version it started with. It asks the host for
//! the project of `slow-router-started` first, so a test can see the call has begun.
use postfach_plugin_sdk::{Decision, MessageMeta, Router, register_router};

struct Slow;

const VERSION: &str = if cfg!(feature = "v2") { "v2" } else { "v1" };

impl Router for Slow {
    const ID: &'static str = "slow-router";
    fn new() -> Self {
        Slow
    }
    fn route(&self, _message: &MessageMeta<'_>) -> Decision {
        let _ = postfach_plugin_sdk::host::project_of("slow-router-started");
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_millis(300) {
            std::hint::spin_loop();
        }
        Decision::project(VERSION, "slow router")
    }
}

register_router!(Slow);
