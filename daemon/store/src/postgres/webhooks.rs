//! Webhook cursors on PostgreSQL (see `crate::webhooks`), shared by the nodes: one node
//! at a time delivers to an endpoint (`holder` until `held_until`, on the database's
//! clock), from the cursor the previous deliverer left, so events reach the endpoint in
//! order and without a gap when a node fails. A cursor moves only while its holder holds
//! it.

use postfach_model::{Timestamp, now_unix};

use super::PgStore;
use crate::{StoreError, WebhookCursor};

const COLUMNS: &str = "endpoint, delivered_seq, state, attempts, last_error, last_success_at, failing_since";

fn row(r: &tokio_postgres::Row) -> WebhookCursor {
    WebhookCursor {
        endpoint: r.get(0),
        delivered_seq: r.get(1),
        state: r.get(2),
        attempts: r.get::<_, i32>(3).max(0) as u32,
        last_error: r.get(4),
        last_success_at: r.get::<_, Option<i64>>(5).map(Timestamp),
        failing_since: r.get::<_, Option<i64>>(6).map(Timestamp),
    }
}

/// Only while this node holds the endpoint (or outside a cluster): `$2` is the node.
const HELD: &str = "($2::text IS NULL OR holder IS NULL OR holder = $2)";

impl PgStore {
    pub(crate) async fn webhook_cursor(&self, endpoint: &str) -> Result<WebhookCursor, StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO webhook_cursors (endpoint, delivered_seq, updated_at)
                 VALUES ($1, (SELECT seq FROM event_counter), $2) ON CONFLICT (endpoint) DO NOTHING",
                &[&endpoint, &now_unix()],
            )
            .await
            .map_err(self.e())?;
        let r = client
            .query_one(&format!("SELECT {COLUMNS} FROM webhook_cursors WHERE endpoint = $1"), &[&endpoint])
            .await
            .map_err(self.e())?;
        Ok(row(&r))
    }

    pub(crate) async fn webhook_cursors(&self) -> Result<Vec<WebhookCursor>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(&format!("SELECT {COLUMNS} FROM webhook_cursors ORDER BY endpoint"), &[])
            .await
            .map_err(self.e())?;
        Ok(rows.iter().map(row).collect())
    }

    /// Takes or renews the right to deliver to `endpoint`; false while another live
    /// node holds it.
    pub(crate) async fn hold_webhook(&self, endpoint: &str) -> Result<bool, StoreError> {
        let Some(node) = self.node.as_deref() else { return Ok(true) };
        let client = self.client().await?;
        // One statement, every 2 s per endpoint: a new endpoint's cursor starts at the
        // feed's end (as `webhook_cursor` makes it), a held one only renews.
        let n = client
            .execute(
                "INSERT INTO webhook_cursors AS w (endpoint, delivered_seq, updated_at, holder, held_until)
                 VALUES ($1, (SELECT seq FROM event_counter), $4, $2, clock_timestamp() + make_interval(secs => $3))
                 ON CONFLICT (endpoint) DO UPDATE SET holder = $2, held_until = EXCLUDED.held_until
                 WHERE w.holder IS NULL OR w.holder = $2 OR w.held_until < clock_timestamp()",
                &[&endpoint, &node, &self.hold.as_secs_f64(), &now_unix()],
            )
            .await
            .map_err(self.e())?;
        Ok(n == 1)
    }

    /// Gives up the endpoint (on shutdown), so another node continues at once.
    pub(crate) async fn release_webhooks(&self) -> Result<(), StoreError> {
        let Some(node) = self.node.as_deref() else { return Ok(()) };
        let client = self.client().await?;
        client
            .execute("UPDATE webhook_cursors SET holder = NULL, held_until = NULL WHERE holder = $1", &[&node])
            .await
            .map_err(self.e())?;
        Ok(())
    }

    pub(crate) async fn webhook_delivered(&self, endpoint: &str, seq: i64, success: bool) -> Result<(), StoreError> {
        let client = self.client().await?;
        let node: Option<&str> = self.node.as_deref();
        let sql = if success {
            format!(
                "UPDATE webhook_cursors SET delivered_seq = GREATEST(delivered_seq, $3), state = 'ok', attempts = 0,
                     last_error = NULL, last_success_at = $4, failing_since = NULL, updated_at = $4
                 WHERE endpoint = $1 AND {HELD}"
            )
        } else {
            format!(
                "UPDATE webhook_cursors SET delivered_seq = GREATEST(delivered_seq, $3), updated_at = $4
                 WHERE endpoint = $1 AND {HELD}"
            )
        };
        let n = client.execute(&sql, &[&endpoint, &node, &seq, &now_unix()]).await.map_err(self.e())?;
        if n == 0 {
            return Err(StoreError::Postgres {
                target: self.target().to_owned(),
                message: format!("webhook {endpoint}: another node delivers to it now; this node stopped"),
            });
        }
        Ok(())
    }

    pub(crate) async fn webhook_failed(
        &self,
        endpoint: &str,
        error: &str,
        failing_after_secs: i64,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        let now = now_unix();
        client
            .execute(
                "UPDATE webhook_cursors SET attempts = attempts + 1, last_error = $2,
                     failing_since = COALESCE(failing_since, $3),
                     state = CASE WHEN $3 - COALESCE(failing_since, $3) >= $4 THEN 'failing' ELSE 'retrying' END,
                     updated_at = $3
                 WHERE endpoint = $1",
                &[&endpoint, &super::text(error), &now, &failing_after_secs],
            )
            .await
            .map_err(self.e())?;
        Ok(())
    }
}
