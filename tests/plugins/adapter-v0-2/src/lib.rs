//! A provider adapter built against plugin API 0.2 (before `oauth2`), straight from the
//! released WIT, as an adapter compiled before 0.3 and never rebuilt would be. The host
//! must keep loading it, and every 0.2 export must still arrive.
wit_bindgen::generate!({ path: "../../../plugin-sdk/wit/v0.2", world: "provider-adapter" });

use postfach::plugin::types::{LoginForm, Role, RoleSource, Security, Server};

struct Adapter;

const DOMAIN: &str = "@zwei.example";

impl Guest for Adapter {
    fn id() -> String {
        "adapter-v0-2".into()
    }

    fn detect(email: String, _imap_host: Option<String>, _server_id: Vec<(String, String)>) -> u8 {
        if email.ends_with(DOMAIN) { 100 } else { 0 }
    }

    fn defaults(email: String) -> Option<ServerDefaults> {
        email.ends_with(DOMAIN).then(|| ServerDefaults {
            imap: Server { host: "imap.zwei.example".into(), port: 993, security: Security::Tls },
            smtp: Server { host: "smtp.zwei.example".into(), port: 587, security: Security::Starttls },
            login: LoginForm::LocalPart,
            hint: Some("built for plugin API 0.2".into()),
        })
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
                reason: "the 0.2 provider files mail in Ablage".into(),
            })
            .collect()
    }

    fn quirks() -> Quirks {
        Quirks {
            auto_saves_sent: true,
            max_connections: 4,
            idle_refresh_secs: 0,
            noop_keepalive: false,
            avoid_partial_fetch: false,
        }
    }

    fn folder_names() -> Vec<FolderName> {
        vec![
            FolderName { role: Role::Sent, path: vec!["Gesendet".into()] },
            FolderName { role: Role::Archive, path: vec!["Ablage".into(), "2026".into()] },
        ]
    }
}

export!(Adapter);
