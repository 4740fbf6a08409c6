//! Local changes waiting for the server: flags set or cleared (`postfachd mark`),
//! deletions and spam moves. They are applied in the order they were made by whoever
//! holds the account's connection (the daemon, or the command itself when no daemon
//! runs), before the server's state is read again.

use rusqlite::{Connection, OptionalExtension, params};

use crate::model::now_unix;

/// What a change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Add and remove flags (`+FLAGS` / `-FLAGS`; other flags are left alone).
    Flags,
    /// Move to the trash (or, in the trash, delete for good).
    Delete,
    /// Move to the junk folder.
    Spam,
    /// Move from the junk folder to the inbox.
    NotSpam,
}

impl Op {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Flags => "flags",
            Op::Delete => "delete",
            Op::Spam => "spam",
            Op::NotSpam => "not-spam",
        }
    }

    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "flags" => Op::Flags,
            "delete" => Op::Delete,
            "spam" => Op::Spam,
            "not-spam" => Op::NotSpam,
            _ => return None,
        })
    }
}

/// A change, pending or done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Local id of the change.
    pub id: i64,
    /// Account id.
    pub account: String,
    /// Local id of the message.
    pub message: i64,
    /// What to do.
    pub op: Op,
    /// Flags to add.
    pub add: Vec<String>,
    /// Flags to remove.
    pub remove: Vec<String>,
    /// `pending`, `done` or `failed`.
    pub state: String,
    /// Attempts so far.
    pub attempts: u32,
    /// What happened (the server's words on failure).
    pub result: Option<String>,
}

fn split(s: String) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Change> {
    let op: String = r.get(3)?;
    Ok(Change {
        id: r.get(0)?,
        account: r.get(1)?,
        message: r.get(2)?,
        op: Op::parse(&op).unwrap_or(Op::Flags),
        add: split(r.get(4)?),
        remove: split(r.get(5)?),
        state: r.get(6)?,
        attempts: r.get(7)?,
        result: r.get(8)?,
    })
}

const COLUMNS: &str = "id, account, message, op, add_flags, remove_flags, state, attempts, result";

/// Records a change; returns its id.
pub fn enqueue(
    conn: &Connection,
    account: &str,
    message: i64,
    op: Op,
    add: &[String],
    remove: &[String],
) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO changes (account, message, op, add_flags, remove_flags, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![account, message, op.as_str(), add.join(" "), remove.join(" "), now_unix()],
    )?;
    Ok(conn.last_insert_rowid())
}

/// An account's pending changes, oldest first.
pub fn pending(conn: &Connection, account: &str) -> rusqlite::Result<Vec<Change>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM changes WHERE account = ?1 AND state = 'pending' ORDER BY id"
    ))?;
    let rows = stmt.query_map([account], row)?;
    rows.collect()
}

/// One change.
pub fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<Change>> {
    conn.query_row(&format!("SELECT {COLUMNS} FROM changes WHERE id = ?1"), [id], row).optional()
}

/// Records the outcome of an attempt: `done`, `failed`, or still `pending` (tried again
/// at the next pass).
pub fn finish(conn: &Connection, id: i64, state: &str, result: &str) -> rusqlite::Result<()> {
    let done_at = (state != "pending").then(now_unix);
    conn.execute(
        "UPDATE changes SET state = ?2, result = ?3, attempts = attempts + 1, done_at = ?4 WHERE id = ?1",
        params![id, state, result, done_at],
    )?;
    Ok(())
}
