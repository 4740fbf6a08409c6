//! The `generic` provider adapter: works with any IMAP server.
//!
//! Roles come from SPECIAL-USE attributes (also when the server does not advertise the
//! capability) and XLIST attribute names, then from the folder's own name matched
//! exactly against known names in several languages (German included). It claims every
//! account weakly, so a specific adapter wins whenever one applies, and it supplies
//! `imap.<domain>` / `smtp.<domain>` as a guess for unknown domains.

use postfach_plugin_sdk::{LoginForm, ProviderAdapter, Server, ServerDefaults, domain, register_provider_adapter};

/// The adapter.
pub struct Generic;

impl ProviderAdapter for Generic {
    const ID: &'static str = "generic";

    fn new() -> Self {
        Generic
    }

    fn detect(&self, _email: &str, _imap_host: Option<&str>, _server_id: &[(String, String)]) -> u8 {
        1
    }

    fn defaults(&self, email: &str) -> Option<ServerDefaults> {
        let domain = domain(email);
        if domain.is_empty() {
            return None;
        }
        Some(ServerDefaults {
            imap: Server::tls(&format!("imap.{domain}"), 993),
            smtp: Server::tls(&format!("smtp.{domain}"), 465),
            login: LoginForm::FullAddress,
            hint: Some(format!("guessed from the domain; check imap.{domain} and smtp.{domain} with your provider")),
        })
    }
}

register_provider_adapter!(Generic);

#[cfg(test)]
mod tests {
    use postfach_plugin_sdk::{Folder, Role, RoleSource};

    use super::*;

    #[test]
    fn german_layout_without_attributes() {
        let folders = [
            Folder::new("INBOX", &[]),
            Folder::new("Gesendet", &[]),
            Folder::new("Entwürfe", &[]),
            Folder::new("Gelöscht", &[]),
            Folder::new("Spamverdacht", &[]),
            Folder::new("OUTBOX", &["\\NoInferiors"]),
        ];
        let roles = Generic.roles(&folders);
        let role_of = |name: &str| roles.iter().find(|c| c.folder == name).map(|c| (c.role, c.source));
        assert_eq!(role_of("Gesendet"), Some((Role::Sent, RoleSource::Name)));
        assert_eq!(role_of("Entwürfe"), Some((Role::Drafts, RoleSource::Name)));
        assert_eq!(role_of("Gelöscht"), Some((Role::Trash, RoleSource::Name)));
        assert_eq!(role_of("Spamverdacht"), Some((Role::Junk, RoleSource::Name)));
        assert_eq!(role_of("OUTBOX"), Some((Role::Outbox, RoleSource::Name)), "never sent");
    }

    #[test]
    fn defaults_guess_from_the_domain() {
        let d = Generic.defaults("info@firma-xy.de").unwrap();
        assert_eq!(d.imap, Server::tls("imap.firma-xy.de", 993));
        assert_eq!(d.smtp.host, "smtp.firma-xy.de");
        assert!(Generic.defaults("kein-at-zeichen").is_none());
        assert_eq!(Generic.detect("a@b.de", None, &[]), 1);
    }
}
