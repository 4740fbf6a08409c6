//! Folder rows: the server's folder list with decoded names, roles, and per-folder sync
//! checkpoints (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ).

use rusqlite::{Connection, OptionalExtension, params};

use super::{StoreError, json_list, parse_list};
use postfach_model::{Checkpoint, FolderId, FolderRow, ListedFolder, Role, RoleSource, Timestamp, now_unix};

/// Records a fresh LIST: upserts every folder, marks folders no longer listed as absent.
/// Returns the rows afterwards.
pub(crate) fn replace_listing(
    conn: &mut Connection,
    account: &str,
    listing: &[ListedFolder],
) -> rusqlite::Result<Vec<FolderRow>> {
    let tx = conn.transaction()?;
    tx.execute("UPDATE folders SET present = 0 WHERE account = ?1", [account])?;
    {
        let mut upsert = tx.prepare(
            "INSERT INTO folders (account, name, raw, delimiter, path, attributes, role, role_source, selectable, present)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1)
             ON CONFLICT(account, raw) DO UPDATE SET name = ?2, delimiter = ?4, path = ?5, attributes = ?6,
                 role = ?7, role_source = ?8, selectable = ?9, present = 1",
        )?;
        for f in listing {
            upsert.execute(params![
                account,
                f.name,
                f.raw,
                f.delimiter,
                json_list(&f.path),
                json_list(&f.attributes),
                f.role.map(Role::as_str),
                f.role_source.map(RoleSource::as_str),
                f.selectable,
            ])?;
        }
    }
    tx.commit()?;
    list(conn, account)
}

/// Every folder of an account (present ones first, then by name).
pub(crate) fn list(conn: &Connection, account: &str) -> rusqlite::Result<Vec<FolderRow>> {
    let mut stmt = conn.prepare(&format!("{SELECT} WHERE f.account = ?1 ORDER BY f.present DESC, f.name"))?;
    let rows = stmt.query_map([account], row)?;
    rows.collect()
}

/// One folder by row id.
pub(crate) fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<FolderRow>> {
    conn.query_row(&format!("{SELECT} WHERE f.id = ?1"), [id], row).optional()
}

/// Saves the checkpoint of a completed folder pass.
pub(crate) fn set_checkpoint(
    conn: &Connection,
    id: i64,
    uidvalidity: u32,
    uidnext: Option<u32>,
    highestmodseq: Option<u64>,
    exists: u32,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE folders SET uidvalidity = ?2, uidnext = ?3, highestmodseq = ?4, synced_at = ?5, exists_count = ?6
         WHERE id = ?1",
        params![id, uidvalidity, uidnext, highestmodseq.map(|m| m as i64), now_unix(), exists],
    )?;
    Ok(())
}

impl super::Store {
    /// Records a fresh LIST of an account; returns its folders afterwards.
    pub async fn replace_listing(
        &self,
        account: &str,
        listing: Vec<ListedFolder>,
    ) -> Result<Vec<FolderRow>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.replace_listing(account, &listing).await;
        }
        let account = account.to_owned();
        self.run(move |c| replace_listing(c, &account, &listing)).await
    }

    /// Every folder of an account (present ones first, then by name).
    pub async fn folders(&self, account: &str) -> Result<Vec<FolderRow>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.folders(account).await;
        }
        let account = account.to_owned();
        self.run(move |c| list(c, &account)).await
    }

    /// One folder by its store id (`folders.id`), present or not; `None` if unknown.
    pub async fn folder(&self, id: FolderId) -> Result<Option<FolderRow>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.folder(id.0).await;
        }
        self.run(move |c| get(c, id.0)).await
    }

    /// Saves the checkpoint of a completed folder pass.
    pub async fn set_checkpoint(&self, folder: FolderId, at: Checkpoint) -> Result<(), StoreError> {
        if let Some(pg) = self.pg() {
            return pg.set_checkpoint(folder.0, at).await;
        }
        self.run(move |c| set_checkpoint(c, folder.0, at.uidvalidity, at.uidnext, at.highestmodseq, at.exists)).await
    }
}

const SELECT: &str = "SELECT f.id, f.name, f.raw, f.delimiter, f.path, f.attributes, f.role, f.role_source,
        f.selectable, f.present, f.uidvalidity, f.uidnext, f.highestmodseq, f.synced_at,
        (SELECT COUNT(*) FROM locations l WHERE l.folder = f.id AND l.on_server = 1), f.exists_count
    FROM folders f";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FolderRow> {
    let path: String = r.get(4)?;
    let attributes: String = r.get(5)?;
    let role: Option<String> = r.get(6)?;
    let role_source: Option<String> = r.get(7)?;
    let modseq: Option<i64> = r.get(12)?;
    let messages: i64 = r.get(14)?;
    Ok(FolderRow {
        id: FolderId(r.get(0)?),
        folder: ListedFolder {
            name: r.get(1)?,
            raw: r.get(2)?,
            delimiter: r.get(3)?,
            path: parse_list(&path),
            attributes: parse_list(&attributes),
            role: role.and_then(|r| r.parse().ok()),
            role_source: role_source.and_then(|r| r.parse().ok()),
            selectable: r.get(8)?,
        },
        present: r.get(9)?,
        uidvalidity: r.get(10)?,
        uidnext: r.get(11)?,
        highestmodseq: modseq.map(|m| m as u64),
        synced_at: r.get::<_, Option<i64>>(13)?.map(Timestamp),
        exists: r.get(15)?,
        messages: messages as u64,
    })
}
