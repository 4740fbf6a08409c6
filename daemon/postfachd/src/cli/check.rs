//! `postfachd check`: validate every file, print every problem, exit 1 if there is one.
//!
//! `check` validates everything `run` would, short of the network: the files, the
//! secrets from variables and files, the CA files' contents, and the plugins (it loads
//! them, so a `provider` or router that no plugin provides is found here, not at start).
#![allow(clippy::print_stderr)]

use std::collections::BTreeSet;
use std::path::Path;

use super::{CliError, output};
use crate::config::{Account, Config, ConfigError, LineCol, Located};
use crate::plugins::{PluginHost, PluginKind};

/// Validates the config directory.
pub async fn run(dir: &Path) -> Result<(), CliError> {
    let config = Config::load(dir)?;
    let accounts_dir = config.accounts_dir();
    if !accounts_dir.is_dir() {
        // `run` creates it; say so instead of failing.
        output::line(&format!("note: {} does not exist yet; postfachd run creates it", accounts_dir.display()));
    }
    let set = config.load_accounts();
    let mut errors = if accounts_dir.is_dir() { set.all_errors() } else { Vec::new() };
    if let Err(e) = config.projects() {
        errors.push(e);
    }
    for account in set.accounts.values() {
        errors.extend(account.check_environment());
    }
    match super::plugin_host(&config).await {
        Ok(host) => {
            for account in set.accounts.values() {
                errors.extend(plugin_references(account, &host));
            }
        }
        Err(e) => errors.push(ConfigError::file(&config.dir.join(crate::config::DAEMON_FILE), e.to_string())),
    }
    if errors.is_empty() {
        let ids: Vec<&str> = set.accounts.keys().map(String::as_str).collect();
        output::line(&format!(
            "ok: {} account{} ({})",
            ids.len(),
            if ids.len() == 1 { "" } else { "s" },
            if ids.is_empty() { "none".to_owned() } else { ids.join(", ") }
        ));
        return Ok(());
    }
    errors.sort_by(|a, b| (&a.path, a.at.line, a.at.col).cmp(&(&b.path, b.at.line, b.at.col)));
    errors.dedup();
    for e in &errors {
        eprintln!("{e}");
    }
    eprintln!("{} problem{} found", errors.len(), if errors.len() == 1 { "" } else { "s" });
    Err(CliError::Reported)
}

/// `provider` and `routing.plugins` must name plugins that are loaded, of the right kind.
fn plugin_references(account: &Account, host: &PluginHost) -> Vec<ConfigError> {
    let src = std::fs::read_to_string(&account.path).unwrap_or_default();
    let located = Located::new(&src);
    let at = |key: &[&str]| -> LineCol { located.value(key) };
    let list = |ids: &BTreeSet<String>| {
        if ids.is_empty() { "none".to_owned() } else { ids.iter().cloned().collect::<Vec<_>>().join(", ") }
    };
    let adapters: BTreeSet<String> = host.ids(PluginKind::ProviderAdapter).into_iter().collect();
    let routers: BTreeSet<String> = host.ids(PluginKind::Router).into_iter().collect();
    let mut errors = Vec::new();
    let provider = &account.file.provider;
    if provider != "auto" && !adapters.contains(provider) {
        errors.push(ConfigError {
            path: account.path.clone(),
            at: at(&["provider"]),
            message: format!(
                "provider = \"{provider}\" names no loaded provider adapter (loaded: {}); use one of them or \"auto\"",
                list(&adapters)
            ),
        });
    }
    if let Some(problem) = crate::oauth::endpoint_problem(host, account) {
        errors.push(ConfigError { path: account.path.clone(), at: located.key(&["oauth2"]), message: problem });
    }
    for router in &account.file.routing.plugins {
        if !routers.contains(router) {
            errors.push(ConfigError {
                path: account.path.clone(),
                at: at(&["routing", "plugins"]),
                message: format!(
                    "routing.plugins names `{router}`, which is no loaded router (loaded: {})",
                    list(&routers)
                ),
            });
        }
    }
    errors
}
