//! The outbox: messages waiting to be sent (or saved as drafts), their attempts, and the
//! server's words about each.
//!
//! States: `queued` (waiting), `sending` (an attempt is running), `deferred` (the last
//! attempt failed temporarily; tried again at `next_attempt_at`), `failed` (the server
//! refused it permanently, or the outbox gave up), `sent`, and `saved` (a draft stored
//! on the server).

use rusqlite::{Connection, OptionalExtension, params};

use super::events::EventKind;
use super::messages::event;
use super::{StoreError, json_list, parse_list};
use postfach_model::Timestamp;
use postfach_model::now_unix;

/// What an outbox entry is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxKind {
    /// Deliver over SMTP, then keep a copy in Sent.
    Send,
    /// Store in the server's Drafts folder.
    Draft,
}

/// Where an outbox entry stands (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxState {
    /// Waiting for its first attempt.
    Queued,
    /// An attempt is running.
    Sending,
    /// The last attempt failed temporarily.
    Deferred,
    /// Refused for good, or given up.
    Failed,
    /// Accepted by the server.
    Sent,
    /// A draft stored on the server.
    Saved,
    /// Withdrawn before it was sent (`DELETE /v1/outbox/{id}`).
    Cancelled,
}

names!(OutboxKind { Send => "send", Draft => "draft" });

impl OutboxState {
    /// Every state.
    pub const ALL: [OutboxState; 7] = [
        OutboxState::Queued,
        OutboxState::Sending,
        OutboxState::Deferred,
        OutboxState::Failed,
        OutboxState::Sent,
        OutboxState::Saved,
        OutboxState::Cancelled,
    ];
}
names!(OutboxState {
    Queued => "queued",
    Sending => "sending",
    Deferred => "deferred",
    Failed => "failed",
    Sent => "sent",
    Saved => "saved",
    Cancelled => "cancelled",
});

/// A message to enqueue.
#[derive(Debug, Clone)]
pub struct NewEntry {
    /// Id of the account that sends it (its SMTP server and Sent folder are used).
    pub account: String,
    /// Send or store as a draft.
    pub kind: OutboxKind,
    /// Message-ID without brackets.
    pub message_id: String,
    /// Subject (for listings).
    pub subject: Option<String>,
    /// SMTP envelope sender (`MAIL FROM`), normally the identity's address.
    pub envelope_from: String,
    /// SMTP envelope recipients (To, Cc and Bcc).
    pub recipients: Vec<String>,
    /// The complete RFC 5322 message, sent byte for byte on every attempt.
    pub raw: Vec<u8>,
}

/// An outbox row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The entry's outbox id, as `enqueue_outbox` returned it and `postfachd outbox retry` takes it.
    pub id: i64,
    /// Id of the account that sends it.
    pub account: String,
    /// Whether to deliver it over SMTP or store it in Drafts.
    pub kind: OutboxKind,
    /// Where it stands in the outbox (see the module docs).
    pub state: OutboxState,
    /// Message-ID without brackets, fixed at enqueue time so every attempt sends the same one.
    pub message_id: String,
    /// Subject, for listings; `None` when the message has none.
    pub subject: Option<String>,
    /// SMTP envelope sender (`MAIL FROM`).
    pub envelope_from: String,
    /// SMTP envelope recipients (To, Cc and Bcc); may be empty for a draft.
    pub recipients: Vec<String>,
    /// Attempts started so far, a running one included (claiming counts it).
    pub attempts: u32,
    /// When the next attempt is due (Unix time).
    pub next_attempt_at: Timestamp,
    /// The last failure, in the server's words.
    pub last_error: Option<String>,
    /// The server's acceptance (`250 2.0.0 Ok: queued as …`), or for a draft where it was stored.
    pub server_reply: Option<String>,
    /// When it was enqueued (Unix time); `give_up_after_hours` counts from here.
    pub created_at: Timestamp,
    /// When the server accepted it or the draft was stored (Unix time); `None` until then.
    pub sent_at: Option<Timestamp>,
    /// What happened to the copy in Sent (or Drafts): `appended to …`, `already in …`,
    /// `skipped: …`, or `error: …`.
    pub copy: Option<String>,
}

