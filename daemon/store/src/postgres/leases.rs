//! Who syncs which account: one lease row per account with a holder, an expiry on the
//! database's clock, and an epoch, the fencing token.
//!
//! A node calls [`Node::tick`] every third of the lease time. A tick, in one round of
//! statements:
//! 1. says the node is alive (`cluster_nodes.last_seen`);
//! 2. renews exactly the leases it holds, by account *and* epoch, so a lease another
//!    node claimed in between (a new epoch) is never renewed by mistake — those come
//!    back as `lost`;
//! 3. works out its fair share, `ceil(accounts / live nodes)`, and claims free or
//!    expired leases up to it with `FOR UPDATE SKIP LOCKED` (two nodes claiming at once
//!    never wait for or take the same row), bumping the epoch;
//! 4. names the leases above the fair share (`excess`): the node stops their IMAP work
//!    and only then gives them back with [`Node::release`], so two nodes never log in to
//!    one account at the same time.
//!
//! A node that cannot renew must stop on its own: [`Tick::valid_until`] is a local
//! instant taken *before* the renewal was sent, plus the lease time minus a margin, so
//! it always passes before the database's expiry does. A write that belongs to an
//! account's sync checks its [`Lease`] in the same transaction ([`check`]) and fails
//! with [`StoreError::Fenced`] once another node holds the account.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use deadpool_postgres::GenericClient;

use super::Postgres;
use crate::StoreError;

/// The right to sync one account: its epoch is the fencing token every write carries.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Lease {
    /// The account id.
    pub account: String,
    /// The epoch the lease was claimed with; grows with every new holder.
    pub epoch: i64,
}

/// What one [`Node::tick`] found and did.
#[derive(Debug)]
pub struct Tick {
    /// Every lease this node holds now (renewed or just claimed), excess included.
    pub held: Vec<Lease>,
    /// Leases claimed by this tick: start syncing these.
    pub claimed: Vec<Lease>,
    /// Accounts this node held but could not renew (expired, or claimed by another node
    /// meanwhile): stop their IMAP work at once.
    pub lost: Vec<String>,
    /// Held accounts above the fair share, or no longer in this node's configuration:
    /// stop their IMAP work, then [`Node::release`] them.
    pub excess: Vec<String>,
    /// Until this instant the held leases are certainly valid; a node whose next tick has
    /// not succeeded by then must stop all IMAP work.
    pub valid_until: Instant,
    /// Nodes seen within the lease time, this one included.
    pub live_nodes: usize,
    /// The most accounts this node should hold.
    pub fair_share: usize,
}

/// This daemon as a member of the cluster.
pub struct Node {
    pg: Postgres,
    id: String,
    incarnation: String,
    lease: Duration,
    /// The digest of this node's account files, sent with every heartbeat.
    config_digest: std::sync::Mutex<String>,
    held: tokio::sync::Mutex<BTreeMap<String, i64>>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node").field("id", &self.id).field("lease", &self.lease).finish_non_exhaustive()
    }
}

/// One node in [`ClusterStatus`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NodeStatus {
    /// The node's id (`[cluster] node_id`).
    pub id: String,
    /// When it last renewed, as Unix seconds.
    pub last_seen: i64,
    /// Accounts it holds (leases not expired).
    pub accounts: u64,
    /// Whether it was seen within its lease time.
    pub live: bool,
    /// The digest of its account files.
    pub config_digest: String,
    /// Whether its account files are those of most live nodes; a node whose files differ
    /// syncs a different set of accounts or settings than the rest.
    pub config_matches: bool,
}

/// One account in [`ClusterStatus`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AccountLease {
    /// The account id.
    pub id: String,
    /// The node holding it; `None` while nobody does (or its lease expired).
    pub holder: Option<String>,
    /// The current epoch.
    pub epoch: i64,
}

/// The cluster as `postfachd cluster status` shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ClusterStatus {
    /// Every node that has run against this database, live or not.
    pub nodes: Vec<NodeStatus>,
    /// Every account with a lease row, by id.
    pub accounts: Vec<AccountLease>,
}

impl Node {
    /// Joins the cluster as `id` with leases of `lease`. Leases still held under this id
    /// (by an earlier run that died) are given up, so they are claimed again with a new
    /// epoch; an earlier process still running under this id notices at its next tick
    /// and stops.
    pub async fn join(pg: &Postgres, id: &str, lease: Duration, config_digest: &str) -> Result<Node, StoreError> {
        // Not a secret: it only tells two processes under one node id apart.
        let incarnation = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
        let client = pg.client().await?;
        let e = |err: tokio_postgres::Error| pg.error(&err);
        client
            .execute(
                "INSERT INTO cluster_nodes (id, started_at, last_seen, config_digest, incarnation)
                 VALUES ($1, clock_timestamp(), clock_timestamp(), $2, $3)
                 ON CONFLICT (id) DO UPDATE
                 SET started_at = clock_timestamp(), last_seen = clock_timestamp(), config_digest = $2, incarnation = $3",
                &[&id, &config_digest, &incarnation],
            )
            .await
            .map_err(e)?;
        client
            .execute("UPDATE leases SET holder = NULL, expires_at = NULL WHERE holder = $1", &[&id])
            .await
            .map_err(e)?;
        Ok(Node {
            pg: pg.clone(),
            id: id.to_owned(),
            incarnation,
            lease,
            config_digest: std::sync::Mutex::new(config_digest.to_owned()),
            held: tokio::sync::Mutex::new(BTreeMap::new()),
        })
    }

