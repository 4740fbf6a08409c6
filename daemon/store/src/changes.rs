//! Local changes waiting for the server: flags set or cleared (`postfachd mark`),
//! deletions and spam moves. They are applied in the order they were made by whoever
//! holds the account's connection (the daemon, or the command itself when no daemon
//! runs), before the server's state is read again.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;
use postfach_model::MessageId;
use postfach_model::now_unix;

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
    /// Move to the folder in `target` (a decoded name, or `role:<role>`).
    Move,
}

names!(Op { Flags => "flags", Delete => "delete", Spam => "spam", NotSpam => "not-spam", Move => "move" });

/// Where a change stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeState {
    /// Not applied yet (or to be tried again after the next pass).
    Pending,
    /// Applied on the server.
    Done,
    /// Refused, or given up after three tries; `result` says why.
    Failed,
}

names!(ChangeState { Pending => "pending", Done => "done", Failed => "failed" });

/// A change, pending or done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The change's id, as `enqueue_change` returned it; ids grow in the order changes were made.
    pub id: i64,
    /// Id of the account whose connection applies the change.
    pub account: String,
    /// Local id of the message it applies to (`messages.id`).
    pub message: MessageId,
    /// The operation; only [`Op::Flags`] uses `add` and `remove`.
    pub op: Op,
    /// IMAP flags to set (`\Seen`, keywords); stored space-separated.
    pub add: Vec<String>,
    /// IMAP flags to clear, in the same form as `add`.
    pub remove: Vec<String>,
    /// Where [`Op::Move`] moves to: a folder's decoded name, or `role:<role>`.
    pub target: Option<String>,
    /// Whether it is still pending, applied, or failed for good.
    pub state: ChangeState,
    /// How often applying it was tried; after the third temporary failure it fails for good.
    pub attempts: u32,
    /// The outcome of the last attempt, in the server's words on failure; `None` before the first.
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
        message: MessageId(r.get(2)?),
        op: Op::parse(&op).unwrap_or(Op::Flags),
        add: split(r.get(4)?),
        remove: split(r.get(5)?),
        target: r.get(9)?,
        state: ChangeState::parse(&r.get::<_, String>(6)?).unwrap_or(ChangeState::Pending),
        attempts: r.get(7)?,
        result: r.get(8)?,
    })
}

const COLUMNS: &str = "id, account, message, op, add_flags, remove_flags, state, attempts, result, target";

/// Records a change; returns its id.
pub(crate) fn enqueue(
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
pub(crate) fn pending(conn: &Connection, account: &str) -> rusqlite::Result<Vec<Change>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM changes WHERE account = ?1 AND state = 'pending' ORDER BY id"
    ))?;
    let rows = stmt.query_map([account], row)?;
    rows.collect()
}

/// One change by id; `None` if there is no such change.
pub(crate) fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<Change>> {
    conn.query_row(&format!("SELECT {COLUMNS} FROM changes WHERE id = ?1"), [id], row).optional()
}

/// Records the outcome of an attempt: `done`, `failed`, or still `pending` (tried again
/// at the next pass).
pub(crate) fn finish(conn: &Connection, id: i64, state: ChangeState, result: &str) -> rusqlite::Result<()> {
    let done_at = (state != ChangeState::Pending).then(now_unix);
    conn.execute(
        "UPDATE changes SET state = ?2, result = ?3, attempts = attempts + 1, done_at = ?4 WHERE id = ?1",
        params![id, state.as_str(), result, done_at],
    )?;
    Ok(())
}

impl super::Store {
    /// Records a local change for the server; returns its id.
    pub async fn enqueue_change(
        &self,
        account: &str,
        message: MessageId,
        op: Op,
        add: &[String],
        remove: &[String],
    ) -> Result<i64, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.enqueue_change(account, message.0, op, add, remove, None).await;
        }
        let (account, add, remove) = (account.to_owned(), add.to_vec(), remove.to_vec());
        self.run(move |c| enqueue(c, &account, message.0, op, &add, &remove)).await
    }

    /// Records a move of a message to another folder (`target`: a decoded folder name,
    /// or `role:<role>`); returns the change's id.
    pub async fn enqueue_move(&self, account: &str, message: MessageId, target: &str) -> Result<i64, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.enqueue_change(account, message.0, Op::Move, &[], &[], Some(target)).await;
        }
        let (account, target) = (account.to_owned(), target.to_owned());
        self.run(move |c| {
            let id = enqueue(c, &account, message.0, Op::Move, &[], &[])?;
            c.execute("UPDATE changes SET target = ?2 WHERE id = ?1", params![id, target])?;
            Ok(id)
        })
        .await
    }

    /// An account's pending changes, oldest first.
    pub async fn pending_changes(&self, account: &str) -> Result<Vec<Change>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.pending_changes(account).await;
        }
        let account = account.to_owned();
        self.run(move |c| pending(c, &account)).await
    }

    /// One change by id; `None` if there is no such change.
    pub async fn change(&self, id: i64) -> Result<Option<Change>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.change(id).await;
        }
        self.run(move |c| get(c, id)).await
    }

    /// Records the outcome of an attempt to apply a change.
    pub async fn finish_change(&self, id: i64, state: ChangeState, result: &str) -> Result<(), StoreError> {
        if let Some(pg) = self.pg() {
            return pg.finish_change(id, state, result).await;
        }
        let result = result.to_owned();
        self.run(move |c| finish(c, id, state, &result)).await
    }
}
