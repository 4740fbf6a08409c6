//! Bodies of messages stored header-only (`[sync] bodies = "on-demand"`) on PostgreSQL
//! (see `crate::bodies`): where to fetch one, and storing it in place of the header
//! section with its index data, so the message is like any other from then on.

use super::PgStore;
use crate::{BodySource, StoreError};

impl PgStore {
    pub(crate) async fn body_source(&self, id: i64) -> Result<Option<BodySource>, StoreError> {
        let client = self.client().await?;
        let r = client
            .query_opt(
                "SELECT m.account, f.raw, f.name, l.uidvalidity, l.uid
                 FROM messages m JOIN locations l ON l.message = m.id AND l.on_server
                      JOIN folders f ON f.id = l.folder AND f.uidvalidity = l.uidvalidity
                 WHERE m.id = $1 AND m.body_missing
                 ORDER BY (f.role = 'inbox') DESC, f.name LIMIT 1",
                &[&id],
            )
            .await
            .map_err(self.e())?;
        Ok(r.map(|r| BodySource {
            account: r.get(0),
            folder_raw: r.get(1),
            folder: r.get(2),
            uidvalidity: r.get::<_, i64>(3) as u32,
            uid: r.get::<_, i64>(4) as u32,
        }))
    }

    /// The stored size and Message-ID of a message whose body is missing.
    pub(crate) async fn body_missing(&self, id: i64) -> Result<Option<(u64, Option<String>)>, StoreError> {
        let client = self.client().await?;
        let r = client
            .query_opt("SELECT size, message_id FROM messages WHERE id = $1 AND body_missing", &[&id])
            .await
            .map_err(self.e())?;
        Ok(r.map(|r| (r.get::<_, i64>(0) as u64, r.get(1))))
    }

    /// Stores the whole message in place of its header section, with its index data.
    pub(crate) async fn complete_body(
        &self,
        id: i64,
        hash: &str,
        raw_len: usize,
        derived: &crate::index::Derived,
        blob: &crate::blobs::Packed,
    ) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(self.e())?;
        let old = tx
            .query_opt("SELECT blob FROM messages WHERE id = $1 AND body_missing FOR UPDATE", &[&id])
            .await
            .map_err(self.e())?;
        let Some(old) = old else { return Ok(false) };
        let old: String = old.get(0);
        tx.execute(
            "INSERT INTO blobs (hash, size, codec, data) VALUES ($1, $2, $3, $4) ON CONFLICT (hash) DO NOTHING",
            &[&hash, &(raw_len as i64), &(blob.codec as i16), &blob.data],
        )
        .await
        .map_err(self.e())?;
        let s = &derived.search;
        tx.execute(
            "UPDATE messages SET blob = $2, body_missing = FALSE, snippet = $3, has_attachments = $4,
                 search = setweight(to_tsvector('german', $5), 'A') || setweight(to_tsvector('german', $6), 'B')
                     || setweight(to_tsvector('german', $7), 'C') || setweight(to_tsvector('german', $8), 'D')
             WHERE id = $1",
            &[
                &id,
                &hash,
                &super::text(&derived.snippet),
                &derived.has_attachments,
                &super::messages::indexed(&s.subject),
                &super::messages::indexed(&s.addresses),
                &super::messages::indexed(&s.attachments),
                &super::messages::indexed(&s.body),
            ],
        )
        .await
        .map_err(self.e())?;
        tx.execute(
            "DELETE FROM blobs WHERE hash = $1 AND NOT EXISTS (SELECT 1 FROM messages WHERE blob = $1)",
            &[&old],
        )
        .await
        .map_err(self.e())?;
        tx.commit().await.map_err(self.e())?;
        Ok(true)
    }
}
