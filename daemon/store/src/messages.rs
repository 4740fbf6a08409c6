//! Messages, their locations on the server, raw content and events.
//!
//! Identity: a message is the same message when it has the same Message-ID within an
//! account (or, without one, the same content hash). Each place it is found on the
//! server is a location `(folder, uidvalidity, uid)`. Re-finding a known identity adds or
//! re-links a location; it never creates a second message.

use std::collections::{HashMap, HashSet};

use rusqlite::{Connection, OptionalExtension, Transaction, params, params_from_iter};

use super::blobs::{self, Packed};
use super::events::EventKind;
use super::index::{self, Derived};
use super::pages::MessageSummary;
use super::{StoreError, json_list};
use postfach_model::now_unix;
use postfach_model::{BatchStats, FetchedMessage, FolderId, Link, MessageId, PassOutcome, Place, StoredIdentity};

/// UIDs already stored for a folder under its current UIDVALIDITY.
pub(crate) fn known_uids(conn: &Connection, folder: i64, uidvalidity: u32) -> rusqlite::Result<HashSet<u32>> {
    let mut stmt = conn.prepare_cached("SELECT uid FROM locations WHERE folder = ?1 AND uidvalidity = ?2")?;
    let rows = stmt.query_map(params![folder, uidvalidity], |r| r.get::<_, u32>(0))?;
    rows.collect()
}

/// Locations of a folder still marked on the server under another UIDVALIDITY.
pub(crate) fn stale_locations(conn: &Connection, folder: i64, uidvalidity: u32) -> rusqlite::Result<u64> {
    conn.query_row(
        "SELECT COUNT(*) FROM locations WHERE folder = ?1 AND uidvalidity <> ?2 AND on_server = 1",
        params![folder, uidvalidity],
        |r| r.get::<_, i64>(0).map(|n| n as u64),
    )
}

/// Whether the account has any stored message.
pub(crate) fn account_has_messages(conn: &Connection, account: &str) -> rusqlite::Result<bool> {
    conn.query_row("SELECT EXISTS(SELECT 1 FROM messages WHERE account = ?1)", [account], |r| r.get(0))
}

/// Looks up stored identities of an account.
pub(crate) fn lookup(
    conn: &Connection,
    account: &str,
    identities: &[String],
) -> rusqlite::Result<HashMap<String, StoredIdentity>> {
    let mut found = HashMap::new();
    let mut stmt = conn.prepare_cached("SELECT id, size FROM messages WHERE account = ?1 AND identity = ?2")?;
    for identity in identities {
        if let Some(hit) = stmt
            .query_row(params![account, identity], |r| {
                Ok(StoredIdentity { id: MessageId(r.get(0)?), size: r.get::<_, i64>(1)? as u64 })
            })
            .optional()?
        {
            found.insert(identity.clone(), hit);
        }
    }
    Ok(found)
}

/// What the store works out from a message before taking the writer's lock: its
/// identity, its index data and its compressed source. The raw bytes are not kept,
/// so a batch waiting for its turn holds only the compressed copy.
pub(crate) struct Prepared {
    pub(crate) identity: String,
    pub(crate) raw_len: usize,
    pub(crate) derived: Derived,
    pub(crate) blob: Packed,
}

/// Prepares `m` (CPU work: parsing, hashing, compressing); its raw bytes move into the
/// blob (kept as they are, or replaced by the compressed copy).
pub(crate) fn prepare(m: &mut FetchedMessage) -> Prepared {
    let identity = m.identity();
    let derived = index::derive(&m.raw);
    let raw_len = m.raw.len();
    Prepared { identity, raw_len, derived, blob: blobs::pack(std::mem::take(&mut m.raw)) }
}

/// Stores one batch in one transaction: new content, new messages, new or re-linked
/// locations, and `new-message` events.
pub(crate) fn commit_batch(
    conn: &mut Connection,
    account: &str,
    folder: i64,
    uidvalidity: u32,
    fetched: &[FetchedMessage],
    prepared: &[Prepared],
    links: &[Link],
) -> rusqlite::Result<BatchStats> {
    let tx = conn.transaction()?;
    let mut stats = BatchStats::default();
    let now = now_unix();
    for (m, prepared) in fetched.iter().zip(prepared) {
        let (message, existed) = upsert_message(&tx, account, m, prepared, now)?;
        let linked = link_location(&tx, folder, uidvalidity, m.uid, message, &m.flags, m.modseq)?;
        tally(&mut stats, message, existed, linked);
    }
    for l in links {
        let linked = link_location(&tx, folder, uidvalidity, l.uid, l.message.0, &l.flags, l.modseq)?;
        tally(&mut stats, l.message.0, true, linked);
    }
    tx.commit()?;
    Ok(stats)
}

