//! Copies of the store: a consistent backup of the live database (SQLite's online backup
//! API, from a read connection of its own, so the daemon keeps writing), checking a copy
//! (SQLite's integrity check, the schema version, every blob against its hash), restoring
//! one, and the copy kept automatically before a schema migration.
//!
//! A backup is one self-contained SQLite file (no `-wal` next to it), written under a
//! temporary name and renamed when complete, so a crash never leaves half a backup that
//! looks whole.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::{StoreError, blobs, schema};

/// Automatic pre-migration copies kept per store (the oldest are removed).
pub const MIGRATION_BACKUPS_KEPT: usize = 3;

/// What a backup or a restored store holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct CopyReport {
    /// Schema version (`PRAGMA user_version`).
    pub schema: i64,
    /// Stored messages.
    pub messages: u64,
    /// Message sources (each checked against its hash).
    pub blobs: u64,
    /// Entries of the event feed.
    pub events: u64,
    /// Size of the file in bytes.
    pub bytes: u64,
}

fn sql(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |e| StoreError::sqlite(path, &e)
}

fn bad(path: &Path, problem: impl Into<String>) -> StoreError {
    StoreError::BadCopy { path: path.to_owned(), problem: problem.into() }
}

/// `dest` with `.part` appended: where a copy is written before it is complete.
fn partial(dest: &Path) -> PathBuf {
    let mut name = dest.as_os_str().to_owned();
    name.push(".part");
    PathBuf::from(name)
}

/// Copies the database at `source` (open by others or not) to `dest` as one consistent
/// snapshot; `dest` must not exist. Returns what the copy holds, checked.
pub fn backup(source: &Path, dest: &Path) -> Result<CopyReport, StoreError> {
    if dest.exists() {
        return Err(bad(dest, "exists already; choose another name or remove it"));
    }
    let src = Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(sql(source))?;
    src.busy_timeout(Duration::from_secs(30)).map_err(sql(source))?;
    copy_from(&src, source, dest)?;
    verify(dest)
}

/// The backup itself, from an open connection (also used before a migration, on the
/// connection that is about to migrate).
pub(crate) fn copy_from(src: &Connection, source: &Path, dest: &Path) -> Result<(), StoreError> {
    let part = partial(dest);
    let _ = std::fs::remove_file(&part);
    let result = (|| {
        let mut dst = Connection::open(&part).map_err(sql(&part))?;
        {
            let backup = rusqlite::backup::Backup::new(src, &mut dst).map_err(sql(source))?;
            // All pages in one step: one read transaction, so the copy is one moment of
            // the store even while the daemon writes (WAL lets it go on meanwhile).
            backup.step(-1).map_err(sql(source))?;
        }
        // One file, readable without its write-ahead log.
        dst.pragma_update(None, "journal_mode", "DELETE").map_err(sql(&part))?;
        drop(dst);
        std::fs::File::open(&part)
            .and_then(|f| f.sync_all())
            .map_err(|e| bad(&part, format!("cannot write the copy: {e}")))?;
        std::fs::rename(&part, dest).map_err(|e| bad(dest, format!("cannot put the copy in place: {e}")))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&part);
    }
    result
}

