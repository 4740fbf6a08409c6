//! Messages, their server locations and sources on PostgreSQL: the folder pass's writes
//! (see `crate::messages` for the model). Each batch is one transaction that first
//! checks the account's lease, so a node that lost an account cannot store a batch it
//! downloaded before it noticed.
//!
//! A new message is one `INSERT` carrying its thread, snippet and search vector (the
//! German text-search configuration, weighted: subject A, addresses B, attachments C,
//! body D), so the index never lags behind the store.

use std::collections::{HashMap, HashSet};

use deadpool_postgres::GenericClient;
use postfach_model::{BatchStats, FetchedMessage, Link, MessageId, PassOutcome, Place, StoredIdentity, now_unix};

use super::PgStore;
use super::events::Events;
use crate::messages::{Linked, Prepared, tally};
use crate::{EventKind, StoreError, json_list};

/// PostgreSQL refuses a `tsvector` over 1 MB; the index keeps the first part of a very
/// long text (a body of 256 KiB is about 40,000 words).
const INDEXED_TEXT: usize = 256 * 1024;

/// The first `INDEXED_TEXT` bytes of `s`, cut at a character boundary, without NULs.
pub(super) fn indexed(s: &str) -> String {
    let mut end = s.len().min(INDEXED_TEXT);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    super::text(&s[..end]).into_owned()
}

