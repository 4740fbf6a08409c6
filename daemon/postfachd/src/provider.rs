//! Which provider adapter serves an account, and what it contributes: server settings
//! for fields the account file leaves out, folder roles, and quirks.
//!
//! `provider = "<id>"` names the adapter; `provider = "auto"` asks every adapter's
//! `detect` with the address and IMAP host before connecting, and once more with the
//! server's `ID` answer after login. An adapter that fails or is quarantined never stops
//! a sync: the host falls back to SPECIAL-USE attributes for roles and to the account
//! file for servers.

use std::sync::Arc;

use crate::config::Security;
use crate::config::{Account, EndpointError, ImapEndpoint};
use crate::imap::{ImapError, RoleHints};
use crate::model::Role;
use crate::model::RoleSource;
use crate::plugins::{
    Folder, LoginForm, PluginError, PluginHost, PluginKind, PluginRoleSource, PluginSecurity, Quirks, ServerDefaults,
    domain_role,
};
use crate::store::ListedFolder;

/// The adapter chosen for an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    /// The provider adapter's plugin id, e.g. `gmail` or `t-online`.
    pub id: String,
    /// `configured` (named in the file) or `detected` (with its score).
    pub how: String,
}

/// Why the configured adapter cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("provider = \"{wanted}\" names no loaded provider adapter (loaded: {loaded})")]
pub struct UnknownProvider {
    /// The `provider = "…"` value from the account file.
    pub wanted: String,
    /// Ids of the loaded provider adapters, comma-separated, or `none`.
    pub loaded: String,
}

/// Chooses the adapter for an account. Blocking (plugin calls).
pub fn choose(
    host: &PluginHost,
    account: &Account,
    server_id: &[(String, String)],
) -> Result<Option<Chosen>, UnknownProvider> {
    let wanted = account.file.provider.as_str();
    let adapters = host.ids(PluginKind::ProviderAdapter);
    if wanted != "auto" {
        return if adapters.iter().any(|a| a == wanted) {
            Ok(Some(Chosen { id: wanted.to_owned(), how: "configured".into() }))
        } else {
            Err(UnknownProvider {
                wanted: wanted.to_owned(),
                loaded: if adapters.is_empty() { "none".into() } else { adapters.join(", ") },
            })
        };
    }
    let email = &account.file.identity.email;
    let host_name = account.file.imap.host.as_deref();
    Ok(host
        .detect(email, host_name, server_id)
        .into_iter()
        .next()
        .map(|(id, score)| Chosen { id, how: format!("detected (score {score})") }))
}

/// The IMAP endpoint, with the adapter's defaults for what the file leaves out: the
/// server (host, port, security) when `imap.host` is absent, and the login form (full
/// address or local part) when `imap.username` is absent. Blocking (may resolve a password
/// command and call a plugin).
pub fn imap_endpoint(
    host: Option<&PluginHost>,
    account: &Account,
) -> Result<(ImapEndpoint, Option<Chosen>), ImapError> {
    let chosen = match host {
        Some(h) => choose(h, account, &[]).map_err(|e| ImapError::Server(e.to_string()))?,
        None => None,
    };
    let email = &account.file.identity.email;
    let defaults: Option<ServerDefaults> = match (host, &chosen) {
        (Some(h), Some(c)) => h.defaults(&c.id, email).ok().flatten(),
        _ => None,
    };
    let mut ep = match (&account.file.imap.host, &defaults) {
        (Some(_), _) => account.imap_endpoint()?,
        (None, Some(d)) => account.imap_endpoint_with(&d.imap.host, d.imap.port, security(d.imap.security))?,
        (None, None) => return Err(ImapError::Endpoint(EndpointError::NoHost("imap"))),
    };
    if account.file.imap.username.is_none()
        && let Some(d) = &defaults
        && d.login == LoginForm::LocalPart
    {
        ep.username = crate::config::local_part(email).to_owned();
    }
    Ok((ep, chosen))
}

