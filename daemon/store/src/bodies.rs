//! Bodies of messages stored header-only (`[sync] bodies = "on-demand"`).
//!
//! Such a message's blob holds its header section and `messages.body_missing` is set; its
//! `size` is the whole message's, so identity checks by size keep working. When the body
//! arrives, the whole message becomes the blob, and the snippet, attachment flag and
//! search row are derived again from it: from then on it is like any other message.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;
use super::blobs::{self, Packed};
use super::index::{self, Derived};
use postfach_model::MessageId;

/// Where the body of a header-only message can be fetched from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodySource {
    /// The account it belongs to.
    pub account: String,
    /// The folder's name as the server spells it (for EXAMINE).
    pub folder_raw: String,
    /// The folder's decoded name, for messages.
    pub folder: String,
    /// The UIDVALIDITY the UID belongs to.
    pub uidvalidity: u32,
    /// The message's UID there.
    pub uid: u32,
}

/// Why a body could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The server's bytes are not this message: another Message-ID, or another size.
    #[error("the server's message at that UID is not the stored one ({0}); nothing stored")]
    Mismatch(String),
}

fn source(conn: &Connection, id: i64) -> rusqlite::Result<Option<BodySource>> {
    conn.prepare_cached(
        "SELECT m.account, f.raw, f.name, l.uidvalidity, l.uid
         FROM messages m JOIN locations l ON l.message = m.id AND l.on_server = 1
              JOIN folders f ON f.id = l.folder AND f.uidvalidity = l.uidvalidity
         WHERE m.id = ?1 AND m.body_missing = 1
         ORDER BY (f.role = 'inbox') DESC, f.name LIMIT 1",
    )?
    .query_row([id], |r| {
        Ok(BodySource {
            account: r.get(0)?,
            folder_raw: r.get(1)?,
            folder: r.get(2)?,
            uidvalidity: r.get(3)?,
            uid: r.get(4)?,
        })
    })
    .optional()
}

/// `(size, Message-ID)` of a header-only message; `None` when its body is stored.
fn missing(conn: &Connection, id: i64) -> rusqlite::Result<Option<(u64, Option<String>)>> {
    conn.prepare_cached("SELECT size, message_id FROM messages WHERE id = ?1 AND body_missing = 1")?
        .query_row([id], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))
        .optional()
}

fn complete(
    conn: &mut Connection,
    id: i64,
    hash: &str,
    raw_len: usize,
    derived: &Derived,
    blob: &Packed,
) -> rusqlite::Result<bool> {
    let tx = conn.transaction()?;
    let old: Option<String> = tx
        .prepare_cached("SELECT blob FROM messages WHERE id = ?1 AND body_missing = 1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    let Some(old) = old else { return Ok(false) };
    blobs::insert(&tx, hash, raw_len, blob)?;
    tx.prepare_cached("UPDATE messages SET blob = ?2, body_missing = 0 WHERE id = ?1")?.execute(params![id, hash])?;
    // The header's search row goes; the whole message's takes its place.
    tx.prepare_cached("DELETE FROM search WHERE rowid = ?1")?.execute([id])?;
    let thread: Option<String> =
        tx.prepare_cached("SELECT thread_id FROM messages WHERE id = ?1")?.query_row([id], |r| r.get(0))?;
    index::write(&tx, id, thread.as_deref().unwrap_or_default(), derived)?;
    tx.prepare_cached("DELETE FROM blobs WHERE hash = ?1 AND NOT EXISTS (SELECT 1 FROM messages WHERE blob = ?1)")?
        .execute([old])?;
    tx.commit()?;
    Ok(true)
}

impl super::Store {
    /// Where to fetch the body of a message stored header-only; `None` when its body is
    /// stored (or it is on the server nowhere any more).
    pub async fn body_source(&self, message: MessageId) -> Result<Option<BodySource>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.body_source(message.0).await;
        }
        self.read(move |c| source(c, message.0)).await
    }

    /// Whether a message is stored header-only.
    pub async fn body_missing(&self, message: MessageId) -> Result<bool, StoreError> {
        if let Some(pg) = self.pg() {
            return Ok(pg.body_missing(message.0).await?.is_some());
        }
        Ok(self.read(move |c| missing(c, message.0)).await?.is_some())
    }

    /// Stores the whole message for one stored header-only, after checking that `raw` is
    /// that message: its size, and `message_id` (the Message-ID the caller read from
    /// `raw`'s header). Returns false when the body was already there (another request
    /// stored it first).
    pub async fn complete_body(
        &self,
        message: MessageId,
        raw: Vec<u8>,
        message_id: Option<String>,
    ) -> Result<bool, BodyError> {
        let missing = match self.pg() {
            Some(pg) => pg.body_missing(message.0).await?,
            None => self.read(move |c| missing(c, message.0)).await?,
        };
        let Some((size, stored_id)) = missing else { return Ok(false) };
        if raw.len() as u64 != size {
            return Err(BodyError::Mismatch(format!("{} bytes, {size} expected", raw.len())));
        }
        if stored_id.is_some() && message_id != stored_id {
            return Err(BodyError::Mismatch(format!("Message-ID {}", message_id.unwrap_or_else(|| "missing".into()))));
        }
        self.ensure_space(raw.len() as u64)?;
        let (hash, raw_len, derived, blob) = self
            .prepare(move || {
                (blake3::hash(&raw).to_hex().to_string(), raw.len(), index::derive(&raw), blobs::pack(raw))
            })
            .await?;
        if let Some(pg) = self.pg() {
            return Ok(pg.complete_body(message.0, &hash, raw_len, &derived, &blob).await?);
        }
        Ok(self.run(move |c| complete(c, message.0, &hash, raw_len, &derived, &blob)).await?)
    }
}
