//! Account rows on PostgreSQL: the same visible state as on SQLite
//! (`crate::accounts`), shared by every node of a cluster, so `postfachd accounts` and
//! the API on any node show each account as its holder last recorded it.

use deadpool_postgres::GenericClient;
use postfach_model::{AccountState, Timestamp, now_unix};

use super::PgStore;
use super::events::Events;
use crate::{AccountRow, AccountStatus, EventKind, StoreError};

const SELECT: &str = "SELECT id, description, provider, enabled, state, last_error, last_sync, failures,
        disabled_digest, config_error, adapter FROM accounts";

fn row(r: &tokio_postgres::Row) -> AccountRow {
    let state: String = r.get(4);
    AccountRow {
        id: r.get(0),
        description: r.get(1),
        provider: r.get(2),
        enabled: r.get(3),
        state: state.parse().unwrap_or(AccountState::Stopped),
        last_error: r.get(5),
        last_sync: r.get::<_, Option<i64>>(6).map(Timestamp),
        failures: r.get::<_, i32>(7).max(0) as u32,
        disabled_digest: r.get(8),
        config_error: r.get(9),
        adapter: r.get(10),
    }
}

impl PgStore {
    pub(crate) async fn upsert_account_meta(
        &self,
        id: &str,
        description: &str,
        provider: &str,
        enabled: bool,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO accounts (id, description, provider, enabled, updated_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (id) DO UPDATE SET description = $2, provider = $3, enabled = $4, updated_at = $5",
                &[&id, &super::text(description), &provider, &enabled, &now_unix()],
            )
            .await
            .map_err(self.e())?;
        Ok(())
    }

    /// A state change; with `status`, also the error text and failure count.
    pub(crate) async fn set_account_state(
        &self,
        id: &str,
        state: AccountState,
        status: Option<&AccountStatus>,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(self.e())?;
        // A node that lost the account must not paint over its new holder's state.
        self.check_fence(&tx).await?;
        let now = now_unix();
        match status {
            Some(s) => {
                let failures = s.failures.min(i32::MAX as u32) as i32;
                tx.execute(
                    "INSERT INTO accounts (id, state, last_error, failures, updated_at) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (id) DO UPDATE SET state = $2, last_error = $3, failures = $4, updated_at = $5",
                    &[&id, &state.as_str(), &super::opt_text(&s.last_error), &failures, &now],
                )
                .await
            }
            None => {
                tx.execute(
                    "INSERT INTO accounts (id, state, updated_at) VALUES ($1, $2, $3)
                     ON CONFLICT (id) DO UPDATE SET state = $2, updated_at = $3",
                    &[&id, &state.as_str(), &now],
                )
                .await
            }
        }
        .map_err(self.e())?;
        let mut events = Events::default();
        report_state(&tx, id, now, &mut events).await.map_err(self.e())?;
        events.write(&tx).await.map_err(self.e())?;
        tx.commit().await.map_err(self.e())
    }

    /// One `UPDATE accounts SET <column> = $2 WHERE id = $1`, inserting the row first
    /// where `insert` says so.
    async fn set_account_column(
        &self,
        id: &str,
        column: &'static str,
        value: Option<&str>,
        insert: bool,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        let value = value.map(super::text);
        let done = if insert {
            let sql = format!(
                "INSERT INTO accounts (id, {column}, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (id) DO UPDATE SET {column} = $2, updated_at = $3"
            );
            client.execute(&sql, &[&id, &value, &now_unix()]).await
        } else {
            client.execute(&format!("UPDATE accounts SET {column} = $2 WHERE id = $1"), &[&id, &value]).await
        };
        done.map(drop).map_err(self.e())
    }

    pub(crate) async fn record_sync(&self, id: &str, at: i64) -> Result<(), StoreError> {
        let client = self.client().await?;
        client.execute("UPDATE accounts SET last_sync = $2 WHERE id = $1", &[&id, &at]).await.map_err(self.e())?;
        Ok(())
    }

    pub(crate) async fn set_disabled_digest(&self, id: &str, digest: Option<&str>) -> Result<(), StoreError> {
        self.set_account_column(id, "disabled_digest", digest, false).await
    }

    pub(crate) async fn set_adapter(&self, id: &str, adapter: Option<&str>) -> Result<(), StoreError> {
        self.set_account_column(id, "adapter", adapter, true).await
    }

    pub(crate) async fn set_config_error(&self, id: &str, error: Option<&str>) -> Result<(), StoreError> {
        self.set_account_column(id, "config_error", error, true).await
    }

    /// Marks running accounts `stopped`. In a cluster, only those no other live node
    /// holds: a node starting or stopping must not hide what the others are doing.
    pub(crate) async fn mark_all_stopped(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        let node: Option<&str> = self.node.as_deref();
        client
            .execute(
                "UPDATE accounts a SET state = 'stopped', updated_at = $1
                 WHERE state NOT IN ('disabled', 'config-error', 'stopped')
                   AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.account = a.id AND l.holder IS NOT NULL
                                   AND l.holder IS DISTINCT FROM $2 AND l.expires_at > clock_timestamp())",
                &[&now_unix(), &node],
            )
            .await
            .map_err(self.e())?;
        Ok(())
    }

    pub(crate) async fn accounts(&self) -> Result<Vec<AccountRow>, StoreError> {
        let client = self.client().await?;
        let rows = client.query(&format!("{SELECT} ORDER BY id"), &[]).await.map_err(self.e())?;
        Ok(rows.iter().map(row).collect())
    }

    pub(crate) async fn account(&self, id: &str) -> Result<Option<AccountRow>, StoreError> {
        let client = self.client().await?;
        let found = client.query_opt(&format!("{SELECT} WHERE id = $1"), &[&id]).await.map_err(self.e())?;
        Ok(found.as_ref().map(row))
    }
}

/// The `account-state` event of `crate::accounts::report_state`, with the same rule:
/// into a problem state, or from one back to `idle`.
async fn report_state(
    tx: &impl GenericClient,
    id: &str,
    now: i64,
    events: &mut Events,
) -> Result<(), tokio_postgres::Error> {
    let r = tx.query_one("SELECT state, reported_state, last_error FROM accounts WHERE id = $1", &[&id]).await?;
    let (state, reported, error): (String, Option<String>, Option<String>) = (r.get(0), r.get(1), r.get(2));
    let problem = |s: &str| matches!(s, "backing-off" | "auth-failed" | "disabled" | "config-error" | "failed");
    let was_problem = reported.as_deref().is_some_and(problem);
    let news = reported.as_deref() != Some(state.as_str()) && (problem(&state) || (state == "idle" && was_problem));
    if !news {
        return Ok(());
    }
    tx.execute("UPDATE accounts SET reported_state = $2 WHERE id = $1", &[&id, &state]).await?;
    let detail = serde_json::json!({ "state": state, "previous": reported, "error": error }).to_string();
    events.push(id, EventKind::AccountState, None, Some(detail), now);
    Ok(())
}
