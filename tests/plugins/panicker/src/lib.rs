//! An adapter whose `roles` panics.
use postfach_plugin_sdk::{register_provider_adapter, Folder, ProviderAdapter, RoleChoice};

struct Panicker;

impl ProviderAdapter for Panicker {
    const ID: &'static str = "panicker";
    fn new() -> Self {
        Panicker
    }
    fn roles(&self, folders: &[Folder]) -> Vec<RoleChoice> {
        panic!("Ordnerliste kaputt: {} Ordner", folders.len());
    }
}

register_provider_adapter!(Panicker);