    /// This node's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Records a new digest of this node's account files (after they changed); the next
    /// heartbeat publishes it.
    pub fn set_config_digest(&self, digest: &str) {
        *self.config_digest.lock().unwrap_or_else(|p| p.into_inner()) = digest.to_owned();
    }

    /// The lease time.
    pub fn lease_time(&self) -> Duration {
        self.lease
    }

    /// The current lease of `account` as this node knows it, if it holds it.
    pub async fn lease_of(&self, account: &str) -> Option<Lease> {
        self.held.lock().await.get(account).map(|&epoch| Lease { account: account.to_owned(), epoch })
    }

    /// Heartbeat, renewal and rebalancing (see the module doc); `accounts` are the
    /// accounts in this node's configuration. On an error nothing is known to be held
    /// beyond the previous tick's `valid_until`.
    pub async fn tick(&self, accounts: &[String]) -> Result<Tick, StoreError> {
        let mut held = self.held.lock().await;
        let sent = Instant::now();
        let client = self.pg.client().await?;
        let e = |err: tokio_postgres::Error| self.pg.error(&err);
        let secs = self.lease.as_secs_f64();
        let digest = self.config_digest.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let alive = client
            .execute(
                "UPDATE cluster_nodes SET last_seen = clock_timestamp(), config_digest = $3
                 WHERE id = $1 AND incarnation = $2",
                &[&self.id, &self.incarnation, &digest],
            )
            .await
            .map_err(e)?;
        if alive == 0 {
            // Another process joined under this id: it has given up our leases.
            let lost = std::mem::take(&mut *held).into_keys().collect();
            return Err(StoreError::NodeReplaced { node: self.id.clone(), lost });
        }
        client
            .execute(
                "INSERT INTO leases (account) SELECT unnest($1::text[]) ON CONFLICT (account) DO NOTHING",
                &[&accounts],
            )
            .await
            .map_err(e)?;
        let (names, epochs): (Vec<&str>, Vec<i64>) = held.iter().map(|(a, e)| (a.as_str(), *e)).unzip();
        let renewed: HashSet<String> = client
            .query(
                "UPDATE leases l SET expires_at = clock_timestamp() + make_interval(secs => $4)
                 FROM unnest($2::text[], $3::bigint[]) AS h(account, epoch)
                 WHERE l.account = h.account AND l.epoch = h.epoch AND l.holder = $1
                   AND l.expires_at > clock_timestamp()
                 RETURNING l.account",
                &[&self.id, &names, &epochs, &secs],
            )
            .await
            .map_err(e)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let lost: Vec<String> = held.keys().filter(|a| !renewed.contains(*a)).cloned().collect();
        held.retain(|a, _| renewed.contains(a));
        let live: i64 = client
            .query_one(
                "SELECT count(*) FROM cluster_nodes
                 WHERE last_seen > clock_timestamp() - make_interval(secs => $1)",
                &[&secs],
            )
            .await
            .map_err(e)?
            .get(0);
        let live_nodes = live.max(1) as usize;
        let fair_share = accounts.len().div_ceil(live_nodes);
        let wanted: HashSet<&str> = accounts.iter().map(String::as_str).collect();
        let mine = held.keys().filter(|a| wanted.contains(a.as_str())).count();
        let mut claimed = Vec::new();
        if mine < fair_share {
            let rows = client
                .query(
                    "UPDATE leases l SET holder = $1, epoch = l.epoch + 1,
                            expires_at = clock_timestamp() + make_interval(secs => $2)
                     FROM (SELECT account FROM leases
                           WHERE account = ANY($3) AND (holder IS NULL OR expires_at <= clock_timestamp())
                           ORDER BY account LIMIT $4 FOR UPDATE SKIP LOCKED) free
                     WHERE l.account = free.account
                     RETURNING l.account, l.epoch",
                    &[&self.id, &secs, &accounts, &((fair_share - mine) as i64)],
                )
                .await
                .map_err(e)?;
            for row in rows {
                let lease = Lease { account: row.get(0), epoch: row.get(1) };
                held.insert(lease.account.clone(), lease.epoch);
                claimed.push(lease);
            }
        }
        // Accounts no longer configured here go first, then the last ones by name.
        let mut excess: Vec<String> = held.keys().filter(|a| !wanted.contains(a.as_str())).cloned().collect();
        let configured: Vec<&String> = held.keys().filter(|a| wanted.contains(a.as_str())).collect();
        if configured.len() > fair_share {
            excess.extend(configured[fair_share..].iter().map(|a| (*a).clone()));
        }
        Ok(Tick {
            held: held.iter().map(|(a, &epoch)| Lease { account: a.clone(), epoch }).collect(),
            claimed,
            lost,
            excess,
            valid_until: sent + self.lease - self.lease / 10,
            live_nodes,
            fair_share,
        })
    }

