//! `postfachd check`: validate every file, print every problem, exit 1 if there is one.
#![allow(clippy::print_stderr)]

use std::path::Path;

use super::{CliError, output};
use crate::config::Config;

/// Validates the config directory.
pub fn run(dir: &Path) -> Result<(), CliError> {
    let config = Config::load(dir)?;
    let set = config.load_accounts();
    let mut errors = set.all_errors();
    if let Err(e) = config.projects() {
        errors.push(e);
    }
    for account in set.accounts.values() {
        errors.extend(account.check_environment());
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
    for e in &errors {
        eprintln!("{e}");
    }
    eprintln!("{} problem{} found", errors.len(), if errors.len() == 1 { "" } else { "s" });
    Err(CliError::Reported)
}
