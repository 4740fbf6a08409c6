//! Routing data on PostgreSQL (see `crate::routing`): which messages to route, their
//! inputs and assignments, and applying a routing run. Applying a run belongs to the
//! account's sync, so a fenced store checks its lease first.

use std::collections::HashMap;

use postfach_model::{MessageId, Timestamp, now_unix};

use super::PgStore;
use super::events::Events;
use crate::{ApplyStats, EventKind, RouteInput, RouteResult, StoreError, Trace, parse_list};

/// The columns of a routing input: the message's, then the chosen location's folder name,
/// path and flags. `DISTINCT ON (m.id)` with this order picks the folder routers see:
/// own folders (no role) first, then the inbox, then by name.
const INPUTS: &str = "SELECT DISTINCT ON (m.id) m.id, m.message_id, m.subject, m.from_addr, m.to_addrs, m.cc_addrs,
        m.in_reply_to, m.refs, m.date, m.size, f.name, f.path, l.flags
    FROM messages m JOIN locations l ON l.message = m.id AND l.on_server JOIN folders f ON f.id = l.folder";
const INPUT_ORDER: &str = "ORDER BY m.id, (f.role IS NULL) DESC, (f.role = 'inbox') DESC, f.name";

fn input(r: &tokio_postgres::Row, account: &str) -> RouteInput {
    let flags: String = r.get(12);
    RouteInput {
        local_id: MessageId(r.get(0)),
        account: account.to_owned(),
        folder: r.get(10),
        folder_path: parse_list(r.get(11)),
        flags: flags.split_whitespace().map(str::to_owned).collect(),
        message_id: r.get(1),
        subject: r.get(2),
        from: parse_list(r.get(3)),
        to: parse_list(r.get(4)),
        cc: parse_list(r.get(5)),
        in_reply_to: r.get(6),
        references: parse_list(r.get(7)),
        date: r.get(8),
        size: r.get::<_, i64>(9) as u64,
    }
}

/// Oldest first, as the chain must see parents before replies.
fn by_date(mut inputs: Vec<RouteInput>) -> Vec<RouteInput> {
    inputs.sort_by_key(|m| (m.date.unwrap_or(i64::MIN), m.local_id));
    inputs
}

impl PgStore {
    pub(crate) async fn route_candidates(
        &self,
        account: &str,
        chain: &str,
        touched: &[i64],
    ) -> Result<(Vec<i64>, i64), StoreError> {
        let client = self.client().await?;
        let mark = client
            .query_opt("SELECT routed_chain, routed_upto FROM accounts WHERE id = $1", &[&account])
            .await
            .map_err(self.e())?;
        let (routed_chain, routed_upto): (Option<String>, i64) = mark.map_or((None, 0), |r| (r.get(0), r.get(1)));
        let from = if routed_chain.as_deref() == Some(chain) { routed_upto } else { 0 };
        let upto: i64 = client
            .query_one("SELECT COALESCE(MAX(id), 0) FROM messages WHERE account = $1", &[&account])
            .await
            .map_err(self.e())?
            .get(0);
        let rows = client
            .query(
                "SELECT m.id FROM messages m LEFT JOIN route_traces t ON t.message = m.id
                 WHERE m.account = $1 AND m.id > $3 AND (t.message IS NULL OR t.chain <> $2)",
                &[&account, &chain, &from],
            )
            .await
            .map_err(self.e())?;
        let mut ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        ids.extend_from_slice(touched);
        ids.sort_unstable();
        ids.dedup();
        Ok((ids, upto))
    }

