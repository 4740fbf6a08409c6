//! A complete provider adapter: Muster-Mail's servers and its German folder names.
//! Build: cargo build --release --target wasm32-wasip2 --example minimal_adapter --features provider-adapter
use postfach_plugin_sdk::{
    Folder, LoginForm, ProviderAdapter, Role, RoleChoice, Server, ServerDefaults, domain_in, folders,
    register_provider_adapter,
};

struct MusterMail;

impl ProviderAdapter for MusterMail {
    const ID: &'static str = "muster-mail";

    fn new() -> Self {
        MusterMail
    }

    // 100 = certainly this provider; 0 = certainly not.
    fn detect(&self, email: &str, _imap_host: Option<&str>, _server_id: &[(String, String)]) -> u8 {
        if domain_in(email, &["muster-mail.de"]) { 100 } else { 0 }
    }

    fn defaults(&self, email: &str) -> Option<ServerDefaults> {
        domain_in(email, &["muster-mail.de"]).then(|| ServerDefaults {
            imap: Server::tls("imap.muster-mail.de", 993),
            smtp: Server::starttls("smtp.muster-mail.de", 587),
            login: LoginForm::FullAddress,
            hint: None,
        })
    }

    // The provider's own names first; attributes and well-known names fill in the rest.
    fn roles(&self, folders: &[Folder]) -> Vec<RoleChoice> {
        folders::from_table(folders, &[("Ausgang", Role::Sent), ("Ablage", Role::Archive)], "Muster-Mail")
    }
}

register_provider_adapter!(MusterMail);
