//! The `gmx` provider adapter: GMX (gmx.de, gmx.net, gmx.at, gmx.ch, gmx.com).
//!
//! GMX and WEB.DE run on the same platform (see the `webde` adapter): German folder names,
//! and an `OUTBOX` folder (`\NoInferiors`) that holds mail the webmailer has yet to send,
//! which is never the Sent folder. IMAP access must be enabled once in the web settings;
//! the free plan allows 20 folders. The server drops IDLE after about 12 minutes.

use postfach_plugin_sdk::{
    Folder, FolderName, LoginForm, ProviderAdapter, Quirks, Role, RoleChoice, Server, ServerDefaults, domain_in,
    folders, host_in, register_provider_adapter,
};

/// The adapter.
pub struct Gmx;

const DOMAINS: &[&str] = &["gmx.de", "gmx.net", "gmx.at", "gmx.ch", "gmx.com", "gmx.eu"];

/// Folder names of the GMX / WEB.DE platform.
pub const TABLE: &[(&str, Role)] = &[
    ("Gesendet", Role::Sent),
    ("Entwürfe", Role::Drafts),
    ("Gelöscht", Role::Trash),
    ("Spamverdacht", Role::Junk),
    ("OUTBOX", Role::Outbox),
];

impl ProviderAdapter for Gmx {
    const ID: &'static str = "gmx";

    fn new() -> Self {
        Gmx
    }

    fn detect(&self, email: &str, imap_host: Option<&str>, _server_id: &[(String, String)]) -> u8 {
        if domain_in(email, DOMAINS) {
            100
        } else if host_in(imap_host, &["imap.gmx.net", "imap.gmx.com"]) {
            90
        } else {
            0
        }
    }

    fn defaults(&self, email: &str) -> Option<ServerDefaults> {
        domain_in(email, DOMAINS).then(|| ServerDefaults {
            imap: Server::tls("imap.gmx.net", 993),
            smtp: Server::tls("mail.gmx.net", 465),
            login: LoginForm::FullAddress,
            hint: Some("enable \"POP3/IMAP Abruf\" once in the GMX settings; the free plan allows 20 folders".into()),
        })
    }

    fn roles(&self, folders: &[Folder]) -> Vec<RoleChoice> {
        folders::from_table(folders, TABLE, "GMX")
    }

    /// GMX's names (the same platform as WEB.DE).
    fn folder_names(&self) -> Vec<FolderName> {
        folders::names_from_table(TABLE, &[(Role::Archive, "Archiv")])
    }

    fn quirks(&self) -> Quirks {
        Quirks { idle_refresh_secs: 10 * 60, ..Quirks::default() }
    }
}

register_provider_adapter!(Gmx);

#[cfg(test)]
mod tests {
    use postfach_plugin_sdk::RoleSource;

    use super::*;

    #[test]
    fn outbox_is_never_sent() {
        let folders = [
            Folder::new("INBOX", &[]),
            Folder::new("OUTBOX", &["\\Noinferiors"]),
            Folder::new("Gesendet", &["\\Sent"]),
            Folder { raw: "Gel&APY-scht".into(), ..Folder::new("Gelöscht", &["\\Trash"]) },
            Folder::new("Spamverdacht", &["\\Junk"]),
        ];
        let roles = Gmx.roles(&folders);
        let find = |raw: &str| roles.iter().find(|c| c.folder == raw).map(|c| (c.role, c.source));
        assert_eq!(find("OUTBOX"), Some((Role::Outbox, RoleSource::Adapter)));
        assert_eq!(find("Gesendet"), Some((Role::Sent, RoleSource::Attribute)));
        assert_eq!(find("Gel&APY-scht"), Some((Role::Trash, RoleSource::Attribute)));
        assert_eq!(find("Spamverdacht"), Some((Role::Junk, RoleSource::Attribute)));
        assert_eq!(Gmx.quirks().idle_refresh_secs, 600);
        assert_eq!(Gmx.defaults("a@gmx.net").unwrap().login, LoginForm::FullAddress);
    }
}
