//! Account rows: the visible state of each account, written by the daemon and read by
//! `postfachd accounts` from another process.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;
use postfach_model::Timestamp;
use postfach_model::{AccountState, now_unix};

/// An account as the store knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountRow {
    /// Account id: the account file's name without `.toml` (`kanzlei`).
    pub id: String,
    /// Description from the file.
    pub description: String,
    /// Provider setting from the file (an adapter id or `auto`).
    pub provider: String,
    /// The adapter actually serving the account, once known.
    pub adapter: Option<String>,
    /// `enabled` from the file.
    pub enabled: bool,
    /// The state the daemon last recorded; running states become `stopped` when it stops.
    pub state: AccountState,
    /// The last error, in the server's words where there were any.
    pub last_error: Option<String>,
    /// Unix time of the last completed sync pass.
    pub last_sync: Option<Timestamp>,
    /// Consecutive failed attempts; a good pass resets it, `max_failures` auto-disables.
    pub failures: u32,
    /// Digest of the file that got the account auto-disabled, if it is.
    pub disabled_digest: Option<String>,
    /// The current problem with the account file, if its latest version is invalid.
    pub config_error: Option<String>,
}

/// A state change to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountStatus {
    /// The state to show in `postfachd accounts`.
    pub state: AccountState,
    /// Error text to show, or `None` to clear it.
    pub last_error: Option<String>,
    /// Consecutive failed attempts so far; 0 after a good pass.
    pub failures: u32,
}

impl AccountStatus {
    /// A state without an error and without failures.
    pub fn clean(state: AccountState) -> Self {
        AccountStatus { state, last_error: None, failures: 0 }
    }
}

impl super::Store {
    /// Records the descriptive fields from an account's file.
    pub async fn upsert_account_meta(
        &self,
        id: &str,
        description: &str,
        provider: &str,
        enabled: bool,
    ) -> Result<(), StoreError> {
        if let Some(pg) = self.pg() {
            return pg.upsert_account_meta(id, description, provider, enabled).await;
        }
        let (id, description, provider) = (id.to_owned(), description.to_owned(), provider.to_owned());
        self.run(move |c| upsert_meta(c, &id, &description, &provider, enabled)).await
    }

    /// Records an account's state, error text and failure count.
    pub async fn set_account_status(&self, id: &str, status: AccountStatus) -> Result<(), StoreError> {
        if let Some(pg) = self.pg() {
            return pg.set_account_state(id, status.state, Some(&status)).await;
        }
        let id = id.to_owned();
        self.run(move |c| set_status(c, &id, &status)).await
    }

    /// Records an account's state, keeping its error text and failure count.
    pub async fn set_account_state(&self, id: &str, state: AccountState) -> Result<(), StoreError> {
        if let Some(pg) = self.pg() {
            return pg.set_account_state(id, state, None).await;
        }
        let id = id.to_owned();
        self.run(move |c| set_state(c, &id, state)).await
    }

    /// Records that a full pass completed at `at` (Unix time).
    pub async fn record_sync(&self, id: &str, at: Timestamp) -> Result<(), StoreError> {
        if let Some(pg) = self.pg() {
            return pg.record_sync(id, at.0).await;
        }
        let id = id.to_owned();
        self.run(move |c| record_sync(c, &id, at.0)).await
    }

    /// Marks the account auto-disabled for the file with this digest (`None` clears it);
    /// survives restarts until the file changes.
    pub async fn set_disabled_digest(&self, id: &str, digest: Option<&str>) -> Result<(), StoreError> {
        if let Some(pg) = self.pg() {
            return pg.set_disabled_digest(id, digest).await;
        }
        let (id, digest) = (id.to_owned(), digest.map(str::to_owned));
        self.run(move |c| set_disabled_digest(c, &id, digest.as_deref())).await
    }

    /// Records which provider adapter serves the account.
    pub async fn set_adapter(&self, id: &str, adapter: Option<&str>) -> Result<(), StoreError> {
        if let Some(pg) = self.pg() {
            return pg.set_adapter(id, adapter).await;
        }
        let (id, adapter) = (id.to_owned(), adapter.map(str::to_owned));
        self.run(move |c| set_adapter(c, &id, adapter.as_deref())).await
    }

    /// Records (or clears) the problem with the account's latest file.
    pub async fn set_config_error(&self, id: &str, error: Option<&str>) -> Result<(), StoreError> {
        if let Some(pg) = self.pg() {
            return pg.set_config_error(id, error).await;
        }
        let (id, error) = (id.to_owned(), error.map(str::to_owned));
        self.run(move |c| set_config_error(c, &id, error.as_deref())).await
    }

    /// Marks every account that was running `stopped` (daemon start after a crash, and
    /// shutdown); `disabled` and `config-error` stay, since an admin has to see them.
    pub async fn mark_all_stopped(&self) -> Result<(), StoreError> {
        if let Some(pg) = self.pg() {
            return pg.mark_all_stopped().await;
        }
        self.run(|c| mark_all_stopped(c)).await
    }

    /// Every account the store knows.
    pub async fn accounts(&self) -> Result<Vec<AccountRow>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.accounts().await;
        }
        self.run(|c| list(c)).await
    }

    /// One account by id; `None` if the store has never seen it.
    pub async fn account(&self, id: &str) -> Result<Option<AccountRow>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.account(id).await;
        }
        let id = id.to_owned();
        self.run(move |c| get(c, &id)).await
    }
}