/// Counts, for both backends, one message of a batch stored (`existed == false`) or
/// found again, and what linking its location did.
pub(crate) fn tally(stats: &mut BatchStats, message: i64, existed: bool, linked: Linked) {
    if !existed {
        stats.new_messages += 1;
    }
    if existed {
        match linked {
            Linked::Relinked => stats.relinked += 1,
            Linked::Added => stats.linked += 1,
            Linked::Already => {}
        }
    }
    if !existed || matches!(linked, Linked::Added) {
        stats.touched.push(MessageId(message));
    }
}

/// Stores messages from an export (`postfachd import`) without a server location; known
/// identities are skipped. Returns the local ids of the new messages and how many were
/// already stored.
pub(crate) fn import(
    conn: &mut Connection,
    account: &str,
    messages: &[FetchedMessage],
    prepared: &[Prepared],
) -> rusqlite::Result<(Vec<i64>, u64)> {
    let tx = conn.transaction()?;
    let now = now_unix();
    let (mut new, mut known) = (Vec::new(), 0);
    for (m, prepared) in messages.iter().zip(prepared) {
        match upsert_message(&tx, account, m, prepared, now)? {
            (id, false) => new.push(id),
            (_, true) => known += 1,
        }
    }
    tx.commit()?;
    Ok((new, known))
}

/// Finds the message with `m`'s identity, or stores it (content, headers, `new-message`
/// event, thread and index row). Returns its local id and whether it was stored before.
fn upsert_message(
    tx: &Transaction<'_>,
    account: &str,
    m: &FetchedMessage,
    prepared: &Prepared,
    now: i64,
) -> rusqlite::Result<(i64, bool)> {
    let identity = &prepared.identity;
    let existing: Option<i64> = tx
        .prepare_cached("SELECT id FROM messages WHERE account = ?1 AND identity = ?2")?
        .query_row(params![account, identity], |r| r.get(0))
        .optional()?;
    if let Some(id) = existing {
        return Ok((id, true));
    }
    blobs::insert(tx, &m.hash, prepared.raw_len, &prepared.blob)?;
    let h = &m.headers;
    let size = m.header_only.unwrap_or(prepared.raw_len as u64) as i64;
    tx.prepare_cached(
        "INSERT INTO messages (account, identity, message_id, subject, from_addr, to_addrs, cc_addrs,
             date, in_reply_to, refs, blob, size, internal_date, created_at, body_missing)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?
    .execute(params![
        account,
        identity,
        h.message_id,
        h.subject,
        json_list(&h.from),
        json_list(&h.to),
        json_list(&h.cc),
        h.date,
        h.in_reply_to,
        json_list(&h.references),
        m.hash,
        size,
        m.internal_date,
        now,
        m.header_only.is_some(),
    ])?;
    let id = tx.last_insert_rowid();
    let thread = index::thread_with(
        tx,
        m.gmail_thread,
        h.message_id.as_deref(),
        h.in_reply_to.as_deref(),
        &h.references,
        identity,
    )?;
    index::write(tx, id, &thread, &prepared.derived)?;
    event(tx, account, EventKind::NewMessage, Some(id), None, now)?;
    Ok((id, false))
}

/// What linking a location did.
pub(crate) enum Linked {
    /// A new location.
    Added,
    /// A stale location of the same message (an old UIDVALIDITY) now points here.
    Relinked,
    /// The location was there already.
    Already,
}

