//! What the store derives from a message's content when it stores it: its thread, its
//! snippet, whether it has attachments, and its row in the full-text index (`search`).
//!
//! Parsing a message is the expensive part, so [`derive`] runs before the store's lock
//! is taken; [`write`] then records the result in the same transaction as the message,
//! so the index never lags behind the store. Messages stored by an older version (before
//! the index existed) are indexed once at open by [`index_backlog`].

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

/// The parsed, derived data of one message, ready to write.
pub(crate) use postfach_content::Indexed as Derived;

/// Parses `raw` for the index; never fails (bad MIME yields what could be read).
pub(crate) fn derive(raw: &[u8]) -> Derived {
    postfach_content::index(raw)
}

/// The thread a message belongs to. A message referring to a stored message joins that
/// message's thread (oldest reference first, so the root wins); otherwise the thread is
/// named after its root, the first of References, else In-Reply-To, else the message
/// itself. Naming a thread after its root makes the id the same whichever of its messages
/// is stored first, and across restarts, resyncs and imports.
pub(crate) fn thread_of(
    tx: &Connection,
    message_id: Option<&str>,
    in_reply_to: Option<&str>,
    references: &[String],
    identity: &str,
) -> rusqlite::Result<String> {
    thread_with(tx, None, message_id, in_reply_to, references, identity)
}

/// Like [`thread_of`], but Gmail's own thread id (`X-GM-THRID`) decides where the server
/// gives one: Gmail groups conversations even where References are missing, and its
/// users expect the grouping they see there.
pub(crate) fn thread_with(
    tx: &Connection,
    gmail: Option<u64>,
    message_id: Option<&str>,
    in_reply_to: Option<&str>,
    references: &[String],
    identity: &str,
) -> rusqlite::Result<String> {
    if let Some(id) = gmail {
        return Ok(format!("g{id:x}"));
    }
    let mut stmt = tx.prepare_cached(
        "SELECT thread_id FROM messages WHERE message_id = ?1 AND thread_id IS NOT NULL ORDER BY id LIMIT 1",
    )?;
    for parent in references.iter().map(String::as_str).chain(in_reply_to) {
        if let Some(thread) = stmt.query_row([parent], |r| r.get::<_, String>(0)).optional()? {
            return Ok(thread);
        }
    }
    let root = references.first().map(String::as_str).or(in_reply_to).or(message_id).unwrap_or(identity);
    Ok(thread_name(root))
}

/// `t` and 16 hex digits of the root's hash: short, URL-safe, and the same everywhere.
pub(crate) fn thread_name(root: &str) -> String {
    let hash = blake3::hash(root.as_bytes()).to_hex();
    format!("t{}", &hash.as_str()[..16])
}

/// Records a stored message's derived data and its index row.
pub(crate) fn write(tx: &Transaction<'_>, id: i64, thread: &str, derived: &Derived) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE messages SET thread_id = ?2, snippet = ?3, has_attachments = ?4, indexed = 1 WHERE id = ?1",
    )?
    .execute(params![id, thread, derived.snippet, derived.has_attachments])?;
    let s = &derived.search;
    tx.prepare_cached("INSERT INTO search (rowid, subject, addresses, body, attachments) VALUES (?1, ?2, ?3, ?4, ?5)")?
        .execute(params![id, s.subject, s.addresses, s.body, s.attachments])?;
    Ok(())
}

/// Messages indexed per transaction while working off the backlog.
const BACKLOG_BATCH: usize = 200;

/// Indexes every message stored before the index existed; returns how many. Runs at
/// open, in batches, each its own transaction, so an interrupted run continues where it
/// stopped.
pub(crate) fn index_backlog(conn: &mut Connection) -> rusqlite::Result<u64> {
    let mut done = 0;
    loop {
        // Selected inside the write transaction: a CLI command and the daemon opening the
        // store together must not index the same message twice.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let batch: Vec<Pending> = {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT m.id, m.message_id, m.in_reply_to, m.refs, m.identity, {}
                     FROM messages m JOIN blobs b ON b.hash = m.blob WHERE m.indexed = 0 ORDER BY m.id LIMIT ?1",
                super::blobs::COLUMNS
            ))?;
            let rows = stmt.query_map([BACKLOG_BATCH as i64], |r| {
                Ok(Pending {
                    id: r.get(0)?,
                    message_id: r.get(1)?,
                    in_reply_to: r.get(2)?,
                    references: super::parse_list(&r.get::<_, String>(3)?),
                    identity: r.get(4)?,
                    raw: super::blobs::raw_from(r, 5)?,
                })
            })?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        if batch.is_empty() {
            return Ok(done);
        }
        for m in &batch {
            let thread = thread_of(&tx, m.message_id.as_deref(), m.in_reply_to.as_deref(), &m.references, &m.identity)?;
            write(&tx, m.id, &thread, &derive(&m.raw))?;
        }
        tx.commit()?;
        done += batch.len() as u64;
    }
}

struct Pending {
    id: i64,
    message_id: Option<String>,
    in_reply_to: Option<String>,
    references: Vec<String>,
    identity: String,
    raw: Vec<u8>,
}