/// Records the descriptive fields from the account file.
pub(crate) fn upsert_meta(
    conn: &Connection,
    id: &str,
    description: &str,
    provider: &str,
    enabled: bool,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO accounts (id, description, provider, enabled, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(id) DO UPDATE SET description = ?2, provider = ?3, enabled = ?4, updated_at = ?5",
        params![id, description, provider, enabled, now_unix()],
    )?;
    Ok(())
}

/// Records a state change.
pub(crate) fn set_status(conn: &Connection, id: &str, status: &AccountStatus) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO accounts (id, state, last_error, failures, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(id) DO UPDATE SET state = ?2, last_error = ?3, failures = ?4, updated_at = ?5",
        params![id, status.state.as_str(), status.last_error, status.failures, now_unix()],
    )?;
    report_state(conn, id)
}

/// Records a state change that says nothing new about errors (connecting, syncing): the
/// last error stays visible until a pass ends.
pub(crate) fn set_state(conn: &Connection, id: &str, state: AccountState) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO accounts (id, state, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(id) DO UPDATE SET state = ?2, updated_at = ?3",
        params![id, state.as_str(), now_unix()],
    )?;
    report_state(conn, id)
}

/// Emits an `account-state` event when an account's state changed in a way an
/// integrator cares about: into a problem state (`backing-off`, `auth-failed`,
/// `disabled`, `config-error`, `failed`), or from one back to `idle`. Everything else —
/// the routine round of `connecting`, `syncing` and `idle` of every pass, `stopped` when
/// a daemon stops or starts — is not news.
fn report_state(conn: &Connection, id: &str) -> rusqlite::Result<()> {
    let (state, reported, error): (String, Option<String>, Option<String>) =
        conn.query_row("SELECT state, reported_state, last_error FROM accounts WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    let problem = |s: &str| matches!(s, "backing-off" | "auth-failed" | "disabled" | "config-error" | "failed");
    let was_problem = reported.as_deref().is_some_and(problem);
    let news = reported.as_deref() != Some(state.as_str()) && (problem(&state) || (state == "idle" && was_problem));
    if !news {
        return Ok(());
    }
    let now = now_unix();
    conn.execute("UPDATE accounts SET reported_state = ?2 WHERE id = ?1", params![id, state])?;
    let detail = serde_json::json!({ "state": state, "previous": reported, "error": error }).to_string();
    conn.prepare_cached("INSERT INTO events (at, account, kind, message, detail) VALUES (?1, ?2, ?3, NULL, ?4)")?
        .execute(params![now, id, super::EventKind::AccountState.as_str(), detail])?;
    Ok(())
}

/// Records a completed sync pass.
pub(crate) fn record_sync(conn: &Connection, id: &str, at: i64) -> rusqlite::Result<()> {
    conn.execute("UPDATE accounts SET last_sync = ?2 WHERE id = ?1", params![id, at])?;
    Ok(())
}

/// Remembers (or forgets) the file digest that got the account auto-disabled.
pub(crate) fn set_disabled_digest(conn: &Connection, id: &str, digest: Option<&str>) -> rusqlite::Result<()> {
    conn.execute("UPDATE accounts SET disabled_digest = ?2 WHERE id = ?1", params![id, digest])?;
    Ok(())
}

/// Records the provider adapter serving the account.
pub(crate) fn set_adapter(conn: &Connection, id: &str, adapter: Option<&str>) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO accounts (id, adapter, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(id) DO UPDATE SET adapter = ?2",
        params![id, adapter, now_unix()],
    )?;
    Ok(())
}

/// Records (or clears) a problem with the account's latest file.
pub(crate) fn set_config_error(conn: &Connection, id: &str, error: Option<&str>) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO accounts (id, config_error, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(id) DO UPDATE SET config_error = ?2, updated_at = ?3",
        params![id, error, now_unix()],
    )?;
    Ok(())
}

/// Marks every account of a stopping daemon as stopped, keeping its last error.
pub(crate) fn mark_all_stopped(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE accounts SET state = 'stopped', updated_at = ?1
         WHERE state NOT IN ('disabled', 'config-error', 'stopped')",
        params![now_unix()],
    )?;
    Ok(())
}

/// Every account row, by id.
pub(crate) fn list(conn: &Connection) -> rusqlite::Result<Vec<AccountRow>> {
    let mut stmt = conn.prepare(
        "SELECT id, description, provider, enabled, state, last_error, last_sync, failures, disabled_digest, config_error,
                adapter
         FROM accounts ORDER BY id",
    )?;
    let rows = stmt.query_map([], row)?;
    rows.collect()
}

/// One account row.
pub(crate) fn get(conn: &Connection, id: &str) -> rusqlite::Result<Option<AccountRow>> {
    conn.query_row(
        "SELECT id, description, provider, enabled, state, last_error, last_sync, failures, disabled_digest, config_error,
                adapter
         FROM accounts WHERE id = ?1",
        [id],
        row,
    )
    .optional()
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AccountRow> {
    let state: String = r.get(4)?;
    Ok(AccountRow {
        id: r.get(0)?,
        description: r.get(1)?,
        provider: r.get(2)?,
        enabled: r.get(3)?,
        state: state.parse().unwrap_or(AccountState::Stopped),
        last_error: r.get(5)?,
        last_sync: r.get::<_, Option<i64>>(6)?.map(Timestamp),
        failures: r.get(7)?,
        disabled_digest: r.get(8)?,
        config_error: r.get(9)?,
        adapter: r.get(10)?,
    })
}
