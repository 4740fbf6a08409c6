//! An adapter whose `roles` panics.
use postfach_plugin_sdk::{Folder, ProviderAdapter, RoleChoice, register_provider_adapter};

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