/// Enqueues a message; returns its local id.
pub(crate) fn enqueue(conn: &Connection, e: &NewEntry) -> rusqlite::Result<i64> {
    let now = now_unix();
    conn.execute(
        "INSERT INTO outbox (account, kind, state, message_id, subject, envelope_from, recipients, raw,
             next_attempt_at, created_at, updated_at)
         VALUES (?1, ?2, 'queued', ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?8)",
        params![
            e.account,
            e.kind.as_str(),
            e.message_id,
            e.subject,
            e.envelope_from,
            json_list(&e.recipients),
            e.raw,
            now
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

const COLUMNS: &str = "id, account, kind, state, message_id, subject, envelope_from, recipients, attempts,
    next_attempt_at, last_error, server_reply, created_at, sent_at, copy";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    Ok(Entry {
        id: r.get(0)?,
        account: r.get(1)?,
        kind: OutboxKind::parse(&r.get::<_, String>(2)?).unwrap_or(OutboxKind::Send),
        state: OutboxState::parse(&r.get::<_, String>(3)?).unwrap_or(OutboxState::Failed),
        message_id: r.get(4)?,
        subject: r.get(5)?,
        envelope_from: r.get(6)?,
        recipients: parse_list(&r.get::<_, String>(7)?),
        attempts: r.get(8)?,
        next_attempt_at: Timestamp(r.get(9)?),
        last_error: r.get(10)?,
        server_reply: r.get(11)?,
        created_at: Timestamp(r.get(12)?),
        sent_at: r.get::<_, Option<i64>>(13)?.map(Timestamp),
        copy: r.get(14)?,
    })
}

/// Every entry, newest first.
pub(crate) fn list(conn: &Connection) -> rusqlite::Result<Vec<Entry>> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM outbox ORDER BY id DESC"))?;
    let rows = stmt.query_map([], row)?;
    rows.collect()
}

/// One entry by id; `None` if there is no such entry.
pub(crate) fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<Entry>> {
    conn.query_row(&format!("SELECT {COLUMNS} FROM outbox WHERE id = ?1"), [id], row).optional()
}

/// The message bytes of an entry.
pub(crate) fn raw(conn: &Connection, id: i64) -> rusqlite::Result<Option<Vec<u8>>> {
    conn.query_row("SELECT raw FROM outbox WHERE id = ?1", [id], |r| r.get(0)).optional()
}

/// Entries due for an attempt, oldest first.
pub(crate) fn due(conn: &Connection, now: i64) -> rusqlite::Result<Vec<Entry>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM outbox WHERE state IN ('queued', 'deferred') AND next_attempt_at <= ?1 ORDER BY id"
    ))?;
    let rows = stmt.query_map([now], row)?;
    rows.collect()
}

/// Sent messages whose Sent copy failed (`copy` starts with `error:`) or was never
/// recorded (a crash between the server's acceptance and the copy), for another try. The
/// wait grows with the message's age (a quarter of it, at least 10 s; for a
/// copy never recorded, which another process may still be writing: 30 s); after two days
/// nobody tries any more.
pub(crate) fn missing_copies(conn: &Connection, now: i64) -> rusqlite::Result<Vec<Entry>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM outbox
         WHERE kind = 'send' AND state = 'sent' AND sent_at >= ?1 - 172800
           AND ((copy LIKE 'error:%' AND updated_at <= ?1 - MAX(10, (?1 - sent_at) / 4))
                OR (copy IS NULL AND updated_at <= ?1 - 30))
         ORDER BY id"
    ))?;
    let rows = stmt.query_map([now], row)?;
    rows.collect()
}

/// The earliest time an entry becomes due, if any is waiting.
pub(crate) fn next_due(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    conn.query_row("SELECT MIN(next_attempt_at) FROM outbox WHERE state IN ('queued', 'deferred')", [], |r| r.get(0))
}

/// Claims an entry for an attempt: `queued`/`deferred` → `sending`. False when another
/// process took it first.
pub(crate) fn claim(conn: &Connection, id: i64) -> rusqlite::Result<bool> {
    let n = conn.execute(
        "UPDATE outbox SET state = 'sending', attempts = attempts + 1, updated_at = ?2
         WHERE id = ?1 AND state IN ('queued', 'deferred')",
        params![id, now_unix()],
    )?;
    Ok(n == 1)
}

/// After a crash, an entry left in `sending` may or may not have been accepted by the
/// server; it is queued again (at-least-once for that instant, see the README).
pub(crate) fn recover(conn: &Connection) -> rusqlite::Result<usize> {
    conn.execute("UPDATE outbox SET state = 'queued', updated_at = ?1 WHERE state = 'sending'", [now_unix()])
}

/// Records a successful delivery (or a saved draft).
pub(crate) fn mark_sent(
    conn: &mut Connection,
    id: i64,
    account: &str,
    state: OutboxState,
    reply: &str,
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    let now = now_unix();
    tx.execute(
        "UPDATE outbox SET state = ?2, server_reply = ?3, last_error = NULL, sent_at = ?4, updated_at = ?4 WHERE id = ?1",
        params![id, state.as_str(), reply, now],
    )?;
    let detail = serde_json::json!({ "outbox": id, "state": state.as_str() }).to_string();
    event(&tx, account, EventKind::Sent, None, Some(&detail), now)?;
    tx.commit()
}

