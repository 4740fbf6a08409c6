//! The `t-online` provider adapter: Telekom's T-Online mail (t-online.de, magenta.de).
//!
//! Mail programs need the separate "Passwort für E-Mail-Programme" from the Telekom
//! E-Mail-Center, not the web login password; the adapter says so in its hint.

use postfach_plugin_sdk::{
    Folder, LoginForm, ProviderAdapter, Role, RoleChoice, Server, ServerDefaults, domain_in, folders, host_in,
    register_provider_adapter,
};

/// The adapter.
pub struct TOnline;

const DOMAINS: &[&str] = &["t-online.de", "magenta.de"];

const TABLE: &[(&str, Role)] = &[
    ("Gesendet", Role::Sent),
    ("Entwürfe", Role::Drafts),
    ("Papierkorb", Role::Trash),
    ("Spam", Role::Junk),
    ("Sprachbox", Role::Other),
];

impl ProviderAdapter for TOnline {
    const ID: &'static str = "t-online";

    fn new() -> Self {
        TOnline
    }

    fn detect(&self, email: &str, imap_host: Option<&str>, _server_id: &[(String, String)]) -> u8 {
        if domain_in(email, DOMAINS) {
            100
        } else if host_in(imap_host, &["secureimap.t-online.de"]) {
            90
        } else {
            0
        }
    }

    fn defaults(&self, email: &str) -> Option<ServerDefaults> {
        domain_in(email, DOMAINS).then(|| ServerDefaults {
            imap: Server::tls("secureimap.t-online.de", 993),
            smtp: Server::tls("securesmtp.t-online.de", 465),
            login: LoginForm::FullAddress,
            hint: Some(
                "T-Online needs the separate \"Passwort für E-Mail-Programme\" from the Telekom E-Mail-Center, \
                 not the web login password"
                    .into(),
            ),
        })
    }

    fn roles(&self, folders: &[Folder]) -> Vec<RoleChoice> {
        folders::from_table(folders, TABLE, "T-Online")
    }
}

register_provider_adapter!(TOnline);

#[cfg(test)]
mod tests {
    use postfach_plugin_sdk::RoleSource;

    use super::*;

    #[test]
    fn german_system_folders() {
        let folders = [
            Folder::new("INBOX", &[]),
            Folder::new("Gesendet", &[]),
            Folder::new("Entwürfe", &[]),
            Folder::new("Papierkorb", &[]),
            Folder::new("Spam", &[]),
            Folder::new("Sprachbox", &[]),
        ];
        let roles = TOnline.roles(&folders);
        let find = |raw: &str| roles.iter().find(|c| c.folder == raw).map(|c| (c.role, c.source));
        assert_eq!(find("Gesendet"), Some((Role::Sent, RoleSource::Adapter)));
        assert_eq!(find("Sprachbox"), Some((Role::Other, RoleSource::Adapter)));
        let hint = TOnline.defaults("oma@t-online.de").unwrap().hint.unwrap();
        assert!(hint.contains("Passwort für E-Mail-Programme"));
        assert_eq!(TOnline.detect("x@magenta.de", None, &[]), 100);
    }
}
