//! Webhook cursors: per endpoint, the last event delivered and how delivery stands. The
//! cursor is durable, so a restart resumes exactly where delivery stopped.

use rusqlite::{OptionalExtension, params};

use super::StoreError;
use postfach_model::{Timestamp, now_unix};

/// How delivery to an endpoint stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookCursor {
    /// The endpoint's URL (its identity).
    pub endpoint: String,
    /// The seq of the last event delivered (or skipped as not wanted).
    pub delivered_seq: i64,
    /// `ok`, `retrying` or `failing`.
    pub state: String,
    /// Failed attempts since the last success.
    pub attempts: u32,
    /// The last failure, in the receiver's (or the network's) words.
    pub last_error: Option<String>,
    /// When an event was last delivered.
    pub last_success_at: Option<Timestamp>,
    /// Since when delivery has failed without a success in between.
    pub failing_since: Option<Timestamp>,
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<WebhookCursor> {
    Ok(WebhookCursor {
        endpoint: r.get(0)?,
        delivered_seq: r.get(1)?,
        state: r.get(2)?,
        attempts: r.get(3)?,
        last_error: r.get(4)?,
        last_success_at: r.get::<_, Option<i64>>(5)?.map(Timestamp),
        failing_since: r.get::<_, Option<i64>>(6)?.map(Timestamp),
    })
}

const COLUMNS: &str = "endpoint, delivered_seq, state, attempts, last_error, last_success_at, failing_since";

impl super::Store {
    /// The endpoint's cursor, created at the feed's current end for an endpoint seen for
    /// the first time (a new endpoint gets what happens from now on, not the history).
    pub async fn webhook_cursor(&self, endpoint: &str) -> Result<WebhookCursor, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.webhook_cursor(endpoint).await;
        }
        let endpoint = endpoint.to_owned();
        self.run(move |c| {
            c.execute(
                "INSERT OR IGNORE INTO webhook_cursors (endpoint, delivered_seq, updated_at)
                 VALUES (?1, (SELECT COALESCE(MAX(seq), 0) FROM events), ?2)",
                params![endpoint, now_unix()],
            )?;
            c.query_row(&format!("SELECT {COLUMNS} FROM webhook_cursors WHERE endpoint = ?1"), [&endpoint], row)
        })
        .await
    }

    /// Takes or renews this node's right to deliver to `endpoint`: always granted to a
    /// single daemon; in a cluster, false while another live node delivers to it.
    pub async fn hold_webhook(&self, endpoint: &str) -> Result<bool, StoreError> {
        match self.pg() {
            Some(pg) => pg.hold_webhook(endpoint).await,
            None => Ok(true),
        }
    }

    /// Gives up this node's webhook endpoints (on shutdown) so another node continues
    /// at once; nothing to do for a single daemon.
    pub async fn release_webhooks(&self) -> Result<(), StoreError> {
        match self.pg() {
            Some(pg) => pg.release_webhooks().await,
            None => Ok(()),
        }
    }

    /// Every endpoint's cursor.
    pub async fn webhook_cursors(&self) -> Result<Vec<WebhookCursor>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.webhook_cursors().await;
        }
        self.read(|c| {
            let mut stmt = c.prepare(&format!("SELECT {COLUMNS} FROM webhook_cursors ORDER BY endpoint"))?;
            let rows = stmt.query_map([], row)?;
            rows.collect()
        })
        .await
    }

    /// Moves the cursor past `seq` after a success (or after events the endpoint does not
    /// want); the state becomes `ok`.
    pub async fn webhook_delivered(&self, endpoint: &str, seq: i64, success: bool) -> Result<(), StoreError> {
        if let Some(pg) = self.pg() {
            return pg.webhook_delivered(endpoint, seq, success).await;
        }
        let endpoint = endpoint.to_owned();
        self.run(move |c| {
            let now = now_unix();
            let sql = if success {
                "UPDATE webhook_cursors SET delivered_seq = MAX(delivered_seq, ?2), state = 'ok', attempts = 0,
                     last_error = NULL, last_success_at = ?3, failing_since = NULL, updated_at = ?3
                 WHERE endpoint = ?1"
            } else {
                "UPDATE webhook_cursors SET delivered_seq = MAX(delivered_seq, ?2), updated_at = ?3 WHERE endpoint = ?1"
            };
            c.prepare_cached(sql)?.execute(params![endpoint, seq, now]).map(drop)
        })
        .await
    }

    /// Records a failed attempt; `failing` says whether the endpoint has now failed for
    /// so long that it counts as failing rather than retrying.
    pub async fn webhook_failed(&self, endpoint: &str, error: &str, failing_after_secs: i64) -> Result<(), StoreError> {
        if let Some(pg) = self.pg() {
            return pg.webhook_failed(endpoint, error, failing_after_secs).await;
        }
        let (endpoint, error) = (endpoint.to_owned(), error.to_owned());
        self.run(move |c| {
            let now = now_unix();
            let since: Option<i64> = c
                .query_row("SELECT failing_since FROM webhook_cursors WHERE endpoint = ?1", [&endpoint], |r| r.get(0))
                .optional()?
                .flatten();
            let since = since.unwrap_or(now);
            let state = if now - since >= failing_after_secs { "failing" } else { "retrying" };
            c.prepare_cached(
                "UPDATE webhook_cursors SET state = ?2, attempts = attempts + 1, last_error = ?3,
                     failing_since = ?4, updated_at = ?5 WHERE endpoint = ?1",
            )?
            .execute(params![endpoint, state, error, since, now])
            .map(drop)
        })
        .await
    }
}
