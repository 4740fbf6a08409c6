//! `postfachd plugins`: the plugins postfachd loads, with their state.

use std::collections::BTreeMap;

use super::output::{self, Table, clip};
use super::{CliError, open_store, plugin_host};
use crate::config::Config;
use crate::plugins::PluginInfo;
use crate::store;

/// Lists plugins. Loads them like the daemon does, then shows a quarantine the running
/// daemon recorded for the same file content.
pub async fn run(config: &Config, json: bool) -> Result<(), CliError> {
    let host = plugin_host(config).await?;
    let store = open_store(config).await?;
    let recorded: BTreeMap<String, store::PluginRow> =
        store.plugins().await?.into_iter().map(|r| (r.file.clone(), r)).collect();
    let plugins: Vec<PluginInfo> = host
        .list()
        .into_iter()
        .map(|mut p| {
            if let Some(r) = recorded.get(&p.file.display().to_string())
                && r.digest == p.digest
                && r.state == "quarantined"
            {
                p.state = "quarantined";
                p.reason = r.reason.clone();
                p.failures = r.failures;
            }
            p
        })
        .collect();
    if json {
        output::json(&plugins);
        return Ok(());
    }
    let mut table = Table::new(&["ID", "KIND", "API", "STATE", "FILE", "REASON"]);
    for p in &plugins {
        table.row(vec![
            p.id.clone(),
            p.kind.map_or("-", |k| k.as_str()).to_owned(),
            p.api_version.clone().unwrap_or_else(|| "-".into()),
            p.state.to_owned(),
            p.file.display().to_string(),
            clip(p.reason.as_deref().unwrap_or(""), 100),
        ]);
    }
    table.print();
    Ok(())
}
