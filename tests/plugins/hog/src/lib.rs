//! An adapter whose `roles` allocates without bound.
use postfach_plugin_sdk::{Folder, ProviderAdapter, RoleChoice, register_provider_adapter};

struct Hog;

impl ProviderAdapter for Hog {
    const ID: &'static str = "hog";
    fn new() -> Self {
        Hog
    }
    fn roles(&self, _folders: &[Folder]) -> Vec<RoleChoice> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(std::hint::black_box(vec![7u8; 1 << 20]));
        }
    }
}

register_provider_adapter!(Hog);