/// Records a temporary failure; the entry is tried again at `retry_at`.
pub(crate) fn mark_deferred(conn: &Connection, id: i64, error: &str, retry_at: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE outbox SET state = 'deferred', last_error = ?2, next_attempt_at = ?3, updated_at = ?4 WHERE id = ?1",
        params![id, error, retry_at, now_unix()],
    )?;
    Ok(())
}

/// Records a permanent failure.
pub(crate) fn mark_failed(conn: &mut Connection, id: i64, account: &str, error: &str) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    let now = now_unix();
    tx.execute(
        "UPDATE outbox SET state = 'failed', last_error = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, error, now],
    )?;
    event(
        &tx,
        account,
        EventKind::Failed,
        None,
        Some(&serde_json::json!({ "outbox": id, "error": error }).to_string()),
        now,
    )?;
    tx.commit()
}

/// Records what happened to the Sent or Drafts copy.
pub(crate) fn set_copy(conn: &Connection, id: i64, copy: &str) -> rusqlite::Result<()> {
    conn.execute("UPDATE outbox SET copy = ?2, updated_at = ?3 WHERE id = ?1", params![id, copy, now_unix()])?;
    Ok(())
}

/// Enqueues a message under an idempotency key: a second call with the same key returns
/// the first call's entry instead of queueing the message again.
pub(crate) fn enqueue_once(conn: &mut Connection, e: &NewEntry, key: &str, by: &str) -> rusqlite::Result<(i64, bool)> {
    let tx = conn.transaction()?;
    let existing: Option<i64> =
        tx.query_row("SELECT id FROM outbox WHERE idempotency_key = ?1", [key], |r| r.get(0)).optional()?;
    if let Some(id) = existing {
        return Ok((id, false));
    }
    let id = enqueue(&tx, e)?;
    tx.execute("UPDATE outbox SET idempotency_key = ?2, created_by = ?3 WHERE id = ?1", params![id, key, by])?;
    tx.commit()?;
    Ok((id, true))
}

/// Withdraws a queued or deferred entry; false when it is in another state (sending,
/// sent, failed, already cancelled).
pub(crate) fn cancel(conn: &Connection, id: i64) -> rusqlite::Result<bool> {
    let n = conn.execute(
        "UPDATE outbox SET state = 'cancelled', updated_at = ?2 WHERE id = ?1 AND state IN ('queued', 'deferred')",
        params![id, now_unix()],
    )?;
    Ok(n == 1)
}

/// Queues a failed or deferred entry again, now.
pub(crate) fn retry(conn: &Connection, id: i64) -> rusqlite::Result<bool> {
    let now = now_unix();
    let n = conn.execute(
        "UPDATE outbox SET state = 'queued', next_attempt_at = ?2, updated_at = ?2 WHERE id = ?1 AND state IN ('failed', 'deferred')",
        params![id, now],
    )?;
    Ok(n == 1)
}

impl super::Store {
    /// Enqueues a message once per idempotency key (scoped by the caller, e.g. per user);
    /// returns its outbox id and whether this call queued it.
    pub async fn enqueue_outbox_once(&self, entry: NewEntry, key: &str, by: &str) -> Result<(i64, bool), StoreError> {
        if let Some(pg) = self.pg() {
            return pg.enqueue_outbox(&entry, Some((key, by))).await;
        }
        let (key, by) = (key.to_owned(), by.to_owned());
        self.run(move |c| enqueue_once(c, &entry, &key, &by)).await
    }

