//! `postfachd cluster status [--json]`: the nodes sharing the PostgreSQL store (id, when
//! last seen, accounts held) and each account's holder, read from the lease rows.

use std::time::Duration;

use serde::Serialize;

use super::{CliError, output};
use crate::config::Config;
use crate::store::postgres::Postgres;
use crate::store::postgres::leases::{self, ClusterStatus};

/// Connects to the PostgreSQL store named by `[store] url`, with `[store] password`.
pub async fn connect(config: &Config) -> Result<Postgres, CliError> {
    match crate::cluster::connect(config).await? {
        Some(pg) => Ok(pg),
        None => Err(CliError::Cluster(format!(
            "no cluster: this postfachd keeps its store in SQLite ({}); nodes of a cluster share a PostgreSQL \
             store, set with [store] url = \"postgres://…\" in postfach.toml",
            config.store_path().display()
        ))),
    }
}

/// The `--json` shape, as the design fixes it: `{"nodes":[{"id","last_seen","accounts"}],
/// "accounts":[{"id","holder","epoch"}]}`, with `live` and `config_digest` added per node.
#[derive(Serialize)]
struct Json<'a> {
    nodes: &'a [leases::NodeStatus],
    accounts: &'a [leases::AccountLease],
}

/// Prints the cluster's nodes and each account's holder.
pub async fn status(config: &Config, json: bool) -> Result<(), CliError> {
    let pg = connect(config).await?;
    let lease = Duration::from_secs(u64::from(config.daemon.cluster.lease_secs));
    let ClusterStatus { nodes, accounts } = leases::status(&pg, lease).await?;
    if json {
        output::json(&Json { nodes: &nodes, accounts: &accounts });
        return Ok(());
    }
    let now = crate::model::now_unix();
    let mut table = output::Table::new(&["NODE", "STATE", "LAST SEEN", "ACCOUNTS", "ACCOUNT FILES"]);
    for n in &nodes {
        table.row(vec![
            n.id.clone(),
            if n.live { "live" } else { "gone" }.into(),
            format!("{} s ago", (now - n.last_seen).max(0)),
            n.accounts.to_string(),
            if n.config_matches { "same as the cluster" } else { "DIFFER from the cluster's" }.into(),
        ]);
    }
    table.print();
    output::line("");
    let mut table = output::Table::new(&["ACCOUNT", "HOLDER", "EPOCH"]);
    for a in &accounts {
        table.row(vec![a.id.clone(), a.holder.clone().unwrap_or_else(|| "-".into()), a.epoch.to_string()]);
    }
    table.print();
    Ok(())
}
