//! The `gmail` provider adapter: Gmail and Google Workspace.
//!
//! Folders live under `[Gmail]/` (English accounts) or `[Google Mail]/` (German ones);
//! the server sends SPECIAL-USE attributes without advertising the capability. Gmail
//! stores SMTP-sent mail in Sent itself, allows 15 simultaneous connections, and exposes
//! every message in All Mail (`\All`), which is therefore not a folder to sync as new mail.
//! OAuth2 uses Google's browser flow only: its device flow cannot grant the mail scope.

use postfach_plugin_sdk::{
    Folder, FolderName, LoginForm, OAuth2Defaults, ProviderAdapter, Quirks, Role, RoleChoice, Server, ServerDefaults,
    domain_in, folders, host_in, register_provider_adapter, server_id_value,
};

/// The adapter.
pub struct Gmail;

const DOMAINS: &[&str] = &["gmail.com", "googlemail.com"];
const HOSTS: &[&str] = &["imap.gmail.com", "imap.googlemail.com"];

const TABLE: &[(&str, Role)] = &[
    ("[Gmail]/Sent Mail", Role::Sent),
    ("[Google Mail]/Gesendet", Role::Sent),
    ("[Gmail]/Drafts", Role::Drafts),
    ("[Google Mail]/Entwürfe", Role::Drafts),
    ("[Gmail]/Trash", Role::Trash),
    ("[Gmail]/Bin", Role::Trash),
    ("[Google Mail]/Papierkorb", Role::Trash),
    ("[Gmail]/Spam", Role::Junk),
    ("[Google Mail]/Spam", Role::Junk),
    ("[Gmail]/All Mail", Role::All),
    ("[Google Mail]/Alle Nachrichten", Role::All),
    ("[Gmail]/Starred", Role::Flagged),
    ("[Google Mail]/Markiert", Role::Flagged),
    ("[Gmail]/Important", Role::Important),
    ("[Google Mail]/Wichtig", Role::Important),
];

impl ProviderAdapter for Gmail {
    const ID: &'static str = "gmail";

    fn new() -> Self {
        Gmail
    }

    fn detect(&self, email: &str, imap_host: Option<&str>, server_id: &[(String, String)]) -> u8 {
        if domain_in(email, DOMAINS) {
            100
        } else if server_id_value(server_id, "name").is_some_and(|n| n.eq_ignore_ascii_case("GImap")) {
            95
        } else if host_in(imap_host, HOSTS) {
            90
        } else {
            0
        }
    }

    fn defaults(&self, email: &str) -> Option<ServerDefaults> {
        domain_in(email, DOMAINS).then(|| ServerDefaults {
            imap: Server::tls("imap.gmail.com", 993),
            smtp: Server::tls("smtp.gmail.com", 465),
            login: LoginForm::FullAddress,
            hint: Some(
                "Google needs OAuth2 (auth = \"oauth2\", then postfachd oauth authorize) or, where still allowed, \
                 an app password (requires 2-step verification)"
                    .into(),
            ),
        })
    }

    fn roles(&self, folders: &[Folder]) -> Vec<RoleChoice> {
        folders::from_table(folders, TABLE, "Gmail")
    }

    /// Gmail creates its system folders itself ("[Gmail]/…"); none can be made by a client.
    fn folder_names(&self) -> Vec<FolderName> {
        Vec::new()
    }

    fn quirks(&self) -> Quirks {
        Quirks { auto_saves_sent: true, max_connections: 15, idle_refresh_secs: 25 * 60, ..Quirks::default() }
    }

    /// Google's endpoints, for any address the adapter serves (Google Workspace domains
    /// too, when the account says `provider = "gmail"`). No device flow: Google's device
    /// flow does not grant `https://mail.google.com/`, the only scope that covers IMAP and SMTP.
    fn oauth2(&self, _email: &str) -> Option<OAuth2Defaults> {
        Some(OAuth2Defaults {
            provider: "google".into(),
            auth_url: "https://accounts.google.com/o/oauth2/v2/auth".into(),
            token_url: "https://oauth2.googleapis.com/token".into(),
            device_url: None,
            scopes: vec!["https://mail.google.com/".into()],
            scope_on_refresh: false,
        })
    }
}

register_provider_adapter!(Gmail);

#[cfg(test)]
mod tests {
    use postfach_plugin_sdk::RoleSource;

    use super::*;

    #[test]
    fn german_layout_with_attributes() {
        let folders = [
            Folder::new("INBOX", &[]),
            Folder::new("[Google Mail]", &["\\Noselect"]),
            Folder::new("[Google Mail]/Gesendet", &["\\Sent"]),
            Folder {
                raw: "[Google Mail]/Entw&APw-rfe".into(), ..Folder::new("[Google Mail]/Entwürfe", &["\\Drafts"])
            },
            Folder::new("[Google Mail]/Alle Nachrichten", &["\\All"]),
            Folder::new("[Google Mail]/Papierkorb", &[]),
        ];
        let roles = Gmail.roles(&folders);
        let find = |raw: &str| roles.iter().find(|c| c.folder == raw).map(|c| (c.role, c.source));
        assert_eq!(find("[Google Mail]/Gesendet"), Some((Role::Sent, RoleSource::Attribute)));
        assert_eq!(find("[Google Mail]/Entw&APw-rfe"), Some((Role::Drafts, RoleSource::Attribute)));
        assert_eq!(find("[Google Mail]/Alle Nachrichten"), Some((Role::All, RoleSource::Attribute)));
        assert_eq!(find("[Google Mail]/Papierkorb"), Some((Role::Trash, RoleSource::Adapter)));
        assert_eq!(find("[Google Mail]"), None);
    }

    #[test]
    fn detects_by_domain_server_id_and_host() {
        assert_eq!(Gmail.detect("max@gmail.com", None, &[]), 100);
        assert_eq!(Gmail.detect("max@firma.de", None, &[("name".into(), "GImap".into())]), 95);
        assert_eq!(Gmail.detect("max@firma.de", Some("imap.gmail.com"), &[]), 90);
        assert_eq!(Gmail.detect("max@gmx.de", Some("imap.gmx.net"), &[]), 0);
        let q = Gmail.quirks();
        assert!(q.auto_saves_sent);
        assert_eq!(q.max_connections, 15);
        assert_eq!(Gmail.defaults("max@googlemail.com").unwrap().smtp, Server::tls("smtp.gmail.com", 465));
    }

    #[test]
    fn oauth2_with_the_mail_scope_and_no_device_flow() {
        let google = Gmail.oauth2("Max@GoogleMail.com").unwrap();
        assert_eq!(
            google,
            OAuth2Defaults {
                provider: "google".into(),
                auth_url: "https://accounts.google.com/o/oauth2/v2/auth".into(),
                token_url: "https://oauth2.googleapis.com/token".into(),
                device_url: None,
                scopes: vec!["https://mail.google.com/".into()],
                scope_on_refresh: false,
            }
        );
        assert_eq!(Gmail.oauth2("max@gmail.com"), Some(google));
        // A Workspace domain served by this adapter (`provider = "gmail"`).
        assert_eq!(Gmail.oauth2("info@kanzlei-workspace.de"), Some(Gmail.oauth2("max@gmail.com").unwrap()));
    }
}
