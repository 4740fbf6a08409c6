//! The outbox: messages waiting to be sent (or saved as drafts), their attempts, and the
//! server's words about each.
//!
//! States: `queued` (waiting), `sending` (an attempt is running), `deferred` (the last
//! attempt failed temporarily; tried again at `next_attempt_at`), `failed` (the server
//! refused it permanently, or the outbox gave up), `sent`, and `saved` (a draft stored
//! on the server).

use rusqlite::{Connection, OptionalExtension, params};

use super::messages::event;
use super::{json_list, parse_list};
use crate::model::now_unix;

/// A message to enqueue.
#[derive(Debug, Clone)]
pub struct NewEntry {
    /// Account id.
    pub account: String,
    /// `send` or `draft`.
    pub kind: &'static str,
    /// Message-ID without brackets.
    pub message_id: String,
    /// Subject (for listings).
    pub subject: Option<String>,
    /// SMTP envelope sender.
    pub envelope_from: String,
    /// SMTP envelope recipients (To, Cc and Bcc).
    pub recipients: Vec<String>,
    /// The complete message.
    pub raw: Vec<u8>,
}

/// An outbox row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Local id.
    pub id: i64,
    /// Account id.
    pub account: String,
    /// `send` or `draft`.
    pub kind: String,
    /// State (see the module docs).
    pub state: String,
    /// Message-ID.
    pub message_id: String,
    /// Subject.
    pub subject: Option<String>,
    /// Envelope sender.
    pub envelope_from: String,
    /// Envelope recipients.
    pub recipients: Vec<String>,
    /// Attempts so far.
    pub attempts: u32,
    /// When the next attempt is due (Unix time).
    pub next_attempt_at: i64,
    /// The last failure, in the server's words.
    pub last_error: Option<String>,
    /// The server's reply to the accepted message.
    pub server_reply: Option<String>,
    /// Enqueued at.
    pub created_at: i64,
    /// Sent at.
    pub sent_at: Option<i64>,
    /// What happened to the copy in Sent (or Drafts): `appended`, `already there`,
    /// `skipped: …`, or an error.
    pub copy: Option<String>,
}

/// Enqueues a message; returns its local id.
pub fn enqueue(conn: &Connection, e: &NewEntry) -> rusqlite::Result<i64> {
    let now = now_unix();
    conn.execute(
        "INSERT INTO outbox (account, kind, state, message_id, subject, envelope_from, recipients, raw,
             next_attempt_at, created_at, updated_at)
         VALUES (?1, ?2, 'queued', ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?8)",
        params![e.account, e.kind, e.message_id, e.subject, e.envelope_from, json_list(&e.recipients), e.raw, now],
    )?;
    Ok(conn.last_insert_rowid())
}

const COLUMNS: &str = "id, account, kind, state, message_id, subject, envelope_from, recipients, attempts,
    next_attempt_at, last_error, server_reply, created_at, sent_at, copy";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    Ok(Entry {
        id: r.get(0)?,
        account: r.get(1)?,
        kind: r.get(2)?,
        state: r.get(3)?,
        message_id: r.get(4)?,
        subject: r.get(5)?,
        envelope_from: r.get(6)?,
        recipients: parse_list(&r.get::<_, String>(7)?),
        attempts: r.get(8)?,
        next_attempt_at: r.get(9)?,
        last_error: r.get(10)?,
        server_reply: r.get(11)?,
        created_at: r.get(12)?,
        sent_at: r.get(13)?,
        copy: r.get(14)?,
    })
}

/// Every entry, newest first.
pub fn list(conn: &Connection) -> rusqlite::Result<Vec<Entry>> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM outbox ORDER BY id DESC"))?;
    let rows = stmt.query_map([], row)?;
    rows.collect()
}

/// One entry.
pub fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<Entry>> {
    conn.query_row(&format!("SELECT {COLUMNS} FROM outbox WHERE id = ?1"), [id], row).optional()
}

/// The message bytes of an entry.
pub fn raw(conn: &Connection, id: i64) -> rusqlite::Result<Option<Vec<u8>>> {
    conn.query_row("SELECT raw FROM outbox WHERE id = ?1", [id], |r| r.get(0)).optional()
}

/// Entries due for an attempt, oldest first.
pub fn due(conn: &Connection, now: i64) -> rusqlite::Result<Vec<Entry>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM outbox WHERE state IN ('queued', 'deferred') AND next_attempt_at <= ?1 ORDER BY id"
    ))?;
    let rows = stmt.query_map([now], row)?;
    rows.collect()
}

/// The earliest time an entry becomes due, if any is waiting.
pub fn next_due(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    conn.query_row("SELECT MIN(next_attempt_at) FROM outbox WHERE state IN ('queued', 'deferred')", [], |r| r.get(0))
}

/// Claims an entry for an attempt: `queued`/`deferred` → `sending`. False when another
/// process took it first.
pub fn claim(conn: &Connection, id: i64) -> rusqlite::Result<bool> {
    let n = conn.execute(
        "UPDATE outbox SET state = 'sending', attempts = attempts + 1, updated_at = ?2
         WHERE id = ?1 AND state IN ('queued', 'deferred')",
        params![id, now_unix()],
    )?;
    Ok(n == 1)
}

/// After a crash, an entry left in `sending` may or may not have been accepted by the
/// server; it is queued again (at-least-once for that instant, see the README).
pub fn recover(conn: &Connection) -> rusqlite::Result<usize> {
    conn.execute("UPDATE outbox SET state = 'queued', updated_at = ?1 WHERE state = 'sending'", [now_unix()])
}

/// Records a successful delivery (or a saved draft).
pub fn mark_sent(conn: &mut Connection, id: i64, account: &str, state: &str, reply: &str) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    let now = now_unix();
    tx.execute(
        "UPDATE outbox SET state = ?2, server_reply = ?3, last_error = NULL, sent_at = ?4, updated_at = ?4 WHERE id = ?1",
        params![id, state, reply, now],
    )?;
    event(&tx, account, "sent", None, Some(&serde_json::json!({ "outbox": id, "state": state }).to_string()), now)?;
    tx.commit()
}

/// Records a temporary failure; the entry is tried again at `retry_at`.
pub fn mark_deferred(conn: &Connection, id: i64, error: &str, retry_at: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE outbox SET state = 'deferred', last_error = ?2, next_attempt_at = ?3, updated_at = ?4 WHERE id = ?1",
        params![id, error, retry_at, now_unix()],
    )?;
    Ok(())
}

/// Records a permanent failure.
pub fn mark_failed(conn: &mut Connection, id: i64, account: &str, error: &str) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    let now = now_unix();
    tx.execute(
        "UPDATE outbox SET state = 'failed', last_error = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, error, now],
    )?;
    event(&tx, account, "failed", None, Some(&serde_json::json!({ "outbox": id, "error": error }).to_string()), now)?;
    tx.commit()
}

/// Records what happened to the Sent or Drafts copy.
pub fn set_copy(conn: &Connection, id: i64, copy: &str) -> rusqlite::Result<()> {
    conn.execute("UPDATE outbox SET copy = ?2, updated_at = ?3 WHERE id = ?1", params![id, copy, now_unix()])?;
    Ok(())
}

/// Queues a failed or deferred entry again, now.
pub fn retry(conn: &Connection, id: i64) -> rusqlite::Result<bool> {
    let now = now_unix();
    let n = conn.execute(
        "UPDATE outbox SET state = 'queued', next_attempt_at = ?2, updated_at = ?2 WHERE id = ?1 AND state IN ('failed', 'deferred')",
        params![id, now],
    )?;
    Ok(n == 1)
}
