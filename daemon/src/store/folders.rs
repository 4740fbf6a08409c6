//! Folder rows: the server's folder list with decoded names, roles, and per-folder sync
//! checkpoints (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ).

use rusqlite::{Connection, OptionalExtension, params};

use super::{json_list, parse_list};
use crate::model::{Role, RoleSource, now_unix};

/// A folder as listed by the server, with its role decided.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedFolder {
    /// Full decoded name as listed (`INBOX.Entwürfe`).
    pub name: String,
    /// Wire form (`INBOX.Entw&APw-rfe`).
    pub raw: String,
    /// Hierarchy delimiter, if the server has one.
    pub delimiter: Option<String>,
    /// Hierarchy segments without the namespace prefix (`["Entwürfe"]`).
    pub path: Vec<String>,
    /// LIST attributes as sent (`\HasNoChildren`, `\Sent`).
    pub attributes: Vec<String>,
    /// The decided role.
    pub role: Option<Role>,
    /// Who decided it.
    pub role_source: Option<RoleSource>,
    /// Whether the folder can be selected (not `\Noselect` / `\NonExistent`).
    pub selectable: bool,
}

/// A stored folder with its checkpoints and message count.
#[derive(Debug, Clone, PartialEq)]
pub struct FolderRow {
    /// Row id.
    pub id: i64,
    /// The listing data.
    pub folder: ListedFolder,
    /// Still present in the last LIST.
    pub present: bool,
    /// Last seen UIDVALIDITY.
    pub uidvalidity: Option<u32>,
    /// UIDNEXT at the last complete pass.
    pub uidnext: Option<u32>,
    /// HIGHESTMODSEQ at the last complete pass.
    pub highestmodseq: Option<u64>,
    /// Unix time of the last complete pass.
    pub synced_at: Option<i64>,
    /// EXISTS at the last complete pass.
    pub exists: Option<u32>,
    /// Messages stored for this folder that are still on the server.
    pub messages: u64,
}

/// Records a fresh LIST: upserts every folder, marks folders no longer listed as absent.
/// Returns the rows afterwards.
pub fn replace_listing(
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
pub fn list(conn: &Connection, account: &str) -> rusqlite::Result<Vec<FolderRow>> {
    let mut stmt = conn.prepare(&format!("{SELECT} WHERE f.account = ?1 ORDER BY f.present DESC, f.name"))?;
    let rows = stmt.query_map([account], row)?;
    rows.collect()
}

/// One folder by row id.
pub fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<FolderRow>> {
    conn.query_row(&format!("{SELECT} WHERE f.id = ?1"), [id], row).optional()
}

/// Saves the checkpoint of a completed folder pass.
pub fn set_checkpoint(
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
        id: r.get(0)?,
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
        synced_at: r.get(13)?,
        exists: r.get(15)?,
        messages: messages as u64,
    })
}