    /// Gives back leases (after their IMAP work has stopped), so another node can claim
    /// them at once instead of after their expiry.
    pub async fn release(&self, accounts: &[String]) -> Result<(), StoreError> {
        let mut held = self.held.lock().await;
        let (names, epochs): (Vec<&str>, Vec<i64>) =
            accounts.iter().filter_map(|a| held.get(a).map(|&e| (a.as_str(), e))).unzip();
        let client = self.pg.client().await?;
        client
            .execute(
                "UPDATE leases l SET holder = NULL, expires_at = NULL
                 FROM unnest($2::text[], $3::bigint[]) AS h(account, epoch)
                 WHERE l.account = h.account AND l.epoch = h.epoch AND l.holder = $1",
                &[&self.id, &names, &epochs],
            )
            .await
            .map_err(|err| self.pg.error(&err))?;
        for a in accounts {
            held.remove(a);
        }
        Ok(())
    }

    /// Leaves the cluster on shutdown: gives back every lease and stops counting as live,
    /// so the others take over at their next tick.
    pub async fn leave(&self) -> Result<(), StoreError> {
        let accounts: Vec<String> = self.held.lock().await.keys().cloned().collect();
        self.release(&accounts).await?;
        let client = self.pg.client().await?;
        client
            .execute("DELETE FROM cluster_nodes WHERE id = $1 AND incarnation = $2", &[&self.id, &self.incarnation])
            .await
            .map_err(|err| self.pg.error(&err))?;
        Ok(())
    }
}

/// Fails with [`StoreError::Fenced`] unless `lease` is still current: same holder, same
/// epoch, not expired. Called first in every transaction that writes an account's sync
/// state; the row lock it takes (`FOR SHARE`) keeps another node from claiming the lease
/// until that transaction ends.
pub(crate) async fn check(
    pg: &Postgres,
    client: &impl GenericClient,
    node: &str,
    lease: &Lease,
) -> Result<(), StoreError> {
    let current = client
        .query_opt(
            "SELECT 1 FROM leases
             WHERE account = $1 AND holder = $2 AND epoch = $3 AND expires_at > clock_timestamp()
             FOR SHARE",
            &[&lease.account, &node, &lease.epoch],
        )
        .await
        .map_err(|err| pg.error(&err))?;
    match current {
        Some(_) => Ok(()),
        None => Err(StoreError::Fenced { account: lease.account.clone(), epoch: lease.epoch }),
    }
}

impl Postgres {
    /// Whether `lease` is still current for `node` ([`check`] in a transaction of its
    /// own): before starting an account's work, and for tests.
    pub async fn check_lease(&self, node: &str, lease: &Lease) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(|e| self.error(&e))?;
        check(self, &tx, node, lease).await?;
        tx.commit().await.map_err(|e| self.error(&e))
    }
}

/// Every node and every account's holder.
pub async fn status(pg: &Postgres, lease: Duration) -> Result<ClusterStatus, StoreError> {
    let client = pg.client().await?;
    let e = |err: tokio_postgres::Error| pg.error(&err);
    let secs = lease.as_secs_f64();
    let nodes = client
        .query(
            "SELECT n.id, extract(epoch FROM n.last_seen)::bigint,
                    (SELECT count(*) FROM leases l WHERE l.holder = n.id AND l.expires_at > clock_timestamp()),
                    n.last_seen > clock_timestamp() - make_interval(secs => $1),
                    n.config_digest
             FROM cluster_nodes n ORDER BY n.id",
            &[&secs],
        )
        .await
        .map_err(e)?
        .iter()
        .map(|r| NodeStatus {
            id: r.get(0),
            last_seen: r.get(1),
            accounts: r.get::<_, i64>(2).max(0) as u64,
            live: r.get(3),
            config_digest: r.get(4),
            config_matches: true,
        })
        .collect();
    let nodes = mark_config_matches(nodes);
    let accounts = client
        .query(
            "SELECT account, CASE WHEN expires_at > clock_timestamp() THEN holder END, epoch
             FROM leases ORDER BY account",
            &[],
        )
        .await
        .map_err(e)?
        .iter()
        .map(|r| AccountLease { id: r.get(0), holder: r.get(1), epoch: r.get(2) })
        .collect();
    Ok(ClusterStatus { nodes, accounts })
}

/// Marks the nodes whose configuration digest is not the most common among live nodes
/// (a tie goes to the smaller digest, so every reader marks the same ones).
fn mark_config_matches(mut nodes: Vec<NodeStatus>) -> Vec<NodeStatus> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for n in nodes.iter().filter(|n| n.live) {
        *counts.entry(n.config_digest.as_str()).or_default() += 1;
    }
    let mut best: Option<(&str, usize)> = None;
    for (digest, count) in counts {
        if best.is_none_or(|(_, c)| count > c) {
            best = Some((digest, count));
        }
    }
    let cluster = best.map(|(d, _)| d.to_owned());
    for n in &mut nodes {
        n.config_matches = cluster.as_deref().is_none_or(|d| d == n.config_digest);
    }
    nodes
}