    pub(crate) async fn mark_routed(&self, account: &str, chain: &str, upto: i64) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE accounts SET routed_chain = $2, routed_upto = $3 WHERE id = $1",
                &[&account, &chain, &upto],
            )
            .await
            .map_err(self.e())?;
        Ok(())
    }

    pub(crate) async fn route_inputs_of(&self, account: &str, ids: &[i64]) -> Result<Vec<RouteInput>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(&format!("{INPUTS} WHERE m.id = ANY($1) AND m.account = $2 {INPUT_ORDER}"), &[&ids, &account])
            .await
            .map_err(self.e())?;
        Ok(by_date(rows.iter().map(|r| input(r, account)).collect()))
    }

    pub(crate) async fn all_route_inputs(&self, account: &str) -> Result<Vec<RouteInput>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(&format!("{INPUTS} WHERE m.account = $1 {INPUT_ORDER}"), &[&account])
            .await
            .map_err(self.e())?;
        Ok(by_date(rows.iter().map(|r| input(r, account)).collect()))
    }

    pub(crate) async fn assignments(&self, ids: &[i64]) -> Result<HashMap<i64, (String, String)>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT message, project, plugin FROM assignments WHERE message = ANY($1)", &[&ids])
            .await
            .map_err(self.e())?;
        Ok(rows.iter().map(|r| (r.get(0), (r.get(1), r.get(2)))).collect())
    }

    pub(crate) async fn apply_routes(
        &self,
        account: &str,
        chain: &str,
        results: &[RouteResult],
    ) -> Result<ApplyStats, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(self.e())?;
        self.check_fence(&tx).await?;
        let now = now_unix();
        let mut stats = ApplyStats::default();
        let mut events = Events::default();
        let ids: Vec<i64> = results.iter().map(|r| r.local_id.0).collect();
        // SQLite's single writer kept a manual assignment (the API, on any node) from
        // landing between reading "no manual assignment" and overwriting the project.
        // Here a per-account lock that `set_manual_project` takes too does; one lock
        // each, so the two never deadlock (row locks would, with a batch commit linking
        // the same messages). Read after locking, so the read sees what committed.
        super::manual::lock_assignments(&tx, account).await.map_err(self.e())?;
        // Read once for the batch (one round trip, not one per message).
        let mut current: HashMap<i64, (Option<String>, bool)> = tx
            .query(
                "SELECT q.id, a.project, EXISTS (SELECT 1 FROM manual_assignments x WHERE x.message = q.id)
                 FROM unnest($1::bigint[]) AS q(id) LEFT JOIN assignments a ON a.message = q.id",
                &[&ids],
            )
            .await
            .map_err(self.e())?
            .iter()
            .map(|r| (r.get(0), (r.get(1), r.get(2))))
            .collect();
        let trace = tx
            .prepare(
                "INSERT INTO route_traces (message, chain, at, folder, steps) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (message) DO UPDATE SET chain = $2, at = $3, folder = $4, steps = $5",
            )
            .await
            .map_err(self.e())?;
        for r in results {
            let id = r.local_id.0;
            let steps = serde_json::to_string(&r.steps).unwrap_or_else(|_| "[]".into());
            tx.execute(&trace, &[&id, &chain, &now, &super::text(&r.folder), &super::text(&steps)])
                .await
                .map_err(self.e())?;
            let (now_project, manual) = current.get(&id).cloned().unwrap_or((None, false));
            // A person's decision stands; the trace still records what the routers said.
            if manual {
                continue;
            }
            match (&now_project, &r.winner) {
                (None, None) => {}
                (Some(_), None) => {
                    tx.execute("DELETE FROM assignments WHERE message = $1", &[&id]).await.map_err(self.e())?;
                    // A message listed twice sees its own earlier result, as SQLite's per-message read did.
                    current.insert(id, (None, false));
                    let detail = serde_json::json!({ "previous": now_project }).to_string();
                    events.push(account, EventKind::Unrouted, Some(id), Some(detail), now);
                    stats.unrouted += 1;
                }
                (old, Some((project, plugin, reason))) => {
                    tx.execute(
                        "INSERT INTO assignments (message, project, plugin, reason, at) VALUES ($1, $2, $3, $4, $5)
                         ON CONFLICT (message) DO UPDATE SET project = $2, plugin = $3, reason = $4, at = $5",
                        &[&id, &super::text(project), &super::text(plugin), &super::text(reason), &now],
                    )
                    .await
                    .map_err(self.e())?;
                    current.insert(id, (Some(project.clone()), false));
                    match old {
                        None => {
                            let detail = serde_json::json!({ "project": project, "plugin": plugin }).to_string();
                            events.push(account, EventKind::Routed, Some(id), Some(detail), now);
                            stats.routed += 1;
                        }
                        Some(previous) if previous != project => {
                            let detail =
                                serde_json::json!({ "project": project, "previous": previous, "plugin": plugin })
                                    .to_string();
                            events.push(account, EventKind::Reassigned, Some(id), Some(detail), now);
                            stats.reassigned += 1;
                        }
                        Some(_) => {}
                    }
                }
            }
        }
        events.write(&tx).await.map_err(self.e())?;
        tx.commit().await.map_err(self.e())?;
        Ok(stats)
    }

    pub(crate) async fn project_of(&self, message_id: &str) -> Result<Option<String>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT a.project FROM messages m JOIN assignments a ON a.message = m.id
                 WHERE m.message_id = $1 ORDER BY a.at LIMIT 1",
                &[&super::text(message_id)],
            )
            .await
            .map_err(self.e())?;
        Ok(row.map(|r| r.get(0)))
    }

    pub(crate) async fn trace(&self, local_id: i64) -> Result<Option<Trace>, StoreError> {
        let manual = self.manual_project(local_id).await?;
        let client = self.client().await?;
        let found = client
            .query_opt(
                "SELECT m.account, t.folder, t.at, t.steps FROM route_traces t JOIN messages m ON m.id = t.message
                 WHERE t.message = $1",
                &[&local_id],
            )
            .await
            .map_err(self.e())?;
        match (found, manual) {
            (Some(r), manual) => Ok(Some(Trace {
                account: r.get(0),
                folder: r.get(1),
                at: Timestamp(r.get(2)),
                steps: serde_json::from_str(r.get(3)).unwrap_or_default(),
                manual,
            })),
            (None, Some(manual)) => {
                let account: String = client
                    .query_one("SELECT account FROM messages WHERE id = $1", &[&local_id])
                    .await
                    .map_err(self.e())?
                    .get(0);
                Ok(Some(Trace { account, folder: None, at: manual.at, steps: Vec::new(), manual: Some(manual) }))
            }
            (None, None) => Ok(None),
        }
    }

    pub(crate) async fn forget_routing(&self, account: &str) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM route_traces WHERE message IN (SELECT id FROM messages WHERE account = $1)",
                &[&account],
            )
            .await
            .map_err(self.e())?;
        Ok(())
    }

    pub(crate) async fn projects(&self) -> Result<Vec<(String, String, u64)>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT a.project, m.account, COUNT(*) FROM assignments a JOIN messages m ON m.id = a.message
                 GROUP BY a.project, m.account ORDER BY a.project, m.account",
                &[],
            )
            .await
            .map_err(self.e())?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get::<_, i64>(2) as u64)).collect())
    }
}