/// The SMTP endpoint, with the adapter's server when `[smtp] host` is absent. Blocking.
pub fn smtp_endpoint(
    host: Option<&PluginHost>,
    account: &Account,
) -> Result<crate::config::SmtpEndpoint, EndpointError> {
    let defaults = match (host, account.file.smtp.host.is_none()) {
        (Some(h), true) => choose(h, account, &[])
            .ok()
            .flatten()
            .and_then(|c| h.defaults(&c.id, &account.file.identity.email).ok().flatten()),
        _ => None,
    };
    account.smtp_endpoint(defaults.as_ref().map(|d| (d.smtp.host.as_str(), d.smtp.port, security(d.smtp.security))))
}

/// Folder roles from the adapter, as hints for the listing. `None` (use attributes) when
/// there is no adapter or it failed; the failure is returned for the account's status.
pub fn roles(host: &PluginHost, adapter: &str, listing: &[ListedFolder]) -> (RoleHints, Option<PluginError>) {
    let infos: Vec<Folder> = listing
        .iter()
        .map(|f| Folder {
            name: f.name.clone(),
            raw: f.raw.clone(),
            delimiter: f.delimiter.clone(),
            attributes: f.attributes.clone(),
            path: f.path.clone(),
        })
        .collect();
    match host.roles(adapter, &infos) {
        Ok(choices) => {
            let choices = choices.into_iter().map(|c| (c.folder, domain_role(c.role), role_source(c.source))).collect();
            (RoleHints { choices: Some(choices) }, None)
        }
        Err(e) => (RoleHints::default(), Some(e)),
    }
}

/// The adapter's quirks; defaults when there is none or it fails.
pub fn quirks(host: &PluginHost, adapter: Option<&str>) -> Quirks {
    adapter.and_then(|id| host.quirks(id).ok()).unwrap_or_default()
}

/// Names for system folders a provider would create, as path segments below the
/// personal namespace: the adapter's answer (API 0.2; roles it leaves out are not created),
/// else — no adapter, an API 0.1 adapter, or a failing one — the names German users expect.
pub fn folder_names(host: &PluginHost, adapter: Option<&str>) -> std::collections::HashMap<Role, Vec<String>> {
    if let Some(names) = adapter.and_then(|id| host.folder_names(id).ok().flatten()) {
        return names.into_iter().collect();
    }
    [
        (Role::Sent, "Gesendet"),
        (Role::Drafts, "Entwürfe"),
        (Role::Trash, "Papierkorb"),
        (Role::Junk, "Spam"),
        (Role::Archive, "Archiv"),
    ]
    .into_iter()
    .map(|(r, n)| (r, vec![n.to_owned()]))
    .collect()
}

/// The adapter's suggestion for an address, for `postfachd autoconfig`: the best
/// detected adapter that knows defaults.
pub fn autoconfig(host: &PluginHost, email: &str) -> Option<(String, ServerDefaults)> {
    host.detect(email, None, &[])
        .into_iter()
        .find_map(|(id, _)| host.defaults(&id, email).ok().flatten().map(|d| (id, d)))
}

/// A handle for roles lookups during a sync pass.
#[derive(Debug, Clone)]
pub struct AdapterRef {
    /// The plugin host that loaded the adapter, shared with the rest of the daemon.
    pub host: Arc<PluginHost>,
    /// The serving adapter's plugin id, from [`Chosen::id`].
    pub id: String,
}

/// An adapter's transport security as the config's.
pub fn security(s: PluginSecurity) -> Security {
    match s {
        PluginSecurity::Tls => Security::Tls,
        PluginSecurity::Starttls => Security::Starttls,
        PluginSecurity::Plain => Security::Plain,
    }
}

/// Who decided an adapter's role choice, as the daemon records it.
fn role_source(s: PluginRoleSource) -> RoleSource {
    match s {
        PluginRoleSource::Attribute => RoleSource::Attribute,
        PluginRoleSource::Adapter => RoleSource::Adapter,
        PluginRoleSource::Name => RoleSource::Name,
    }
}
