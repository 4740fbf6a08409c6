//! The `webde` provider adapter: WEB.DE.
//!
//! Same platform and folder names as GMX, plus `Unbekannt` (mail from unknown senders).
//! The login name is the part before `@web.de`; IMAP access must be enabled once in the
//! web settings; up to 40 folders.

use postfach_plugin_sdk::{
    Folder, FolderName, LoginForm, ProviderAdapter, Quirks, Role, RoleChoice, Server, ServerDefaults, domain_in,
    folders, host_in, register_provider_adapter,
};

/// The adapter.
pub struct WebDe;

const TABLE: &[(&str, Role)] = &[
    ("Gesendet", Role::Sent),
    ("Entwürfe", Role::Drafts),
    ("Gelöscht", Role::Trash),
    ("Spamverdacht", Role::Junk),
    ("OUTBOX", Role::Outbox),
    ("Unbekannt", Role::Other),
];

impl ProviderAdapter for WebDe {
    const ID: &'static str = "webde";

    fn new() -> Self {
        WebDe
    }

    fn detect(&self, email: &str, imap_host: Option<&str>, _server_id: &[(String, String)]) -> u8 {
        if domain_in(email, &["web.de"]) {
            100
        } else if host_in(imap_host, &["imap.web.de"]) {
            90
        } else {
            0
        }
    }

    fn defaults(&self, email: &str) -> Option<ServerDefaults> {
        domain_in(email, &["web.de"]).then(|| ServerDefaults {
            imap: Server::tls("imap.web.de", 993),
            smtp: Server::starttls("smtp.web.de", 587),
            login: LoginForm::LocalPart,
            hint: Some(
                "enable \"POP3/IMAP Abruf\" once in the WEB.DE settings; the login name is the part before @web.de"
                    .into(),
            ),
        })
    }

    fn roles(&self, folders: &[Folder]) -> Vec<RoleChoice> {
        folders::from_table(folders, TABLE, "WEB.DE")
    }

    /// WEB.DE's names (the same platform as GMX).
    fn folder_names(&self) -> Vec<FolderName> {
        folders::names_from_table(TABLE, &[(Role::Archive, "Archiv")])
    }

    fn quirks(&self) -> Quirks {
        Quirks { idle_refresh_secs: 10 * 60, ..Quirks::default() }
    }
}

register_provider_adapter!(WebDe);

#[cfg(test)]
mod tests {
    use postfach_plugin_sdk::RoleSource;

    use super::*;

    #[test]
    fn local_part_login_and_unknown_senders_folder() {
        let d = WebDe.defaults("max.mustermann@web.de").unwrap();
        assert_eq!(d.login, LoginForm::LocalPart);
        assert_eq!(d.smtp, Server::starttls("smtp.web.de", 587));
        let folders = [Folder::new("INBOX", &[]), Folder::new("Unbekannt", &[]), Folder::new("OUTBOX", &[])];
        let roles = WebDe.roles(&folders);
        assert!(
            roles.iter().any(|c| c.folder == "Unbekannt" && c.role == Role::Other && c.source == RoleSource::Adapter)
        );
        assert!(!roles.iter().any(|c| c.role == Role::Sent));
        assert_eq!(WebDe.detect("max@gmx.de", None, &[]), 0);
    }
}
