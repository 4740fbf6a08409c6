//! The `outlook` provider adapter: Outlook.com / Hotmail and Exchange / Microsoft 365,
//! with English and German folder names.
//!
//! The server stores SMTP-sent mail in Sent itself. Outlook.com lists INBOX as `Inbox` and
//! marks no archive attribute; consumer accounts need OAuth2 since 2024-09-16 (Microsoft
//! identity platform, browser or device flow). Exchange keeps IDLE for about 10 minutes.

use postfach_plugin_sdk::{
    Folder, FolderName, LoginForm, OAuth2Defaults, ProviderAdapter, Quirks, Role, RoleChoice, Server, ServerDefaults,
    domain_in, folders, host_in, register_provider_adapter,
};

/// The adapter.
pub struct Outlook;

const DOMAINS: &[&str] = &["outlook.com", "outlook.de", "hotmail.com", "hotmail.de", "live.com", "live.de", "msn.com"];
const HOSTS: &[&str] = &["outlook.office365.com", "imap-mail.outlook.com", "outlook.office.com"];

const TABLE: &[(&str, Role)] = &[
    ("Sent Items", Role::Sent),
    ("Sent", Role::Sent),
    ("Gesendete Elemente", Role::Sent),
    ("Drafts", Role::Drafts),
    ("Entwürfe", Role::Drafts),
    ("Deleted Items", Role::Trash),
    ("Deleted", Role::Trash),
    ("Gelöschte Elemente", Role::Trash),
    ("Junk E-mail", Role::Junk),
    ("Junk Email", Role::Junk),
    ("Junk", Role::Junk),
    ("Junk-E-Mail", Role::Junk),
    ("Archive", Role::Archive),
    ("Archiv", Role::Archive),
    ("Outbox", Role::Outbox),
    ("Postausgang", Role::Outbox),
    ("Notes", Role::Other),
    ("Notizen", Role::Other),
];

impl ProviderAdapter for Outlook {
    const ID: &'static str = "outlook";

    fn new() -> Self {
        Outlook
    }

    fn detect(&self, email: &str, imap_host: Option<&str>, _server_id: &[(String, String)]) -> u8 {
        if domain_in(email, DOMAINS) {
            100
        } else if host_in(imap_host, HOSTS) {
            90
        } else {
            0
        }
    }

    fn defaults(&self, email: &str) -> Option<ServerDefaults> {
        domain_in(email, DOMAINS).then(|| {
            ServerDefaults {
            imap: Server::tls("outlook.office365.com", 993),
            smtp: Server::starttls("smtp-mail.outlook.com", 587),
            login: LoginForm::FullAddress,
            hint: Some(
                "Outlook.com accepts only OAuth2 since 2024-09-16 (auth = \"oauth2\", then postfachd oauth authorize); \
                 Microsoft 365 uses smtp.office365.com"
                    .into(),
            ),
        }
        })
    }

    fn roles(&self, folders: &[Folder]) -> Vec<RoleChoice> {
        folders::from_table(folders, TABLE, "Outlook")
    }

    /// Outlook.com's IMAP names.
    fn folder_names(&self) -> Vec<FolderName> {
        [
            (Role::Sent, "Sent"),
            (Role::Drafts, "Drafts"),
            (Role::Trash, "Deleted"),
            (Role::Junk, "Junk"),
            (Role::Archive, "Archive"),
        ]
        .into_iter()
        .map(|(role, name)| FolderName::top(role, name))
        .collect()
    }

    fn quirks(&self) -> Quirks {
        Quirks { auto_saves_sent: true, idle_refresh_secs: 9 * 60, ..Quirks::default() }
    }

    /// The Microsoft identity platform (v2.0 endpoints; the daemon fills in `{tenant}`).
    /// Microsoft wants the scopes on every refresh; `offline_access` brings the refresh
    /// token. For any address the adapter serves: Microsoft 365 domains too, when the
    /// account says `provider = "outlook"`.
    fn oauth2(&self, _email: &str) -> Option<OAuth2Defaults> {
        const BASE: &str = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0";
        Some(OAuth2Defaults {
            provider: "microsoft".into(),
            auth_url: format!("{BASE}/authorize"),
            token_url: format!("{BASE}/token"),
            device_url: Some(format!("{BASE}/devicecode")),
            scopes: [
                "https://outlook.office.com/IMAP.AccessAsUser.All",
                "https://outlook.office.com/SMTP.Send",
                "offline_access",
            ]
            .map(String::from)
            .to_vec(),
            scope_on_refresh: true,
        })
    }
}

register_provider_adapter!(Outlook);

#[cfg(test)]
mod tests {
    use postfach_plugin_sdk::RoleSource;

    use super::*;

    #[test]
    fn english_and_german_exchange_names() {
        let english = [
            Folder::new("Inbox", &[]),
            Folder::new("Sent Items", &["\\Sent"]),
            Folder::new("Deleted Items", &["\\Trash"]),
            Folder::new("Junk E-mail", &["\\Junk"]),
            Folder::new("Archive", &[]),
            Folder::new("Outbox", &[]),
        ];
        let roles = Outlook.roles(&english);
        let find = |roles: &[RoleChoice], raw: &str| roles.iter().find(|c| c.folder == raw).map(|c| (c.role, c.source));
        assert_eq!(find(&roles, "Inbox"), Some((Role::Inbox, RoleSource::Name)));
        assert_eq!(find(&roles, "Sent Items"), Some((Role::Sent, RoleSource::Attribute)));
        assert_eq!(find(&roles, "Archive"), Some((Role::Archive, RoleSource::Adapter)));
        assert_eq!(find(&roles, "Outbox"), Some((Role::Outbox, RoleSource::Adapter)));
        let german = [
            Folder::new("INBOX", &[]),
            Folder::new("Gesendete Elemente", &[]),
            Folder { raw: "Gel&APY-schte Elemente".into(), ..Folder::new("Gelöschte Elemente", &[]) },
            Folder::new("Junk-E-Mail", &[]),
        ];
        let roles = Outlook.roles(&german);
        assert_eq!(find(&roles, "Gesendete Elemente"), Some((Role::Sent, RoleSource::Adapter)));
        assert_eq!(find(&roles, "Gel&APY-schte Elemente"), Some((Role::Trash, RoleSource::Adapter)));
        assert_eq!(find(&roles, "Junk-E-Mail"), Some((Role::Junk, RoleSource::Adapter)));
        assert!(Outlook.quirks().auto_saves_sent);
    }

    #[test]
    fn oauth2_with_tenant_urls_device_flow_and_scopes_on_refresh() {
        let microsoft = Outlook.oauth2("max@outlook.com").unwrap();
        assert_eq!(
            microsoft,
            OAuth2Defaults {
                provider: "microsoft".into(),
                auth_url: "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize".into(),
                token_url: "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token".into(),
                device_url: Some("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/devicecode".into()),
                scopes: vec![
                    "https://outlook.office.com/IMAP.AccessAsUser.All".into(),
                    "https://outlook.office.com/SMTP.Send".into(),
                    "offline_access".into(),
                ],
                scope_on_refresh: true,
            }
        );
        for email in
            ["max@Hotmail.de", "max@hotmail.com", "max@live.de", "max@live.com", "max@msn.com", "max@outlook.de"]
        {
            assert_eq!(Outlook.oauth2(email).as_ref(), Some(&microsoft), "{email}");
        }
        // A Microsoft 365 domain served by this adapter (`provider = "outlook"`).
        assert_eq!(Outlook.oauth2("info@kanzlei365.de").as_ref(), Some(&microsoft));
    }
}
