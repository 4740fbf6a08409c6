//! An adapter whose `roles` never returns.
use postfach_plugin_sdk::{Folder, ProviderAdapter, RoleChoice, register_provider_adapter};

struct Looper;

impl ProviderAdapter for Looper {
    const ID: &'static str = "looper";
    fn new() -> Self {
        Looper
    }
    fn roles(&self, _folders: &[Folder]) -> Vec<RoleChoice> {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
}

register_provider_adapter!(Looper);