/// Checks a copy: SQLite's integrity check, a schema this build knows, every blob equal
/// to its hash, every message's blob present.
pub fn verify(path: &Path) -> Result<CopyReport, StoreError> {
    if !path.is_file() {
        return Err(bad(path, "no such file"));
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(sql(path))?;
    let check: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|_| bad(path, "is not a SQLite database (or is damaged)"))?;
    if check != "ok" {
        return Err(bad(path, format!("fails SQLite's integrity check: {check}")));
    }
    let schema: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(sql(path))?;
    let known = schema::MIGRATIONS.len() as i64;
    if schema == 0 {
        return Err(bad(path, "is not a Postfach store (schema version 0)"));
    }
    if schema > known {
        return Err(bad(path, format!("was written by a newer Postfach (schema {schema}; this one knows {known})")));
    }
    let count = |table: &str| -> Result<u64, StoreError> {
        conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get::<_, i64>(0))
            .map(|n| n.max(0) as u64)
            .map_err(sql(path))
    };
    let (messages, blobs, events) = (count("messages")?, count("blobs")?, count("events")?);
    let orphans: i64 = conn
        .query_row("SELECT COUNT(*) FROM messages WHERE blob NOT IN (SELECT hash FROM blobs)", [], |r| r.get(0))
        .map_err(sql(path))?;
    if orphans > 0 {
        return Err(bad(path, format!("{orphans} messages have no source")));
    }
    // The hash is the raw bytes', so a compressed blob is checked after decompressing it.
    // Stores from before schema 8 have no codec column: all their blobs are raw.
    let codec = if schema >= 8 { "codec" } else { "NULL" };
    let mut stmt = conn.prepare(&format!("SELECT hash, {codec}, size, data FROM blobs")).map_err(sql(path))?;
    let mut rows = stmt.query([]).map_err(sql(path))?;
    while let Some(row) = rows.next().map_err(sql(path))? {
        let hash: String = row.get(0).map_err(sql(path))?;
        let data =
            blobs::raw_from(row, 1).map_err(|e| bad(path, format!("the message source {hash} cannot be read: {e}")))?;
        if blake3::hash(&data).to_hex().as_str() != hash {
            return Err(bad(path, format!("the message source {hash} does not match its hash")));
        }
    }
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    Ok(CopyReport { schema, messages, blobs, events, bytes })
}

/// Puts the backup `from` in place of the store at `store` (which no process may have
/// open: the caller checks that no daemon runs). The copy is checked first; the old
/// store, if any, is kept next to it as `<name>.before-restore-<unix time>` (with its
/// write-ahead log, which must never be applied to the restored file). Returns what the
/// restored store holds and where the old one went.
pub fn restore(from: &Path, store: &Path) -> Result<(CopyReport, Option<PathBuf>), StoreError> {
    let report = verify(from)?;
    if let Some(dir) = store.parent() {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir { path: dir.to_owned(), source })?;
    }
    let part = partial(store);
    std::fs::copy(from, &part).map_err(|e| bad(store, format!("cannot copy {}: {e}", from.display())))?;
    std::fs::File::open(&part).and_then(|f| f.sync_all()).map_err(|e| bad(&part, e.to_string()))?;
    let mut kept = None;
    if store.exists() {
        let stamp =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
        let aside = with_suffix(store, &format!(".before-restore-{stamp}"));
        for tail in ["", "-wal", "-shm"] {
            let from = with_suffix(store, tail);
            if from.exists() {
                let to = with_suffix(&aside, tail);
                std::fs::rename(&from, &to).map_err(|e| bad(&from, format!("cannot move it aside: {e}")))?;
            }
        }
        kept = Some(aside);
    }
    std::fs::rename(&part, store).map_err(|e| bad(store, format!("cannot put the restored store in place: {e}")))?;
    let restored = verify(store)?;
    if (restored.messages, restored.blobs, restored.events) != (report.messages, report.blobs, report.events) {
        return Err(bad(store, "the restored store does not hold what the backup holds"));
    }
    Ok((restored, kept))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Before migrating the store at `path` from schema `from`: a copy in
/// `<data_dir>/backups/postfach-v<from>-<unix time>.sqlite3`, keeping the newest
/// [`MIGRATION_BACKUPS_KEPT`].
pub(crate) fn before_migration(conn: &Connection, path: &Path, from: i64) -> Result<PathBuf, StoreError> {
    let dir = path.parent().unwrap_or(Path::new(".")).join("backups");
    std::fs::create_dir_all(&dir).map_err(|source| StoreError::DataDir { path: dir.clone(), source })?;
    let stamp =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default();
    let dest = dir.join(format!("postfach-v{from}-{stamp}.sqlite3"));
    copy_from(conn, path, &dest)?;
    let mut kept: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("postfach-v") && n.ends_with(".sqlite3"))
                })
                .collect()
        })
        .unwrap_or_default();
    // By the time in the name: the newest last.
    kept.sort_by_key(|p| {
        let name = p.file_stem().and_then(|n| n.to_str()).unwrap_or_default();
        name.rsplit('-').next().and_then(|t| t.parse::<u128>().ok()).unwrap_or_default()
    });
    while kept.len() > MIGRATION_BACKUPS_KEPT {
        let oldest = kept.remove(0);
        let _ = std::fs::remove_file(oldest);
    }
    Ok(dest)
}
