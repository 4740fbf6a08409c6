//! A provider adapter built against plugin API 0.1 (before `folder-names`), straight from
//! the released WIT, as an adapter compiled in 2026 and never rebuilt would be. The host
//! must keep loading it.
wit_bindgen::generate!({ path: "../../../plugin-sdk/wit/v0.1", world: "provider-adapter" });

use postfach::plugin::types::{Role, RoleSource};

struct Legacy;

impl Guest for Legacy {
    fn id() -> String {
        "legacy".into()
    }

    fn detect(_email: String, _imap_host: Option<String>, _server_id: Vec<(String, String)>) -> u8 {
        0
    }

    fn defaults(_email: String) -> Option<ServerDefaults> {
        None
    }

    /// Knows one name of its own: `Ablage` is the archive.
    fn roles(folders: Vec<Folder>) -> Vec<RoleChoice> {
        folders
            .into_iter()
            .filter(|f| f.name == "Ablage")
            .map(|f| RoleChoice {
                folder: f.raw,
                role: Role::Archive,
                source: RoleSource::Adapter,
                reason: "the legacy provider files mail in Ablage".into(),
            })
            .collect()
    }

    fn quirks() -> Quirks {
        Quirks {
            auto_saves_sent: false,
            max_connections: 0,
            idle_refresh_secs: 0,
            noop_keepalive: false,
            avoid_partial_fetch: false,
        }
    }
}

export!(Legacy);