/// Points `(folder, uidvalidity, uid)` at `message`, re-using a stale location of the same
/// message in the same folder (a UIDVALIDITY reset) rather than adding a second one.
fn link_location(
    tx: &Transaction<'_>,
    folder: i64,
    uidvalidity: u32,
    uid: u32,
    message: i64,
    flags: &[String],
    modseq: Option<u64>,
) -> rusqlite::Result<Linked> {
    let flags = flags.join(" ");
    let modseq = modseq.map(|m| m as i64);
    let stale: Option<(u32, u32)> = tx
        .prepare_cached(
            "SELECT uidvalidity, uid FROM locations
             WHERE folder = ?1 AND message = ?2 AND uidvalidity <> ?3 AND on_server = 1 LIMIT 1",
        )?
        .query_row(params![folder, message, uidvalidity], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let Some((old_validity, old_uid)) = stale {
        // A crash between the two statements is impossible: both are in one transaction.
        tx.prepare_cached("DELETE FROM locations WHERE folder = ?1 AND uidvalidity = ?2 AND uid = ?3")?
            .execute(params![folder, uidvalidity, uid])?;
        tx.prepare_cached(
            "UPDATE locations SET uidvalidity = ?4, uid = ?5, flags = ?6, modseq = ?7, on_server = 1, removed_at = NULL
             WHERE folder = ?1 AND uidvalidity = ?2 AND uid = ?3",
        )?
        .execute(params![folder, old_validity, old_uid, uidvalidity, uid, flags, modseq])?;
        return Ok(Linked::Relinked);
    }
    let added = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO locations (folder, uidvalidity, uid, message, flags, modseq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![folder, uidvalidity, uid, message, flags, modseq])?;
    Ok(if added > 0 { Linked::Added } else { Linked::Already })
}

/// Records the server's flags for known UIDs of a folder; returns the local ids of the
/// messages whose flags changed (each also gets a `flags` event).
pub(crate) fn update_flags(
    conn: &mut Connection,
    folder: i64,
    uidvalidity: u32,
    changes: &[(u32, Vec<String>, Option<u64>)],
) -> rusqlite::Result<Vec<i64>> {
    let tx = conn.transaction()?;
    let now = now_unix();
    let mut changed = Vec::new();
    for (uid, flags, modseq) in changes {
        let text = flags.join(" ");
        let hit: Option<(i64, String)> = tx
            .prepare_cached(
                "UPDATE locations SET flags = ?4, modseq = COALESCE(?5, modseq)
                 WHERE folder = ?1 AND uidvalidity = ?2 AND uid = ?3 AND flags <> ?4
                 RETURNING message, (SELECT account FROM folders WHERE id = ?1)",
            )?
            .query_row(params![folder, uidvalidity, uid, text, modseq.map(|m| m as i64)], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        if let Some((message, account)) = hit {
            let detail = serde_json::json!({ "flags": flags }).to_string();
            event(&tx, &account, EventKind::Flags, Some(message), Some(&detail), now)?;
            changed.push(message);
        }
    }
    tx.commit()?;
    Ok(changed)
}

/// UIDs of a folder (under its current UIDVALIDITY) that the store has on the server.
pub(crate) fn on_server_uids(conn: &Connection, folder: i64, uidvalidity: u32) -> rusqlite::Result<Vec<u32>> {
    let mut stmt =
        conn.prepare_cached("SELECT uid FROM locations WHERE folder = ?1 AND uidvalidity = ?2 AND on_server = 1")?;
    let rows = stmt.query_map(params![folder, uidvalidity], |r| r.get(0))?;
    rows.collect()
}

/// Marks the given UIDs of a folder as gone from the server (moved away or deleted by
/// another client); the messages stay in the store.
pub(crate) fn mark_removed(
    conn: &mut Connection,
    folder: i64,
    uidvalidity: u32,
    uids: &[u32],
) -> rusqlite::Result<PassOutcome> {
    let tx = conn.transaction()?;
    let now = now_unix();
    let mut gone = Vec::new();
    for uid in uids {
        let message: Option<i64> = tx
            .prepare_cached(
                "UPDATE locations SET on_server = 0, removed_at = ?4
                 WHERE folder = ?1 AND uidvalidity = ?2 AND uid = ?3 AND on_server = 1 RETURNING message",
            )?
            .query_row(params![folder, uidvalidity, uid, now], |r| r.get(0))
            .optional()?;
        gone.extend(message.map(MessageId));
    }
    tx.commit()?;
    Ok(PassOutcome { removed: gone.len() as u64, touched: gone })
}

/// Ends a complete folder pass: locations still on an old UIDVALIDITY were not found
/// again, so they are gone from the server (the messages stay in the store).
pub(crate) fn finish_pass(conn: &mut Connection, folder: i64, uidvalidity: u32) -> rusqlite::Result<PassOutcome> {
    let tx = conn.transaction()?;
    let now = now_unix();
    let gone: Vec<MessageId> = {
        let mut stmt = tx.prepare(
            "SELECT DISTINCT message FROM locations WHERE folder = ?1 AND uidvalidity <> ?2 AND on_server = 1",
        )?;
        let rows = stmt.query_map(params![folder, uidvalidity], |r| r.get(0).map(MessageId))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let removed = tx.execute(
        "UPDATE locations SET on_server = 0, removed_at = ?3 WHERE folder = ?1 AND uidvalidity <> ?2 AND on_server = 1",
        params![folder, uidvalidity, now],
    )?;
    tx.commit()?;
    Ok(PassOutcome { removed: removed as u64, touched: gone })
}

/// At the end of an account pass: emits `removed` for the touched messages that are on
/// the server nowhere any more. (During the pass a message moved from one folder to
/// another is briefly in neither.)
pub(crate) fn emit_removed(conn: &mut Connection, account: &str, touched: &[i64]) -> rusqlite::Result<u64> {
    let tx = conn.transaction()?;
    let now = now_unix();
    let mut n = 0;
    for message in touched {
        let nowhere: bool = tx
            .prepare_cached(
                "SELECT NOT EXISTS(SELECT 1 FROM locations WHERE message = ?1 AND on_server = 1)
                    AND EXISTS(SELECT 1 FROM messages WHERE id = ?1)",
            )?
            .query_row([message], |r| r.get(0))?;
        if nowhere {
            event(&tx, account, EventKind::Removed, Some(*message), None, now)?;
            n += 1;
        }
    }
    tx.commit()?;
    Ok(n)
}

pub(crate) fn event(
    tx: &Transaction<'_>,
    account: &str,
    kind: EventKind,
    message: Option<i64>,
    detail: Option<&str>,
    at: i64,
) -> rusqlite::Result<()> {
    tx.prepare_cached("INSERT INTO events (at, account, kind, message, detail) VALUES (?1, ?2, ?3, ?4, ?5)")?
        .execute(params![at, account, kind.as_str(), message, detail])?;
    Ok(())
}

/// Which messages to list.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    /// Only this account's messages (an account id); `None` for every account.
    pub account: Option<String>,
    /// Only messages with a location in this folder (decoded full name).
    pub folder: Option<String>,
    /// Only messages assigned to this project.
    pub project: Option<String>,
}

/// Lists messages by Date, newest first (the CLI's `messages`; the API pages by id).
pub(crate) fn list(conn: &Connection, filter: &MessageFilter) -> rusqlite::Result<Vec<MessageSummary>> {
    let mut sql = format!("{} WHERE 1 = 1", super::pages::SELECT);
    let mut args: Vec<String> = Vec::new();
    if let Some(account) = &filter.account {
        args.push(account.clone());
        sql.push_str(&format!(" AND m.account = ?{}", args.len()));
    }
    if let Some(project) = &filter.project {
        args.push(project.clone());
        sql.push_str(&format!(" AND a.project = ?{}", args.len()));
    }
    if let Some(folder) = &filter.folder {
        args.push(folder.clone());
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM locations l JOIN folders f ON f.id = l.folder
                         WHERE l.message = m.id AND f.name = ?{} AND l.on_server = 1)",
            args.len()
        ));
    }
    sql.push_str(" ORDER BY m.date DESC, m.id DESC");
    let mut stmt = conn.prepare(&sql)?;
    let mut rows: Vec<MessageSummary> =
        stmt.query_map(params_from_iter(args.iter()), super::pages::summary)?.collect::<rusqlite::Result<_>>()?;
    super::pages::locate(conn, &mut rows, filter.folder.as_deref())?;
    Ok(rows)
}

