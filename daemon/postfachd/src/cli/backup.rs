//! `postfachd backup --to FILE` and `postfachd restore --from FILE`: a consistent copy of
//! the live store (the daemon may keep running and writing), and putting one back (only
//! while no daemon holds the store), each checked against SQLite's integrity check and
//! every message source's hash. `postfachd store copy --to …` moves the store between
//! SQLite and PostgreSQL.

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

/// Copies the store into an empty one on the other backend (`store copy --to`).
pub async fn copy(config: &Config, to: &str, json: bool) -> Result<(), CliError> {
    use crate::store::postgres::copy;
    let to_postgres = to.starts_with("postgres://") || to.starts_with("postgresql://");
    let report = match (crate::cluster::connect(config).await?, to_postgres) {
        (None, true) => {
            let store = config.store_path();
            if !store.exists() {
                return Err(CliError::Backup(format!("there is no store at {} to copy", store.display())));
            }
            if crate::daemon::is_running(&config.data_dir()) {
                return Err(CliError::Backup(format!(
                    "a daemon is running on {}; stop it first, so that nothing changes during the copy",
                    config.data_dir().display()
                )));
            }
            copy::sqlite_to_postgres(&store, &crate::cluster::connect_to(config, to).await?).await?
        }
        (Some(source), false) => {
            let live = crate::store::postgres::leases::status(
                &source,
                std::time::Duration::from_secs(u64::from(config.daemon.cluster.lease_secs)),
            )
            .await?
            .nodes
            .into_iter()
            .filter(|n| n.live)
            .map(|n| n.id)
            .collect::<Vec<_>>();
            if !live.is_empty() {
                return Err(CliError::Backup(format!(
                    "nodes are running on {} ({}); stop them first, so that nothing changes during the copy",
                    source.target(),
                    live.join(", ")
                )));
            }
            copy::postgres_to_sqlite(&source, Path::new(to)).await?
        }
        (None, false) => {
            return Err(CliError::Backup(format!(
                "the store is SQLite already; copy it to PostgreSQL with --to postgres://user@host/database \
                 (or back it up with `postfachd backup --to {to}`)"
            )));
        }
        (Some(_), true) => {
            return Err(CliError::Backup(
                "the store is on PostgreSQL already; copy it to a new SQLite file with --to FILE".into(),
            ));
        }
    };
    if json {
        output::json(&serde_json::json!({
            "to": crate::store::postgres::redact(to),
            "tables": report.tables.iter().map(|(t, n)| serde_json::json!({ "table": t, "rows": n })).collect::<Vec<_>>(),
            "blobs_verified": report.blobs_verified,
        }));
    } else {
        let rows: Vec<String> = report.tables.iter().filter(|(_, n)| *n > 0).map(|(t, n)| format!("{n} {t}")).collect();
        output::line(&format!(
            "copied to {}: {}; every table's rows counted on both sides, {} message sources checked against their hash",
            crate::store::postgres::redact(to),
            if rows.is_empty() { "nothing (the store is empty)".to_owned() } else { rows.join(", ") },
            report.blobs_verified
        ));
    }
    Ok(())
}
