//! The `icloud` provider adapter: iCloud Mail (icloud.com, me.com, mac.com).
//!
//! iCloud sends no folder attributes at all, so roles come from its fixed names. The
//! IMAP login is the local part of the address (the full address also works); SMTP wants
//! the full address. Both need an app-specific password.

use postfach_plugin_sdk::{
    Folder, FolderName, LoginForm, ProviderAdapter, Quirks, Role, RoleChoice, Server, ServerDefaults, domain_in,
    folders, host_in, register_provider_adapter,
};

/// The adapter.
pub struct Icloud;

const DOMAINS: &[&str] = &["icloud.com", "me.com", "mac.com"];

const TABLE: &[(&str, Role)] = &[
    ("Sent Messages", Role::Sent),
    ("Drafts", Role::Drafts),
    ("Deleted Messages", Role::Trash),
    ("Junk", Role::Junk),
    ("Archive", Role::Archive),
    ("Notes", Role::Other),
];

impl ProviderAdapter for Icloud {
    const ID: &'static str = "icloud";

    fn new() -> Self {
        Icloud
    }

    fn detect(&self, email: &str, imap_host: Option<&str>, _server_id: &[(String, String)]) -> u8 {
        if domain_in(email, DOMAINS) {
            100
        } else if host_in(imap_host, &["imap.mail.me.com", "p02-imap.mail.me.com"]) {
            90
        } else {
            0
        }
    }

    fn defaults(&self, email: &str) -> Option<ServerDefaults> {
        domain_in(email, DOMAINS).then(|| ServerDefaults {
            imap: Server::tls("imap.mail.me.com", 993),
            smtp: Server::starttls("smtp.mail.me.com", 587),
            login: LoginForm::LocalPart,
            hint: Some(
                "iCloud needs an app-specific password (appleid.apple.com); the IMAP login is the part before @, \
                 SMTP ([smtp] username) the full address"
                    .into(),
            ),
        })
    }

    fn roles(&self, folders: &[Folder]) -> Vec<RoleChoice> {
        folders::from_table(folders, TABLE, "iCloud")
    }

    /// iCloud's own names.
    fn folder_names(&self) -> Vec<FolderName> {
        folders::names_from_table(TABLE, &[])
    }

    fn quirks(&self) -> Quirks {
        Quirks { max_connections: 10, ..Quirks::default() }
    }
}

register_provider_adapter!(Icloud);

#[cfg(test)]
mod tests {
    use postfach_plugin_sdk::RoleSource;

    use super::*;

    #[test]
    fn names_without_attributes() {
        let folders = [
            Folder::new("INBOX", &["\\Noinferiors"]),
            Folder::new("Sent Messages", &[]),
            Folder::new("Deleted Messages", &[]),
            Folder::new("Junk", &[]),
            Folder::new("Drafts", &[]),
            Folder::new("Notes", &[]),
        ];
        let roles = Icloud.roles(&folders);
        let find = |raw: &str| roles.iter().find(|c| c.folder == raw).map(|c| (c.role, c.source));
        assert_eq!(find("Sent Messages"), Some((Role::Sent, RoleSource::Adapter)));
        assert_eq!(find("Deleted Messages"), Some((Role::Trash, RoleSource::Adapter)));
        assert_eq!(find("Junk"), Some((Role::Junk, RoleSource::Adapter)));
        assert_eq!(find("Notes"), Some((Role::Other, RoleSource::Adapter)));
        assert_eq!(find("INBOX"), Some((Role::Inbox, RoleSource::Name)));
    }

    #[test]
    fn login_is_the_local_part() {
        let d = Icloud.defaults("max@me.com").unwrap();
        assert_eq!(d.login, LoginForm::LocalPart);
        assert_eq!(d.smtp, Server::starttls("smtp.mail.me.com", 587));
        assert_eq!(Icloud.detect("max@icloud.com", None, &[]), 100);
        assert_eq!(Icloud.detect("max@example.com", None, &[]), 0);
    }
}
