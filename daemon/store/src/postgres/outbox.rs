//! The outbox on PostgreSQL (see `crate::outbox`), shared by the nodes of a cluster.
//!
//! Each entry is sent by the node that holds its account's lease: that node has the
//! account's connections already, so the copy in Sent never means a second login from
//! another node. A claim marks the entry `sending` with the claiming node and a claim
//! expiry, taking the row with `FOR UPDATE SKIP LOCKED`, so two nodes never both claim
//! one entry and never wait for each other. An entry whose claimer died (its claim
//! expired) becomes due again; a node restarted under the same id queues its own claims
//! again at once.

use postfach_model::{Timestamp, now_unix};

use super::PgStore;
use super::events::Events;
use crate::outbox::{Entry, NewEntry, OutboxKind, OutboxState};
use crate::{EventKind, StoreError, json_list, parse_list};

/// How long a claim lasts: longer than any one attempt (connect, submit, copy to Sent).
const CLAIM_SECS: f64 = 300.0;

const COLUMNS: &str = "id, account, kind, state, message_id, subject, envelope_from, recipients, attempts,
    next_attempt_at, last_error, server_reply, created_at, sent_at, copy";

/// Entries this node may work on, with the node id as parameter `$n`: in a cluster,
/// those of the accounts it holds; without one (a single daemon, the CLI), all.
fn mine(n: usize) -> String {
    format!(
        "(${n}::text IS NULL OR EXISTS (SELECT 1 FROM leases l WHERE l.account = o.account
            AND l.holder = ${n} AND l.expires_at > clock_timestamp()))"
    )
}

/// Waiting entries, and entries whose claimer died.
const WAITING: &str = "(o.state IN ('queued', 'deferred')
    OR (o.state = 'sending' AND o.claimed_until < clock_timestamp()))";

fn row(r: &tokio_postgres::Row) -> Entry {
    Entry {
        id: r.get(0),
        account: r.get(1),
        kind: OutboxKind::parse(r.get(2)).unwrap_or(OutboxKind::Send),
        state: OutboxState::parse(r.get(3)).unwrap_or(OutboxState::Failed),
        message_id: r.get(4),
        subject: r.get(5),
        envelope_from: r.get(6),
        recipients: parse_list(r.get(7)),
        attempts: r.get::<_, i32>(8).max(0) as u32,
        next_attempt_at: Timestamp(r.get(9)),
        last_error: r.get(10),
        server_reply: r.get(11),
        created_at: Timestamp(r.get(12)),
        sent_at: r.get::<_, Option<i64>>(13).map(Timestamp),
        copy: r.get(14),
    }
}