/// Where a message is on the server (present folders only).
pub(crate) fn places(conn: &Connection, message: i64) -> rusqlite::Result<Vec<Place>> {
    let found: Vec<(i64, u32, u32, String)> = {
        let mut stmt = conn.prepare_cached(
            "SELECT l.folder, l.uidvalidity, l.uid, l.flags FROM locations l JOIN folders f ON f.id = l.folder
             WHERE l.message = ?1 AND l.on_server = 1 AND f.present = 1 ORDER BY l.folder",
        )?;
        let rows = stmt.query_map([message], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut out = Vec::new();
    for (folder, uidvalidity, uid, flags) in found {
        if let Some(folder) = super::folders::get(conn, folder)? {
            out.push(Place { folder, uidvalidity, uid, flags: flags.split_whitespace().map(str::to_owned).collect() });
        }
    }
    Ok(out)
}

/// The Message-ID of a stored message (`None` when it has none, or no such message).
pub(crate) fn message_id_of(conn: &Connection, local_id: i64) -> rusqlite::Result<Option<String>> {
    Ok(conn
        .query_row("SELECT message_id FROM messages WHERE id = ?1", [local_id], |r| r.get::<_, Option<String>>(0))
        .optional()?
        .flatten())
}

/// The account a stored message belongs to.
pub(crate) fn account_of(conn: &Connection, local_id: i64) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT account FROM messages WHERE id = ?1", [local_id], |r| r.get(0)).optional()
}

/// The raw bytes of a stored message.
pub(crate) fn raw(conn: &Connection, local_id: i64) -> rusqlite::Result<Option<Vec<u8>>> {
    conn.query_row(
        &format!("SELECT {} FROM messages m JOIN blobs b ON b.hash = m.blob WHERE m.id = ?1", blobs::COLUMNS),
        [local_id],
        |r| blobs::raw_from(r, 0),
    )
    .optional()
}

impl super::Store {
    /// UIDs already stored for a folder under its current UIDVALIDITY.
    pub async fn known_uids(&self, folder: FolderId, uidvalidity: u32) -> Result<HashSet<u32>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.known_uids(folder.0, uidvalidity).await;
        }
        self.run(move |c| known_uids(c, folder.0, uidvalidity)).await
    }

    /// How many locations of a folder are still on the server under another UIDVALIDITY.
    pub async fn stale_locations(&self, folder: FolderId, uidvalidity: u32) -> Result<u64, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.stale_locations(folder.0, uidvalidity).await;
        }
        self.run(move |c| stale_locations(c, folder.0, uidvalidity)).await
    }

    /// Whether the account has any stored message.
    pub async fn account_has_messages(&self, account: &str) -> Result<bool, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.account_has_messages(account).await;
        }
        let account = account.to_owned();
        self.run(move |c| account_has_messages(c, &account)).await
    }

    /// The stored messages among `identities` (see [`identity_of`](crate::identity_of)).
    pub async fn lookup(
        &self,
        account: &str,
        identities: Vec<String>,
    ) -> Result<HashMap<String, StoredIdentity>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.lookup(account, &identities).await;
        }
        let account = account.to_owned();
        self.run(move |c| lookup(c, &account, &identities)).await
    }

    /// Stores one batch of a folder pass in one transaction: new messages, new or
    /// re-linked locations, `new-message` events.
    pub async fn commit_batch(
        &self,
        account: &str,
        folder: FolderId,
        uidvalidity: u32,
        fetched: Vec<FetchedMessage>,
        links: Vec<Link>,
    ) -> Result<BatchStats, StoreError> {
        self.commit_batch_after(account, folder, uidvalidity, fetched, links, std::future::ready(())).await
    }

    /// [`Store::commit_batch`] whose transaction begins only after `turn` completes. The
    /// messages are parsed and indexed first, on a blocking thread and without the
    /// store's lock, so a folder pass can prepare one batch while the previous one is
    /// written and still write them in order.
    pub async fn commit_batch_after(
        &self,
        account: &str,
        folder: FolderId,
        uidvalidity: u32,
        fetched: Vec<FetchedMessage>,
        links: Vec<Link>,
        turn: impl Future<Output = ()> + Send,
    ) -> Result<BatchStats, StoreError> {
        let bytes: u64 = fetched.iter().map(|m| m.raw.len() as u64).sum();
        let account = account.to_owned();
        let (fetched, prepared) = self
            .prepare(move || {
                let mut fetched = fetched;
                let prepared: Vec<Prepared> = fetched.iter_mut().map(prepare).collect();
                (fetched, prepared)
            })
            .await?;
        turn.await;
        // Mail is refused while it would leave less than the reserve: the account's state,
        // its events and the API's small writes must still fit when the disk is full.
        // Checked once the previous batch is written, so that its bytes count.
        self.ensure_space(bytes)?;
        if let Some(pg) = self.pg() {
            return pg.commit_batch(&account, folder.0, uidvalidity, &fetched, &prepared, &links).await;
        }
        self.run(move |c| commit_batch(c, &account, folder.0, uidvalidity, &fetched, &prepared, &links)).await
    }

    /// Stores messages from an export (no server location); returns the local ids of the
    /// new ones and how many were stored already.
    pub async fn import_messages(
        &self,
        account: &str,
        messages: Vec<FetchedMessage>,
    ) -> Result<(Vec<MessageId>, u64), StoreError> {
        let account = account.to_owned();
        let (messages, prepared) = self
            .prepare(move || {
                let mut messages = messages;
                let prepared: Vec<Prepared> = messages.iter_mut().map(prepare).collect();
                (messages, prepared)
            })
            .await?;
        if let Some(pg) = self.pg() {
            let mut new = Vec::new();
            let mut known = 0;
            for (chunk, prepared) in messages.chunks(500).zip(prepared.chunks(500)) {
                let (n, k) = pg.import(&account, chunk, prepared).await?;
                new.extend(n.into_iter().map(MessageId));
                known += k;
            }
            return Ok((new, known));
        }
        self.run(move |c| {
            let mut new = Vec::new();
            let mut known = 0;
            for (chunk, prepared) in messages.chunks(500).zip(prepared.chunks(500)) {
                let (n, k) = import(c, &account, chunk, prepared)?;
                new.extend(n);
                known += k;
            }
            Ok((new, known))
        })
        .await
        .map(|(new, known): (Vec<i64>, u64)| (new.into_iter().map(MessageId).collect(), known))
    }

    /// Records the server's flags `(uid, flags, modseq)` of a folder's known UIDs; returns
    /// the local ids of the messages whose flags changed (each gets a `flags` event).
    pub async fn update_flags(
        &self,
        folder: FolderId,
        uidvalidity: u32,
        changes: Vec<(u32, Vec<String>, Option<u64>)>,
    ) -> Result<Vec<MessageId>, StoreError> {
        if let Some(pg) = self.pg() {
            return Ok(pg.update_flags(folder.0, uidvalidity, &changes).await?.into_iter().map(MessageId).collect());
        }
        let changed = self.run(move |c| update_flags(c, folder.0, uidvalidity, &changes)).await?;
        Ok(changed.into_iter().map(MessageId).collect())
    }

    /// UIDs of a folder (under its current UIDVALIDITY) that the store has on the server.
    pub async fn on_server_uids(&self, folder: FolderId, uidvalidity: u32) -> Result<Vec<u32>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.on_server_uids(folder.0, uidvalidity).await;
        }
        self.run(move |c| on_server_uids(c, folder.0, uidvalidity)).await
    }

    /// Marks UIDs of a folder gone from the server; the messages stay.
    pub async fn mark_removed(
        &self,
        folder: FolderId,
        uidvalidity: u32,
        uids: Vec<u32>,
    ) -> Result<PassOutcome, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.mark_removed(folder.0, uidvalidity, &uids).await;
        }
        self.run(move |c| mark_removed(c, folder.0, uidvalidity, &uids)).await
    }

    /// Ends a complete folder pass after a UIDVALIDITY change: what was not found again
    /// is gone from the server.
    pub async fn finish_pass(&self, folder: FolderId, uidvalidity: u32) -> Result<PassOutcome, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.finish_pass(folder.0, uidvalidity).await;
        }
        self.run(move |c| finish_pass(c, folder.0, uidvalidity)).await
    }

    /// Emits `removed` for those of `touched` that are on the server nowhere any more;
    /// returns how many.
    pub async fn emit_removed(&self, account: &str, touched: Vec<MessageId>) -> Result<u64, StoreError> {
        let account = account.to_owned();
        let touched: Vec<i64> = touched.iter().map(|m| m.0).collect();
        if let Some(pg) = self.pg() {
            return pg.emit_removed(&account, &touched).await;
        }
        self.run(move |c| emit_removed(c, &account, &touched)).await
    }

    /// Stored messages, newest first.
    pub async fn messages(&self, filter: MessageFilter) -> Result<Vec<MessageSummary>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.messages(&filter).await;
        }
        self.run(move |c| list(c, &filter)).await
    }

    /// Where a message is on the server (present folders only).
    pub async fn places(&self, message: MessageId) -> Result<Vec<Place>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.places(message.0).await;
        }
        self.run(move |c| places(c, message.0)).await
    }

    /// A stored message's Message-ID.
    pub async fn message_id_of(&self, local_id: MessageId) -> Result<Option<String>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.message_id_of(local_id.0).await;
        }
        self.run(move |c| message_id_of(c, local_id.0)).await
    }

    /// The account a stored message belongs to.
    pub async fn account_of(&self, local_id: MessageId) -> Result<Option<String>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.account_of(local_id.0).await;
        }
        self.run(move |c| account_of(c, local_id.0)).await
    }

    /// A stored message's raw bytes.
    pub async fn raw_message(&self, local_id: MessageId) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.raw_message(local_id.0).await;
        }
        self.run(move |c| raw(c, local_id.0)).await
    }
}