impl PgStore {
    pub(crate) async fn known_uids(&self, folder: i64, uidvalidity: u32) -> Result<HashSet<u32>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT uid FROM locations WHERE folder = $1 AND uidvalidity = $2",
                &[&folder, &i64::from(uidvalidity)],
            )
            .await
            .map_err(self.e())?;
        Ok(rows.iter().map(|r| r.get::<_, i64>(0) as u32).collect())
    }

    pub(crate) async fn stale_locations(&self, folder: i64, uidvalidity: u32) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT COUNT(*) FROM locations WHERE folder = $1 AND uidvalidity <> $2 AND on_server",
                &[&folder, &i64::from(uidvalidity)],
            )
            .await
            .map_err(self.e())?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    pub(crate) async fn account_has_messages(&self, account: &str) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT EXISTS(SELECT 1 FROM messages WHERE account = $1)", &[&account])
            .await
            .map_err(self.e())?;
        Ok(row.get(0))
    }

    pub(crate) async fn lookup(
        &self,
        account: &str,
        identities: &[String],
    ) -> Result<HashMap<String, StoredIdentity>, StoreError> {
        let client = self.client().await?;
        let wanted: Vec<String> = identities.iter().map(|i| super::text(i).into_owned()).collect();
        let rows = client
            .query(
                "SELECT identity, id, size FROM messages WHERE account = $1 AND identity = ANY($2)",
                &[&account, &wanted],
            )
            .await
            .map_err(self.e())?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), StoredIdentity { id: MessageId(r.get(1)), size: r.get::<_, i64>(2) as u64 }))
            .collect())
    }

    pub(crate) async fn commit_batch(
        &self,
        account: &str,
        folder: i64,
        uidvalidity: u32,
        fetched: &[FetchedMessage],
        prepared: &[Prepared],
        links: &[Link],
    ) -> Result<BatchStats, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(self.e())?;
        self.check_fence(&tx).await?;
        let mut stats = BatchStats::default();
        let mut events = Events::default();
        let now = now_unix();
        for (m, prepared) in fetched.iter().zip(prepared) {
            let (message, existed) = self.upsert_message(&tx, account, m, prepared, now, &mut events).await?;
            let linked = self.link_location(&tx, folder, uidvalidity, m.uid, message, &m.flags, m.modseq).await?;
            tally(&mut stats, message, existed, linked);
        }
        for l in links {
            let linked = self.link_location(&tx, folder, uidvalidity, l.uid, l.message.0, &l.flags, l.modseq).await?;
            tally(&mut stats, l.message.0, true, linked);
        }
        events.write(&tx).await.map_err(self.e())?;
        tx.commit().await.map_err(self.e())?;
        Ok(stats)
    }

    pub(crate) async fn import(
        &self,
        account: &str,
        messages: &[FetchedMessage],
        prepared: &[Prepared],
    ) -> Result<(Vec<i64>, u64), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(self.e())?;
        let mut events = Events::default();
        let now = now_unix();
        let (mut new, mut known) = (Vec::new(), 0);
        for (m, prepared) in messages.iter().zip(prepared) {
            match self.upsert_message(&tx, account, m, prepared, now, &mut events).await? {
                (id, false) => new.push(id),
                (_, true) => known += 1,
            }
        }
        events.write(&tx).await.map_err(self.e())?;
        tx.commit().await.map_err(self.e())?;
        Ok((new, known))
    }

    /// Finds the message with `m`'s identity, or stores it with its source, thread and
    /// index data; returns its id and whether it was stored before.
    async fn upsert_message(
        &self,
        tx: &impl GenericClient,
        account: &str,
        m: &FetchedMessage,
        prepared: &Prepared,
        now: i64,
        events: &mut Events,
    ) -> Result<(i64, bool), StoreError> {
        let identity = super::text(&prepared.identity);
        let existing = tx
            .query_opt("SELECT id FROM messages WHERE account = $1 AND identity = $2", &[&account, &identity])
            .await
            .map_err(self.e())?;
        if let Some(row) = existing {
            return Ok((row.get(0), true));
        }
        tx.execute(
            "INSERT INTO blobs (hash, size, codec, data) VALUES ($1, $2, $3, $4) ON CONFLICT (hash) DO NOTHING",
            &[&m.hash, &(prepared.raw_len as i64), &(prepared.blob.codec as i16), &prepared.blob.data],
        )
        .await
        .map_err(self.e())?;
        let h = &m.headers;
        let thread = match m.gmail_thread {
            Some(id) => format!("g{id:x}"),
            None => self.thread_of(tx, h.in_reply_to.as_deref(), &h.references).await?.unwrap_or_else(|| {
                crate::index::thread_name(
                    h.references
                        .first()
                        .map(String::as_str)
                        .or(h.in_reply_to.as_deref())
                        .or(h.message_id.as_deref())
                        .unwrap_or(&identity),
                )
            }),
        };
        let size = m.header_only.unwrap_or(prepared.raw_len as u64) as i64;
        let d = &prepared.derived;
        let s = &d.search;
        let row = tx
            .query_one(
                "INSERT INTO messages (account, identity, message_id, subject, from_addr, to_addrs, cc_addrs, date,
                     in_reply_to, refs, blob, size, internal_date, created_at, body_missing, thread_id, snippet,
                     has_attachments, search)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
                     setweight(to_tsvector('german', $19), 'A') || setweight(to_tsvector('german', $20), 'B')
                     || setweight(to_tsvector('german', $21), 'C') || setweight(to_tsvector('german', $22), 'D'))
                 RETURNING id",
                &[
                    &account,
                    &identity,
                    &super::opt_text(&h.message_id),
                    &super::opt_text(&h.subject),
                    &super::text(&json_list(&h.from)),
                    &super::text(&json_list(&h.to)),
                    &super::text(&json_list(&h.cc)),
                    &h.date,
                    &super::opt_text(&h.in_reply_to),
                    &super::text(&json_list(&h.references)),
                    &m.hash,
                    &size,
                    &m.internal_date,
                    &now,
                    &m.header_only.is_some(),
                    &thread,
                    &super::text(&d.snippet),
                    &d.has_attachments,
                    &indexed(&s.subject),
                    &indexed(&s.addresses),
                    &indexed(&s.attachments),
                    &indexed(&s.body),
                ],
            )
            .await
            .map_err(self.e())?;
        let id: i64 = row.get(0);
        events.push(account, EventKind::NewMessage, Some(id), None, now);
        Ok((id, false))
    }

    /// The thread of the first stored parent among References (oldest first) and
    /// In-Reply-To, as `crate::index::thread_with` looks it up.
    async fn thread_of(
        &self,
        tx: &impl GenericClient,
        in_reply_to: Option<&str>,
        references: &[String],
    ) -> Result<Option<String>, StoreError> {
        let parents: Vec<String> =
            references.iter().map(String::as_str).chain(in_reply_to).map(|p| super::text(p).into_owned()).collect();
        if parents.is_empty() {
            return Ok(None);
        }
        let rows = tx
            .query(
                "SELECT DISTINCT ON (message_id) message_id, thread_id FROM messages
                 WHERE message_id = ANY($1) AND thread_id IS NOT NULL ORDER BY message_id, id",
                &[&parents],
            )
            .await
            .map_err(self.e())?;
        let found: HashMap<String, String> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        Ok(parents.iter().find_map(|p| found.get(p).cloned()))
    }

    #[allow(clippy::too_many_arguments, reason = "one location's columns")]
    async fn link_location(
        &self,
        tx: &impl GenericClient,
        folder: i64,
        uidvalidity: u32,
        uid: u32,
        message: i64,
        flags: &[String],
        modseq: Option<u64>,
    ) -> Result<Linked, StoreError> {
        let flags = super::text(&flags.join(" ")).into_owned();
        let (uidvalidity, uid) = (i64::from(uidvalidity), i64::from(uid));
        let modseq = modseq.map(|m| m as i64);
        let stale = tx
            .query_opt(
                "SELECT uidvalidity, uid FROM locations
                 WHERE folder = $1 AND message = $2 AND uidvalidity <> $3 AND on_server LIMIT 1",
                &[&folder, &message, &uidvalidity],
            )
            .await
            .map_err(self.e())?;
        if let Some(stale) = stale {
            let (old_validity, old_uid): (i64, i64) = (stale.get(0), stale.get(1));
            tx.execute(
                "DELETE FROM locations WHERE folder = $1 AND uidvalidity = $2 AND uid = $3",
                &[&folder, &uidvalidity, &uid],
            )
            .await
            .map_err(self.e())?;
            tx.execute(
                "UPDATE locations SET uidvalidity = $4, uid = $5, flags = $6, modseq = $7, on_server = TRUE,
                     removed_at = NULL
                 WHERE folder = $1 AND uidvalidity = $2 AND uid = $3",
                &[&folder, &old_validity, &old_uid, &uidvalidity, &uid, &flags, &modseq],
            )
            .await
            .map_err(self.e())?;
            return Ok(Linked::Relinked);
        }
        let added = tx
            .execute(
                "INSERT INTO locations (folder, uidvalidity, uid, message, flags, modseq)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                &[&folder, &uidvalidity, &uid, &message, &flags, &modseq],
            )
            .await
            .map_err(self.e())?;
        Ok(if added > 0 { Linked::Added } else { Linked::Already })
    }

    pub(crate) async fn update_flags(
        &self,
        folder: i64,
        uidvalidity: u32,
        changes: &[(u32, Vec<String>, Option<u64>)],
    ) -> Result<Vec<i64>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(self.e())?;
        self.check_fence(&tx).await?;
        let now = now_unix();
        let mut events = Events::default();
        let mut changed = Vec::new();
        let update = tx
            .prepare(
                "UPDATE locations SET flags = $4, modseq = COALESCE($5, modseq)
                 WHERE folder = $1 AND uidvalidity = $2 AND uid = $3 AND flags <> $4
                 RETURNING message, (SELECT account FROM folders WHERE id = $1)",
            )
            .await
            .map_err(self.e())?;
        for (uid, flags, modseq) in changes {
            let text = super::text(&flags.join(" ")).into_owned();
            let hit = tx
                .query_opt(
                    &update,
                    &[&folder, &i64::from(uidvalidity), &i64::from(*uid), &text, &modseq.map(|m| m as i64)],
                )
                .await
                .map_err(self.e())?;
            if let Some(row) = hit {
                let (message, account): (i64, String) = (row.get(0), row.get(1));
                let detail = serde_json::json!({ "flags": flags }).to_string();
                events.push(&account, EventKind::Flags, Some(message), Some(detail), now);
                changed.push(message);
            }
        }
        events.write(&tx).await.map_err(self.e())?;
        tx.commit().await.map_err(self.e())?;
        Ok(changed)
    }

    pub(crate) async fn on_server_uids(&self, folder: i64, uidvalidity: u32) -> Result<Vec<u32>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT uid FROM locations WHERE folder = $1 AND uidvalidity = $2 AND on_server",
                &[&folder, &i64::from(uidvalidity)],
            )
            .await
            .map_err(self.e())?;
        Ok(rows.iter().map(|r| r.get::<_, i64>(0) as u32).collect())
    }

    pub(crate) async fn mark_removed(
        &self,
        folder: i64,
        uidvalidity: u32,
        uids: &[u32],
    ) -> Result<PassOutcome, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(self.e())?;
        self.check_fence(&tx).await?;
        let uids: Vec<i64> = uids.iter().map(|&u| i64::from(u)).collect();
        let rows = tx
            .query(
                "UPDATE locations SET on_server = FALSE, removed_at = $4
                 WHERE folder = $1 AND uidvalidity = $2 AND uid = ANY($3) AND on_server RETURNING message",
                &[&folder, &i64::from(uidvalidity), &uids, &now_unix()],
            )
            .await
            .map_err(self.e())?;
        tx.commit().await.map_err(self.e())?;
        let gone: Vec<MessageId> = rows.iter().map(|r| MessageId(r.get(0))).collect();
        Ok(PassOutcome { removed: gone.len() as u64, touched: gone })
    }

    pub(crate) async fn finish_pass(&self, folder: i64, uidvalidity: u32) -> Result<PassOutcome, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(self.e())?;
        self.check_fence(&tx).await?;
        let rows = tx
            .query(
                "UPDATE locations SET on_server = FALSE, removed_at = $3
                 WHERE folder = $1 AND uidvalidity <> $2 AND on_server RETURNING message",
                &[&folder, &i64::from(uidvalidity), &now_unix()],
            )
            .await
            .map_err(self.e())?;
        tx.commit().await.map_err(self.e())?;
        let mut gone: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        let removed = gone.len() as u64;
        gone.sort_unstable();
        gone.dedup();
        Ok(PassOutcome { removed, touched: gone.into_iter().map(MessageId).collect() })
    }

    pub(crate) async fn emit_removed(&self, account: &str, touched: &[i64]) -> Result<u64, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(self.e())?;
        self.check_fence(&tx).await?;
        let rows = tx
            .query(
                "SELECT m.id FROM messages m WHERE m.id = ANY($1)
                     AND NOT EXISTS (SELECT 1 FROM locations l WHERE l.message = m.id AND l.on_server)
                 ORDER BY m.id",
                &[&touched],
            )
            .await
            .map_err(self.e())?;
        let now = now_unix();
        let mut events = Events::default();
        // In the order given, as on SQLite.
        let nowhere: HashSet<i64> = rows.iter().map(|r| r.get(0)).collect();
        let mut n = 0;
        for id in touched.iter().filter(|id| nowhere.contains(id)) {
            events.push(account, EventKind::Removed, Some(*id), None, now);
            n += 1;
        }
        events.write(&tx).await.map_err(self.e())?;
        tx.commit().await.map_err(self.e())?;
        Ok(n)
    }

    pub(crate) async fn places(&self, message: i64) -> Result<Vec<Place>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT l.folder, l.uidvalidity, l.uid, l.flags FROM locations l JOIN folders f ON f.id = l.folder
                 WHERE l.message = $1 AND l.on_server AND f.present ORDER BY l.folder",
                &[&message],
            )
            .await
            .map_err(self.e())?;
        drop(client);
        let mut out = Vec::new();
        for r in &rows {
            if let Some(folder) = self.folder(r.get(0)).await? {
                let flags: String = r.get(3);
                out.push(Place {
                    folder,
                    uidvalidity: r.get::<_, i64>(1) as u32,
                    uid: r.get::<_, i64>(2) as u32,
                    flags: flags.split_whitespace().map(str::to_owned).collect(),
                });
            }
        }
        Ok(out)
    }

    pub(crate) async fn message_id_of(&self, local_id: i64) -> Result<Option<String>, StoreError> {
        let client = self.client().await?;
        let row =
            client.query_opt("SELECT message_id FROM messages WHERE id = $1", &[&local_id]).await.map_err(self.e())?;
        Ok(row.and_then(|r| r.get(0)))
    }

    pub(crate) async fn account_of(&self, local_id: i64) -> Result<Option<String>, StoreError> {
        let client = self.client().await?;
        let row =
            client.query_opt("SELECT account FROM messages WHERE id = $1", &[&local_id]).await.map_err(self.e())?;
        Ok(row.map(|r| r.get(0)))
    }

    pub(crate) async fn raw_message(&self, local_id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT b.codec, b.size, b.data FROM messages m JOIN blobs b ON b.hash = m.blob WHERE m.id = $1",
                &[&local_id],
            )
            .await
            .map_err(self.e())?;
        let Some(row) = row else { return Ok(None) };
        let codec: i16 = row.get(0);
        crate::blobs::unpack(Some(i64::from(codec)), row.get(1), row.get(2))
            .map(Some)
            .map_err(|e| StoreError::Postgres { target: self.target().to_owned(), message: e.to_string() })
    }
}