impl PgStore {
    pub(crate) async fn enqueue_outbox(
        &self,
        e: &NewEntry,
        key: Option<(&str, &str)>,
    ) -> Result<(i64, bool), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(self.e())?;
        if let Some((key, _)) = key {
            // The unique index on the key decides between two nodes enqueueing at once.
            let existing =
                tx.query_opt("SELECT id FROM outbox WHERE idempotency_key = $1", &[&key]).await.map_err(self.e())?;
            if let Some(r) = existing {
                return Ok((r.get(0), false));
            }
        }
        let now = now_unix();
        let row = tx
            .query_opt(
                "INSERT INTO outbox (account, kind, state, message_id, subject, envelope_from, recipients, raw,
                     next_attempt_at, created_at, updated_at, idempotency_key, created_by)
                 VALUES ($1, $2, 'queued', $3, $4, $5, $6, $7, $8, $8, $8, $9, $10)
                 ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING RETURNING id",
                &[
                    &e.account,
                    &e.kind.as_str(),
                    &super::text(&e.message_id),
                    &super::opt_text(&e.subject),
                    &super::text(&e.envelope_from),
                    &super::text(&json_list(&e.recipients)),
                    &e.raw,
                    &now,
                    &key.map(|k| k.0),
                    &key.map(|k| k.1),
                ],
            )
            .await
            .map_err(self.e())?;
        let Some(row) = row else {
            // Another node enqueued under the same key in between.
            drop(tx);
            let found = self.outbox_by_key(key.map_or("", |k| k.0)).await?;
            return found.map(|e| (e.id, false)).ok_or_else(|| StoreError::Postgres {
                target: self.target().to_owned(),
                message: "the outbox entry of this idempotency key vanished while it was enqueued".into(),
            });
        };
        tx.commit().await.map_err(self.e())?;
        Ok((row.get(0), true))
    }

    pub(crate) async fn outbox_counts(&self) -> Result<Vec<(&'static str, u64)>, StoreError> {
        let client = self.client().await?;
        let rows = client.query("SELECT state, COUNT(*) FROM outbox GROUP BY state", &[]).await.map_err(self.e())?;
        let found: std::collections::HashMap<String, i64> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        Ok(OutboxState::ALL.iter().map(|s| (s.as_str(), found.get(s.as_str()).copied().unwrap_or(0) as u64)).collect())
    }

    pub(crate) async fn outbox_by_key(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        let client = self.client().await?;
        let r = client
            .query_opt(&format!("SELECT {COLUMNS} FROM outbox WHERE idempotency_key = $1"), &[&key])
            .await
            .map_err(self.e())?;
        Ok(r.as_ref().map(row))
    }

    /// One update of an entry `$1` at time `$2`; true when it applied.
    async fn outbox_update(&self, sql: &str, id: i64, more: Option<&str>) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let now = now_unix();
        let n = match more {
            Some(value) => client.execute(sql, &[&id, &now, &super::text(value)]).await,
            None => client.execute(sql, &[&id, &now]).await,
        }
        .map_err(self.e())?;
        Ok(n == 1)
    }

    pub(crate) async fn cancel_outbox(&self, id: i64) -> Result<bool, StoreError> {
        self.outbox_update(
            "UPDATE outbox SET state = 'cancelled', updated_at = $2 WHERE id = $1 AND state IN ('queued', 'deferred')",
            id,
            None,
        )
        .await
    }

    pub(crate) async fn outbox(&self) -> Result<Vec<Entry>, StoreError> {
        let client = self.client().await?;
        let rows =
            client.query(&format!("SELECT {COLUMNS} FROM outbox ORDER BY id DESC"), &[]).await.map_err(self.e())?;
        Ok(rows.iter().map(row).collect())
    }

    pub(crate) async fn outbox_entry(&self, id: i64) -> Result<Option<Entry>, StoreError> {
        let client = self.client().await?;
        let r =
            client.query_opt(&format!("SELECT {COLUMNS} FROM outbox WHERE id = $1"), &[&id]).await.map_err(self.e())?;
        Ok(r.as_ref().map(row))
    }

    pub(crate) async fn outbox_raw(&self, id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        let client = self.client().await?;
        let r = client.query_opt("SELECT raw FROM outbox WHERE id = $1", &[&id]).await.map_err(self.e())?;
        Ok(r.map(|r| r.get(0)))
    }

    pub(crate) async fn outbox_due(&self, now: i64) -> Result<Vec<Entry>, StoreError> {
        let client = self.client().await?;
        let node: Option<&str> = self.node.as_deref();
        let rows = client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM outbox o WHERE {WAITING} AND o.next_attempt_at <= $1 AND {} ORDER BY id",
                    mine(2)
                ),
                &[&now, &node],
            )
            .await
            .map_err(self.e())?;
        Ok(rows.iter().map(row).collect())
    }

    pub(crate) async fn outbox_next_due(&self) -> Result<Option<i64>, StoreError> {
        let client = self.client().await?;
        let node: Option<&str> = self.node.as_deref();
        let r = client
            .query_one(
                &format!("SELECT MIN(o.next_attempt_at) FROM outbox o WHERE {WAITING} AND {}", mine(1)),
                &[&node],
            )
            .await
            .map_err(self.e())?;
        Ok(r.get(0))
    }

    pub(crate) async fn claim_outbox(&self, id: i64) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let node: Option<&str> = self.node.as_deref();
        let n = client
            .execute(
                &format!(
                    "UPDATE outbox SET state = 'sending', attempts = attempts + 1, updated_at = $3, claimed_by = $2,
                         claimed_until = clock_timestamp() + make_interval(secs => $4)
                     WHERE id = (SELECT o.id FROM outbox o WHERE o.id = $1 AND {WAITING} FOR UPDATE SKIP LOCKED)"
                ),
                &[&id, &node, &now_unix(), &CLAIM_SECS],
            )
            .await
            .map_err(self.e())?;
        Ok(n == 1)
    }

    pub(crate) async fn recover_outbox(&self) -> Result<usize, StoreError> {
        let client = self.client().await?;
        let node: Option<&str> = self.node.as_deref();
        // Only this node's own claims (its previous run died), or claims nobody renews.
        let n = client
            .execute(
                "UPDATE outbox SET state = 'queued', updated_at = $1, claimed_by = NULL, claimed_until = NULL
                 WHERE state = 'sending'
                   AND (claimed_by IS NOT DISTINCT FROM $2 OR claimed_until < clock_timestamp())",
                &[&now_unix(), &node],
            )
            .await
            .map_err(self.e())?;
        Ok(n as usize)
    }

    pub(crate) async fn mark_sent(
        &self,
        id: i64,
        account: &str,
        state: OutboxState,
        reply: &str,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(self.e())?;
        let now = now_unix();
        tx.execute(
            "UPDATE outbox SET state = $2, server_reply = $3, last_error = NULL, sent_at = $4, updated_at = $4,
                 claimed_by = NULL, claimed_until = NULL
             WHERE id = $1",
            &[&id, &state.as_str(), &super::text(reply), &now],
        )
        .await
        .map_err(self.e())?;
        let mut events = Events::default();
        let detail = serde_json::json!({ "outbox": id, "state": state.as_str() }).to_string();
        events.push(account, EventKind::Sent, None, Some(detail), now);
        events.write(&tx).await.map_err(self.e())?;
        tx.commit().await.map_err(self.e())
    }

    pub(crate) async fn mark_deferred(&self, id: i64, error: &str, retry_at: i64) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE outbox SET state = 'deferred', last_error = $2, next_attempt_at = $3, updated_at = $4,
                     claimed_by = NULL, claimed_until = NULL
                 WHERE id = $1",
                &[&id, &super::text(error), &retry_at, &now_unix()],
            )
            .await
            .map_err(self.e())?;
        Ok(())
    }

    pub(crate) async fn mark_failed(&self, id: i64, account: &str, error: &str) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(self.e())?;
        let now = now_unix();
        tx.execute(
            "UPDATE outbox SET state = 'failed', last_error = $2, updated_at = $3, claimed_by = NULL,
                 claimed_until = NULL
             WHERE id = $1",
            &[&id, &super::text(error), &now],
        )
        .await
        .map_err(self.e())?;
        let mut events = Events::default();
        let detail = serde_json::json!({ "outbox": id, "error": error }).to_string();
        events.push(account, EventKind::Failed, None, Some(detail), now);
        events.write(&tx).await.map_err(self.e())?;
        tx.commit().await.map_err(self.e())
    }

    pub(crate) async fn set_copy(&self, id: i64, copy: &str) -> Result<(), StoreError> {
        self.outbox_update("UPDATE outbox SET copy = $3, updated_at = $2 WHERE id = $1", id, Some(copy)).await.map(drop)
    }

    pub(crate) async fn outbox_missing_copies(&self, now: i64) -> Result<Vec<Entry>, StoreError> {
        let client = self.client().await?;
        let node: Option<&str> = self.node.as_deref();
        let rows = client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM outbox o
                     WHERE kind = 'send' AND state = 'sent' AND sent_at >= $1 - 172800
                       AND ((copy LIKE 'error:%' AND updated_at <= $1 - GREATEST(10, ($1 - sent_at) / 4))
                            OR (copy IS NULL AND updated_at <= $1 - 30))
                       AND {}
                     ORDER BY id",
                    mine(2)
                ),
                &[&now, &node],
            )
            .await
            .map_err(self.e())?;
        Ok(rows.iter().map(row).collect())
    }

    pub(crate) async fn outbox_copies_missing(&self) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let node: Option<&str> = self.node.as_deref();
        let r = client
            .query_one(
                &format!(
                    "SELECT EXISTS (SELECT 1 FROM outbox o WHERE kind = 'send' AND state = 'sent'
                        AND sent_at >= $1 - 172800 AND (copy IS NULL OR copy LIKE 'error:%') AND {})",
                    mine(2)
                ),
                &[&now_unix(), &node],
            )
            .await
            .map_err(self.e())?;
        Ok(r.get(0))
    }

    pub(crate) async fn retry_outbox(&self, id: i64) -> Result<bool, StoreError> {
        self.outbox_update(
            "UPDATE outbox SET state = 'queued', next_attempt_at = $2, updated_at = $2
             WHERE id = $1 AND state IN ('failed', 'deferred')",
            id,
            None,
        )
        .await
    }
}
