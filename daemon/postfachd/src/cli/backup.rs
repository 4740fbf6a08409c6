//! `postfachd backup --to FILE` and `postfachd restore --from FILE`: a consistent copy of
//! the live store (the daemon may keep running and writing), and putting one back (only
//! while no daemon holds the store), each checked against SQLite's integrity check and
//! every message source's hash.

use std::path::Path;

use super::{CliError, output};
use crate::config::Config;
use crate::store::CopyReport;

fn print(what: &str, file: &Path, r: &CopyReport, json: bool) {
    if json {
        let mut v = serde_json::to_value(r).unwrap_or_default();
        v["file"] = serde_json::Value::String(file.display().to_string());
        output::json(&v);
    } else {
        output::line(&format!(
            "{what} {}: schema {}, {} messages, {} message sources (each checked against its hash), {} events, {:.1} MB",
            file.display(),
            r.schema,
            r.messages,
            r.blobs,
            r.events,
            r.bytes as f64 / 1e6
        ));
    }
}

/// Copies the store to `to` while whoever uses it goes on.
pub async fn backup(config: &Config, to: &Path, json: bool) -> Result<(), CliError> {
    let store = config.store_path();
    if !store.exists() {
        return Err(CliError::Backup(format!("there is no store at {} to back up", store.display())));
    }
    let (from, dest) = (store.clone(), to.to_owned());
    let report = tokio::task::spawn_blocking(move || crate::store::backup(&from, &dest)).await??;
    print("backed up to", to, &report, json);
    Ok(())
}

/// Puts the backup `from` in place of the store; refuses while a daemon runs on it.
pub async fn restore(config: &Config, from: &Path, json: bool) -> Result<(), CliError> {
    if crate::daemon::is_running(&config.data_dir()) {
        return Err(CliError::Backup(format!(
            "a daemon is running on {}; stop it first (systemctl stop postfach), then restore",
            config.data_dir().display()
        )));
    }
    let (src, store) = (from.to_owned(), config.store_path());
    let (report, kept) = tokio::task::spawn_blocking(move || crate::store::restore(&src, &store)).await??;
    print("restored from", from, &report, json);
    if let Some(old) = kept
        && !json
    {
        output::line(&format!("the store it replaced is kept as {}", old.display()));
    }
    Ok(())
}
