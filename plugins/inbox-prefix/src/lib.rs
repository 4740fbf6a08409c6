//! The `inbox-prefix` provider adapter: Courier-IMAP, older Cyrus and Dovecot set-ups that
//! keep every folder under `INBOX.`, separated by dots.
//!
//! System folders are `INBOX.Sent` / `INBOX.Gesendet` and so on; names without the prefix
//! do not exist on such servers (`SELECT Trash` fails), and a prefix must never be doubled
//! (`INBOX.INBOX.Sent`). The adapter recognises the layout by the server's ID or by the
//! folder list itself and names the system folders with their full, prefixed names.

use postfach_plugin_sdk::{
    Folder, ProviderAdapter, Role, RoleChoice, folders, register_provider_adapter, server_id_value,
};

/// The adapter.
pub struct InboxPrefix;

const TABLE: &[(&str, Role)] = &[
    ("INBOX.Sent", Role::Sent),
    ("INBOX.Gesendet", Role::Sent),
    ("INBOX.Sent Items", Role::Sent),
    ("INBOX.Drafts", Role::Drafts),
    ("INBOX.Entwürfe", Role::Drafts),
    ("INBOX.Trash", Role::Trash),
    ("INBOX.Papierkorb", Role::Trash),
    ("INBOX.Spam", Role::Junk),
    ("INBOX.Junk", Role::Junk),
    ("INBOX.Archive", Role::Archive),
    ("INBOX.Archiv", Role::Archive),
];

impl ProviderAdapter for InboxPrefix {
    const ID: &'static str = "inbox-prefix";

    fn new() -> Self {
        InboxPrefix
    }

    fn detect(&self, _email: &str, _imap_host: Option<&str>, server_id: &[(String, String)]) -> u8 {
        let name = server_id_value(server_id, "name").unwrap_or("").to_ascii_lowercase();
        if name.contains("courier") || name.contains("cyrus") { 40 } else { 0 }
    }

    fn roles(&self, folders: &[Folder]) -> Vec<RoleChoice> {
        let prefixed =
            folders.iter().filter(|f| !f.is_inbox()).all(|f| f.name.to_ascii_uppercase().starts_with("INBOX."));
        if prefixed { folders::from_table(folders, TABLE, "Courier-style") } else { folders::standard_roles(folders) }
    }
}

register_provider_adapter!(InboxPrefix);

#[cfg(test)]
mod tests {
    use postfach_plugin_sdk::RoleSource;

    use super::*;

    fn dotted(name: &str) -> Folder {
        let path = name.strip_prefix("INBOX.").unwrap_or(name).split('.').map(str::to_owned).collect();
        Folder { delimiter: Some(".".into()), path, ..Folder::new(name, &[]) }
    }

    #[test]
    fn prefixed_system_folders() {
        let folders = [
            dotted("INBOX"),
            dotted("INBOX.Gesendet"),
            Folder { raw: "INBOX.Entw&APw-rfe".into(), ..dotted("INBOX.Entwürfe") },
            dotted("INBOX.Trash"),
            dotted("INBOX.Kunden.Sent"),
        ];
        let roles = InboxPrefix.roles(&folders);
        let find = |raw: &str| roles.iter().find(|c| c.folder == raw).map(|c| (c.role, c.source));
        assert_eq!(find("INBOX.Gesendet"), Some((Role::Sent, RoleSource::Adapter)));
        assert_eq!(find("INBOX.Entw&APw-rfe"), Some((Role::Drafts, RoleSource::Adapter)));
        assert_eq!(find("INBOX.Trash"), Some((Role::Trash, RoleSource::Adapter)));
        assert_eq!(find("INBOX.Kunden.Sent"), None, "a nested Sent is not the Sent folder");
        assert_eq!(InboxPrefix.detect("a@b.de", None, &[("name".into(), "Courier-IMAP".into())]), 40);
        assert_eq!(InboxPrefix.detect("a@b.de", None, &[("name".into(), "Dovecot".into())]), 0);
    }
}