    /// How many entries are in each state (every state listed, zeros included).
    pub async fn outbox_counts(&self) -> Result<Vec<(&'static str, u64)>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.outbox_counts().await;
        }
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT state, COUNT(*) FROM outbox GROUP BY state")?;
            let found: std::collections::HashMap<String, i64> =
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?;
            Ok(OutboxState::ALL
                .iter()
                .map(|s| (s.as_str(), found.get(s.as_str()).copied().unwrap_or(0) as u64))
                .collect())
        })
        .await
    }

    /// The entry queued under an idempotency key, if any.
    pub async fn outbox_by_key(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.outbox_by_key(key).await;
        }
        let key = key.to_owned();
        self.run(move |c| {
            c.query_row(&format!("SELECT {COLUMNS} FROM outbox WHERE idempotency_key = ?1"), [key], row).optional()
        })
        .await
    }

    /// Withdraws a queued or deferred entry; false if it was in another state.
    pub async fn cancel_outbox(&self, id: i64) -> Result<bool, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.cancel_outbox(id).await;
        }
        self.run(move |c| cancel(c, id)).await
    }

    /// Enqueues a message; returns its outbox id.
    pub async fn enqueue_outbox(&self, entry: NewEntry) -> Result<i64, StoreError> {
        if let Some(pg) = self.pg() {
            return Ok(pg.enqueue_outbox(&entry, None).await?.0);
        }
        self.run(move |c| enqueue(c, &entry)).await
    }

    /// Every outbox entry, newest first.
    pub async fn outbox(&self) -> Result<Vec<Entry>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.outbox().await;
        }
        self.run(|c| list(c)).await
    }

    /// One outbox entry by id; `None` if there is no such entry.
    pub async fn outbox_entry(&self, id: i64) -> Result<Option<Entry>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.outbox_entry(id).await;
        }
        self.run(move |c| get(c, id)).await
    }

    /// The message bytes of an outbox entry.
    pub async fn outbox_raw(&self, id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.outbox_raw(id).await;
        }
        self.run(move |c| raw(c, id)).await
    }

    /// Entries due for an attempt at `now`, oldest first.
    pub async fn outbox_due(&self, now: Timestamp) -> Result<Vec<Entry>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.outbox_due(now.0).await;
        }
        self.run(move |c| due(c, now.0)).await
    }

    /// When the next entry becomes due, if any waits.
    pub async fn outbox_next_due(&self) -> Result<Option<Timestamp>, StoreError> {
        if let Some(pg) = self.pg() {
            return Ok(pg.outbox_next_due().await?.map(Timestamp));
        }
        Ok(self.run(|c| next_due(c)).await?.map(Timestamp))
    }

    /// Claims an entry for an attempt; false when another process took it first.
    pub async fn claim_outbox(&self, id: i64) -> Result<bool, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.claim_outbox(id).await;
        }
        self.run(move |c| claim(c, id)).await
    }

    /// Queues entries a crash left in `sending` again; returns how many.
    pub async fn recover_outbox(&self) -> Result<usize, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.recover_outbox().await;
        }
        self.run(|c| recover(c)).await
    }

    /// Records a delivery (`Sent`) or a stored draft (`Saved`) with the server's reply.
    pub async fn mark_sent(&self, id: i64, account: &str, state: OutboxState, reply: &str) -> Result<(), StoreError> {
        if let Some(pg) = self.pg() {
            return pg.mark_sent(id, account, state, reply).await;
        }
        let (account, reply) = (account.to_owned(), reply.to_owned());
        self.run(move |c| mark_sent(c, id, &account, state, &reply)).await
    }

    /// Records a temporary failure; tried again at `retry_at`.
    pub async fn mark_deferred(&self, id: i64, error: &str, retry_at: Timestamp) -> Result<(), StoreError> {
        if let Some(pg) = self.pg() {
            return pg.mark_deferred(id, error, retry_at.0).await;
        }
        let error = error.to_owned();
        self.run(move |c| mark_deferred(c, id, &error, retry_at.0)).await
    }

    /// Records a permanent failure.
    pub async fn mark_failed(&self, id: i64, account: &str, error: &str) -> Result<(), StoreError> {
        if let Some(pg) = self.pg() {
            return pg.mark_failed(id, account, error).await;
        }
        let (account, error) = (account.to_owned(), error.to_owned());
        self.run(move |c| mark_failed(c, id, &account, &error)).await
    }

    /// Records what happened to the Sent or Drafts copy.
    pub async fn set_copy(&self, id: i64, copy: &str) -> Result<(), StoreError> {
        if let Some(pg) = self.pg() {
            return pg.set_copy(id, copy).await;
        }
        let copy = copy.to_owned();
        self.run(move |c| set_copy(c, id, &copy)).await
    }

    /// Sent messages whose Sent copy should be tried again now (see [`missing_copies`]).
    pub async fn outbox_missing_copies(&self, now: Timestamp) -> Result<Vec<Entry>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.outbox_missing_copies(now.0).await;
        }
        self.run(move |c| missing_copies(c, now.0)).await
    }

    /// Whether any Sent copy from the last two days is missing (tried again later or now).
    pub async fn outbox_copies_missing(&self) -> Result<bool, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.outbox_copies_missing().await;
        }
        self.run(move |c| {
            c.query_row(
                "SELECT EXISTS (SELECT 1 FROM outbox WHERE kind = 'send' AND state = 'sent'
                    AND sent_at >= ?1 - 172800 AND (copy IS NULL OR copy LIKE 'error:%'))",
                [now_unix()],
                |r| r.get(0),
            )
        })
        .await
    }

    /// Queues a failed or deferred entry again, now; false if it was neither.
    pub async fn retry_outbox(&self, id: i64) -> Result<bool, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.retry_outbox(id).await;
        }
        self.run(move |c| retry(c, id)).await
    }
}
