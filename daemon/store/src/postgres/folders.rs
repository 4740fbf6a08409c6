//! Folder rows and their sync checkpoints on PostgreSQL (see `crate::folders`). The
//! listing and the checkpoints are sync state: a fenced store checks its lease before
//! writing them.

use postfach_model::{Checkpoint, FolderId, FolderRow, ListedFolder, Role, RoleSource, Timestamp, now_unix};

use super::PgStore;
use crate::{StoreError, json_list, parse_list};

const SELECT: &str = "SELECT f.id, f.name, f.raw, f.delimiter, f.path, f.attributes, f.role, f.role_source,
        f.selectable, f.present, f.uidvalidity, f.uidnext, f.highestmodseq, f.synced_at,
        (SELECT COUNT(*) FROM locations l WHERE l.folder = f.id AND l.on_server), f.exists_count
    FROM folders f";

fn row(r: &tokio_postgres::Row) -> FolderRow {
    let u32_of = |i: usize| r.get::<_, Option<i64>>(i).map(|v| v.clamp(0, u32::MAX as i64) as u32);
    FolderRow {
        id: FolderId(r.get(0)),
        folder: ListedFolder {
            name: r.get(1),
            raw: r.get(2),
            delimiter: r.get(3),
            path: parse_list(r.get(4)),
            attributes: parse_list(r.get(5)),
            role: r.get::<_, Option<String>>(6).and_then(|r| r.parse().ok()),
            role_source: r.get::<_, Option<String>>(7).and_then(|r| r.parse().ok()),
            selectable: r.get(8),
        },
        present: r.get(9),
        uidvalidity: u32_of(10),
        uidnext: u32_of(11),
        highestmodseq: r.get::<_, Option<i64>>(12).map(|m| m as u64),
        synced_at: r.get::<_, Option<i64>>(13).map(Timestamp),
        exists: u32_of(15),
        messages: r.get::<_, i64>(14) as u64,
    }
}

impl PgStore {
    pub(crate) async fn replace_listing(
        &self,
        account: &str,
        listing: &[ListedFolder],
    ) -> Result<Vec<FolderRow>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(self.e())?;
        self.check_fence(&tx).await?;
        tx.execute("UPDATE folders SET present = FALSE WHERE account = $1", &[&account]).await.map_err(self.e())?;
        let upsert = tx
            .prepare(
                "INSERT INTO folders (account, name, raw, delimiter, path, attributes, role, role_source, selectable,
                     present)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, TRUE)
                 ON CONFLICT (account, raw) DO UPDATE SET name = $2, delimiter = $4, path = $5, attributes = $6,
                     role = $7, role_source = $8, selectable = $9, present = TRUE",
            )
            .await
            .map_err(self.e())?;
        for f in listing {
            tx.execute(
                &upsert,
                &[
                    &account,
                    &super::text(&f.name),
                    &super::text(&f.raw),
                    &super::opt_text(&f.delimiter),
                    &json_list(&f.path),
                    &json_list(&f.attributes),
                    &f.role.map(Role::as_str),
                    &f.role_source.map(RoleSource::as_str),
                    &f.selectable,
                ],
            )
            .await
            .map_err(self.e())?;
        }
        tx.commit().await.map_err(self.e())?;
        // Back to the pool before taking another: tasks that each hold one connection
        // and wait for a second would deadlock a busy pool.
        drop(client);
        self.folders(account).await
    }

    pub(crate) async fn folders(&self, account: &str) -> Result<Vec<FolderRow>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(&format!("{SELECT} WHERE f.account = $1 ORDER BY f.present DESC, f.name"), &[&account])
            .await
            .map_err(self.e())?;
        Ok(rows.iter().map(row).collect())
    }

    pub(crate) async fn folder(&self, id: i64) -> Result<Option<FolderRow>, StoreError> {
        let client = self.client().await?;
        let found = client.query_opt(&format!("{SELECT} WHERE f.id = $1"), &[&id]).await.map_err(self.e())?;
        Ok(found.as_ref().map(row))
    }

    pub(crate) async fn set_checkpoint(&self, folder: i64, at: Checkpoint) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(self.e())?;
        self.check_fence(&tx).await?;
        tx.execute(
            "UPDATE folders SET uidvalidity = $2, uidnext = $3, highestmodseq = $4, synced_at = $5, exists_count = $6
             WHERE id = $1",
            &[
                &folder,
                &i64::from(at.uidvalidity),
                &at.uidnext.map(i64::from),
                &at.highestmodseq.map(|m| m as i64),
                &now_unix(),
                &i64::from(at.exists),
            ],
        )
        .await
        .map_err(self.e())?;
        tx.commit().await.map_err(self.e())
    }
}
