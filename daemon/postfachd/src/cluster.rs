//! This daemon as a node of a cluster (`[store] url` on PostgreSQL): it joins under its
//! `[cluster] node_id`, and every third of the lease time a tick renews its leases,
//! claims its fair share of free ones and gives back the excess (see
//! [`crate::store::postgres::leases`]). The supervisor runs exactly the accounts held.
//!
//! Safety does not depend on the ticks being on time. Each tick says until when its
//! leases are surely valid (a local instant taken before the renewal was sent); when
//! that passes without a successful tick — the database is unreachable, or the process
//! was paused — every account stops at once, before any other node may claim them. A
//! write that still slips through carries its lease's epoch and is refused by the
//! database ([`crate::store::StoreError::Fenced`]).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tracing::{info, warn};

use crate::config::Config;
use crate::store::postgres::Postgres;
use crate::store::postgres::leases::Node;
use crate::store::{Store, StoreError};
use crate::supervisor::Supervisor;

/// Why the daemon cannot take part in the cluster.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// `[store] password` could not be resolved (file missing, command failed).
    #[error("store.password: {0}")]
    Password(String),
    /// The database refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Connects to the PostgreSQL store of `[store] url` with `[store] password`; `None`
/// when the config keeps the store in SQLite.
pub async fn connect(config: &Config) -> Result<Option<Postgres>, ClusterError> {
    let Some(url) = config.daemon.store.url.clone() else { return Ok(None) };
    Ok(Some(connect_to(config, &url).await?))
}

/// Connects to `url` with `[store] password` when it is set (else the URL's own).
pub async fn connect_to(config: &Config, url: &str) -> Result<Postgres, ClusterError> {
    let password = match config.daemon.store.password.clone() {
        Some(source) => {
            let base = config.dir.clone();
            let timeout = Duration::from_secs(crate::config::DEFAULT_TIMEOUT_SECS);
            let secret = tokio::task::spawn_blocking(move || source.resolve(&base, timeout))
                .await
                .map_err(|e| ClusterError::Password(e.to_string()))?
                .map_err(|e| ClusterError::Password(e.to_string()))?;
            Some(secret)
        }
        None => None,
    };
    Ok(Postgres::connect(url, password.as_ref().map(|s| s.expose())).await?)
}

/// This node's id: `[cluster] node_id`, else the host name.
pub fn node_id(config: &Config) -> String {
    config.daemon.cluster.node_id.clone().unwrap_or_else(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "postfachd".to_owned())
    })
}

/// The node's membership: its row, its leases and the deadline they are good until.
pub struct Membership {
    node: Node,
    valid_until: Option<Instant>,
}

impl Membership {
    /// Joins the cluster on `store`'s database; `None` for a SQLite store.
    pub async fn join(config: &Config, store: &Store, supervisor: &mut Supervisor) -> Result<Option<Self>, StoreError> {
        let Some(pg) = store.postgres() else { return Ok(None) };
        let id = node_id(config);
        let lease = Duration::from_secs(u64::from(config.daemon.cluster.lease_secs));
        let node = Node::join(pg, &id, lease, &supervisor.config_digest()).await?;
        supervisor.join_cluster(&id);
        info!(node = %id, lease_secs = lease.as_secs(), "joined the cluster");
        Ok(Some(Membership { node, valid_until: None }))
    }

    /// How often to tick: a third of the lease, so two ticks may fail before it runs out.
    pub fn interval(&self) -> Duration {
        self.node.lease_time() / 3
    }

    /// When the held leases stop being certain, if any are held.
    pub fn valid_until(&self) -> Option<Instant> {
        self.valid_until
    }

    /// One round: renew, claim, give back; then brings the running accounts in line,
    /// and wakes `outbox` when accounts were taken over (their queued mail is this
    /// node's to send now). Fails only when the daemon must stop (another process took
    /// this node's id).
    pub async fn tick(&mut self, supervisor: &mut Supervisor, outbox: &Notify) -> Result<(), StoreError> {
        self.node.set_config_digest(&supervisor.config_digest());
        match self.node.tick(&supervisor.configured()).await {
            Ok(tick) => {
                if !tick.lost.is_empty() {
                    warn!(accounts = ?tick.lost, "leases lost to another node; stopped those accounts here");
                }
                if !tick.claimed.is_empty() {
                    info!(
                        claimed = tick.claimed.len(),
                        live_nodes = tick.live_nodes,
                        fair_share = tick.fair_share,
                        "claimed account leases"
                    );
                }
                let excess: HashSet<&String> = tick.excess.iter().collect();
                let keep: Vec<_> = tick.held.iter().filter(|l| !excess.contains(&l.account)).cloned().collect();
                // Stop first, give back afterwards: two nodes never work one account.
                supervisor.set_leases(&keep).await;
                if !tick.excess.is_empty() {
                    info!(accounts = tick.excess.len(), "giving back accounts above the fair share");
                    if let Err(e) = self.node.release(&tick.excess).await {
                        warn!(error = %e, "cannot give back leases; they expire by themselves");
                    }
                }
                self.valid_until = (!keep.is_empty()).then_some(tick.valid_until);
                if !tick.claimed.is_empty() {
                    outbox.notify_one();
                }
                Ok(())
            }
            Err(e @ StoreError::NodeReplaced { .. }) => {
                supervisor.drop_all_leases().await;
                self.valid_until = None;
                Err(e)
            }
            Err(e) => {
                // The leases may still be valid until `valid_until`; the deadline stops
                // the accounts if no tick succeeds by then.
                warn!(error = %e, "cluster heartbeat failed; retrying");
                Ok(())
            }
        }
    }

    /// The leases may have expired (no successful tick in time): stops every account.
    pub async fn expire(&mut self, supervisor: &mut Supervisor) {
        warn!("leases not renewed in time (database unreachable, or this process was paused); stopping every account");
        supervisor.drop_all_leases().await;
        self.valid_until = None;
    }

    /// Gives back every lease on shutdown, after the accounts have stopped.
    pub async fn leave(self) {
        if let Err(e) = self.node.leave().await {
            warn!(error = %e, "cannot leave the cluster cleanly; the leases expire by themselves");
        }
    }
}
