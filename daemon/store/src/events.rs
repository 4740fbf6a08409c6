//! The event feed's kinds: what happened to a message or an outbox entry. The names are
//! the contract with applications that follow the `events` table (README, "The event
//! feed"); never rename one.

use rusqlite::{Connection, params};

use super::StoreError;
use postfach_model::{MessageId, Timestamp};

/// What an event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A message was stored for the first time (sync or import).
    NewMessage,
    /// The server's flags of a stored message changed.
    Flags,
    /// A message is on the server nowhere any more; the store keeps it.
    Removed,
    /// A message was assigned to a project.
    Routed,
    /// A message lost its project.
    Unrouted,
    /// A message moved to another project.
    Reassigned,
    /// An outbox entry was accepted by the server (or saved as a draft).
    Sent,
    /// An outbox entry failed for good.
    Failed,
    /// An account's state changed into or out of a problem state (`auth-failed`, …).
    AccountState,
}

names!(EventKind {
    NewMessage => "new-message",
    Flags => "flags",
    Removed => "removed",
    Routed => "routed",
    Unrouted => "unrouted",
    Reassigned => "reassigned",
    Sent => "sent",
    Failed => "failed",
    AccountState => "account-state",
});

/// One event of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Its position in the feed: gap-free for readers, growing in commit order.
    pub seq: i64,
    /// When it happened.
    pub at: Timestamp,
    /// The account it concerns.
    pub account: String,
    /// What happened (`new-message`, `routed`, …).
    pub kind: String,
    /// The message it concerns (local id), if any.
    pub message: Option<MessageId>,
    /// Kind-specific details as JSON text (the project, the flags, the server's words).
    pub detail: Option<String>,
}

/// Which events to read.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Only events after this seq.
    pub after: i64,
    /// At most this many.
    pub limit: usize,
    /// Only these accounts; `None` for all.
    pub accounts: Option<Vec<String>>,
}

fn read(conn: &Connection, q: &EventQuery) -> rusqlite::Result<Vec<Event>> {
    let map = |r: &rusqlite::Row<'_>| {
        Ok(Event {
            seq: r.get(0)?,
            at: Timestamp(r.get(1)?),
            account: r.get(2)?,
            kind: r.get(3)?,
            message: r.get::<_, Option<i64>>(4)?.map(MessageId),
            detail: r.get(5)?,
        })
    };
    match &q.accounts {
        None => {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, at, account, kind, message, detail FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![q.after, q.limit as i64], map)?;
            rows.collect()
        }
        Some(accounts) => {
            let list = serde_json::to_string(accounts).unwrap_or_else(|_| "[]".to_owned());
            let mut stmt = conn.prepare_cached(
                "SELECT seq, at, account, kind, message, detail FROM events
                 WHERE seq > ?1 AND account IN (SELECT value FROM json_each(?3)) ORDER BY seq LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![q.after, q.limit as i64, list], map)?;
            rows.collect()
        }
    }
}

impl super::Store {
    /// Events after a seq, oldest first.
    pub async fn events(&self, query: EventQuery) -> Result<Vec<Event>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.events(&query).await;
        }
        self.read(move |c| read(c, &query)).await
    }

    /// The newest event's seq (0 for an empty feed).
    pub async fn last_event_seq(&self) -> Result<i64, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.last_event_seq().await;
        }
        self.read(|c| c.query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0))).await
    }
}
