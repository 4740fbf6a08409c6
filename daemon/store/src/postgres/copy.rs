//! `postfachd store copy`: moves a whole store between SQLite and PostgreSQL, either way,
//! and proves the copy with counts and hashes.
//!
//! The two schemas describe the same model, so the copy is generic: for each table, in
//! an order that satisfies the foreign keys, the columns both sides have are copied row
//! by row, each value converted by the target column's type (SQLite's 0/1 to PostgreSQL's
//! booleans and back). What only one side has is rebuilt there: PostgreSQL's search
//! vectors are computed from the copied sources, SQLite's full-text index is built by
//! [`crate::Store::open`] for messages marked unindexed. Ids are kept, so event numbers,
//! API cursors and webhook cursors stay valid across the move.
//!
//! The target must be empty (a new SQLite file, or a PostgreSQL database without mail),
//! and the source must not change meanwhile (the caller checks that no daemon runs).

use std::collections::HashMap;
use std::path::Path;

use rusqlite::types::Value;
use tokio_postgres::types::{ToSql, Type};

use super::Postgres;
use crate::StoreError;

/// Tables in foreign-key order. (`search` is SQLite's index, rebuilt; leases and nodes
/// are a cluster's own state, not the store's.)
const TABLES: &[&str] = &[
    "accounts",
    "folders",
    "blobs",
    "messages",
    "locations",
    "assignments",
    "manual_assignments",
    "route_traces",
    "plugins",
    "events",
    "outbox",
    "changes",
    "api_tokens",
    "audit",
    "webhook_cursors",
    "oauth_tokens",
];

/// Tables whose `id` PostgreSQL generates: its sequence continues after the copied ids.
const IDENTITIES: &[&str] = &["folders", "messages", "outbox", "changes", "audit"];

/// Rows per round trip.
const CHUNK: i64 = 500;

/// What a copy moved, checked on the target.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StoreCopy {
    /// Rows per table, equal on both sides.
    pub tables: Vec<(String, u64)>,
    /// Message sources whose bytes were checked against their hash on the target.
    pub blobs_verified: u64,
}

/// A mismatch or failure during a copy.
fn copy_error(target: &str, message: impl Into<String>) -> StoreError {
    StoreError::Postgres { target: target.to_owned(), message: message.into() }
}

/// The columns of `table` on PostgreSQL with their types.
async fn pg_columns(pg: &Postgres, table: &str) -> Result<Vec<(String, Type)>, StoreError> {
    let client = pg.client().await?;
    let statement = client.prepare(&format!("SELECT * FROM {table} LIMIT 0")).await.map_err(|e| pg.error(&e))?;
    Ok(statement.columns().iter().map(|c| (c.name().to_owned(), c.type_().clone())).collect())
}

/// The columns of `table` in SQLite.
fn sqlite_columns(conn: &rusqlite::Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(&format!("PRAGMA table_info({table})"))?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(1))?;
    rows.collect()
}

/// `name` quoted for both dialects (`user` is reserved in PostgreSQL).
fn quoted(name: &str) -> String {
    format!("\"{name}\"")
}

/// A SQLite value as a PostgreSQL parameter of type `ty`.
fn to_pg(value: Value, ty: &Type) -> Box<dyn ToSql + Sync + Send> {
    match (value, ty) {
        (Value::Null, t) if *t == Type::BOOL => Box::new(None::<bool>),
        (Value::Null, t) if *t == Type::INT2 => Box::new(None::<i16>),
        (Value::Null, t) if *t == Type::INT4 => Box::new(None::<i32>),
        (Value::Null, t) if *t == Type::INT8 => Box::new(None::<i64>),
        (Value::Null, t) if *t == Type::BYTEA => Box::new(None::<Vec<u8>>),
        (Value::Null, _) => Box::new(None::<String>),
        (Value::Integer(i), t) if *t == Type::BOOL => Box::new(i != 0),
        (Value::Integer(i), t) if *t == Type::INT2 => Box::new(i as i16),
        (Value::Integer(i), t) if *t == Type::INT4 => Box::new(i as i32),
        (Value::Integer(i), _) => Box::new(i),
        (Value::Real(f), _) => Box::new(f as i64),
        (Value::Text(s), _) => Box::new(s.replace('\0', "")),
        (Value::Blob(b), _) => Box::new(b),
    }
}

/// A PostgreSQL value of column `i` as a SQLite value.
/// A column of a type neither side should have (a schema written by another version)
/// is an error, not a panic.
fn to_sqlite(row: &tokio_postgres::Row, i: usize) -> Result<Value, tokio_postgres::Error> {
    let ty = row.columns()[i].type_();
    let value = if *ty == Type::BOOL {
        row.try_get::<_, Option<bool>>(i)?.map(|b| Value::Integer(i64::from(b)))
    } else if *ty == Type::INT2 {
        row.try_get::<_, Option<i16>>(i)?.map(|v| Value::Integer(i64::from(v)))
    } else if *ty == Type::INT4 {
        row.try_get::<_, Option<i32>>(i)?.map(|v| Value::Integer(i64::from(v)))
    } else if *ty == Type::INT8 {
        row.try_get::<_, Option<i64>>(i)?.map(Value::Integer)
    } else if *ty == Type::BYTEA {
        row.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Blob)
    } else {
        row.try_get::<_, Option<String>>(i)?.map(Value::Text)
    };
    Ok(value.unwrap_or(Value::Null))
}

/// Copies the SQLite store at `source` into the empty PostgreSQL store `target`.
pub async fn sqlite_to_postgres(source: &Path, target: &Postgres) -> Result<StoreCopy, StoreError> {
    // Opening migrates and finishes any backlog (index, compression) first.
    drop(crate::Store::open(source)?);
    let t = target.target().to_owned();
    refuse_unless_empty_pg(target).await?;
    let src = rusqlite::Connection::open_with_flags(source, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| StoreError::sqlite(source, &e))?;
    let src = std::sync::Arc::new(std::sync::Mutex::new(src));
    let mut client = target.client().await?;
    let tx = client.transaction().await.map_err(|e| target.error(&e))?;
    let mut copy = StoreCopy::default();
    for table in TABLES {
        let pg_cols = pg_columns(target, table).await?;
        let sq_cols = {
            let conn = src.lock().unwrap_or_else(|p| p.into_inner());
            sqlite_columns(&conn, table).map_err(|e| StoreError::sqlite(source, &e))?
        };
        let cols: Vec<(String, Type)> = pg_cols.into_iter().filter(|(c, _)| sq_cols.contains(c)).collect();
        let names: Vec<String> = cols.iter().map(|(c, _)| quoted(c)).collect();
        let placeholders: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
        let insert = tx
            .prepare(&format!("INSERT INTO {table} ({}) VALUES ({})", names.join(", "), placeholders.join(", ")))
            .await
            .map_err(|e| target.error(&e))?;
        let mut offset = 0i64;
        let mut copied = 0u64;
        loop {
            let (src, select, path) = (src.clone(), names.join(", "), source.to_owned());
            let table_name = (*table).to_owned();
            let rows: Vec<Vec<Value>> = tokio::task::spawn_blocking(move || {
                let conn = src.lock().unwrap_or_else(|p| p.into_inner());
                let sql = format!("SELECT {select} FROM {table_name} ORDER BY 1 LIMIT {CHUNK} OFFSET {offset}");
                let mut stmt = conn.prepare(&sql)?;
                let n = stmt.column_count();
                let rows = stmt.query_map([], |r| (0..n).map(|i| r.get::<_, Value>(i)).collect())?;
                rows.collect::<rusqlite::Result<Vec<Vec<Value>>>>()
            })
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
            .map_err(|e| StoreError::sqlite(&path, &e))?;
            if rows.is_empty() {
                break;
            }
            for row in rows {
                let params: Vec<Box<dyn ToSql + Sync + Send>> =
                    row.into_iter().zip(&cols).map(|(v, (_, ty))| to_pg(v, ty)).collect();
                let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
                tx.execute(&insert, &refs).await.map_err(|e| target.error(&e))?;
                copied += 1;
            }
            offset += CHUNK;
        }
        copy.tables.push(((*table).to_owned(), copied));
    }
    for table in IDENTITIES {
        tx.execute(
            &format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT max(id) FROM {table}), 1))"
            ),
            &[],
        )
        .await
        .map_err(|e| target.error(&e))?;
    }
    tx.execute("UPDATE event_counter SET seq = (SELECT COALESCE(max(seq), 0) FROM events)", &[])
        .await
        .map_err(|e| target.error(&e))?;
    tx.commit().await.map_err(|e| target.error(&e))?;
    drop(client);
    index_search_backlog(target).await?;
    copy.blobs_verified = verify_pg(target).await?;
    compare_counts(&t, &copy, &pg_counts(target).await?)?;
    Ok(copy)
}

/// Copies the PostgreSQL store `source` into a new SQLite store at `target`.
pub async fn postgres_to_sqlite(source: &Postgres, target: &Path) -> Result<StoreCopy, StoreError> {
    if target.exists() {
        return Err(StoreError::BadCopy {
            path: target.to_owned(),
            problem: "exists already; choose another name".into(),
        });
    }
    // A new store with this build's schema, empty.
    drop(crate::Store::open(target)?);
    let mut dst = rusqlite::Connection::open(target).map_err(|e| StoreError::sqlite(target, &e))?;
    let mut client = source.client().await?;
    // One snapshot of the whole database: the copy is consistent even if a node writes.
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(|e| source.error(&e))?;
    let sql_err = |e: rusqlite::Error| StoreError::sqlite(target, &e);
    let mut copy = StoreCopy::default();
    for table in TABLES {
        let sq_cols = sqlite_columns(&dst, table).map_err(sql_err)?;
        let pg_cols = pg_columns(source, table).await?;
        let names: Vec<String> = pg_cols.iter().filter(|(c, _)| sq_cols.contains(c)).map(|(c, _)| quoted(c)).collect();
        let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
        let insert = format!("INSERT INTO {table} ({}) VALUES ({})", names.join(", "), placeholders.join(", "));
        let portal = tx
            .bind(&format!("SELECT {} FROM {table} ORDER BY 1", names.join(", ")), &[])
            .await
            .map_err(|e| source.error(&e))?;
        let mut copied = 0u64;
        loop {
            let rows = tx.query_portal(&portal, CHUNK as i32).await.map_err(|e| source.error(&e))?;
            if rows.is_empty() {
                break;
            }
            let batch = dst.transaction().map_err(sql_err)?;
            {
                let mut stmt = batch.prepare_cached(&insert).map_err(sql_err)?;
                for row in &rows {
                    let values: Vec<Value> = (0..row.len())
                        .map(|i| to_sqlite(row, i))
                        .collect::<Result<_, _>>()
                        .map_err(|e| source.error(&e))?;
                    stmt.execute(rusqlite::params_from_iter(values)).map_err(sql_err)?;
                    copied += 1;
                }
            }
            batch.commit().map_err(sql_err)?;
        }
        copy.tables.push(((*table).to_owned(), copied));
    }
    tx.commit().await.map_err(|e| source.error(&e))?;
    drop(dst);
    // Opening builds the full-text index of the copied messages (`indexed = 0`).
    drop(crate::Store::open(target)?);
    let report = crate::backup::verify(target)?;
    copy.blobs_verified = report.blobs;
    let counts = sqlite_counts(target)?;
    compare_counts(&target.display().to_string(), &copy, &counts)?;
    Ok(copy)
}

async fn refuse_unless_empty_pg(pg: &Postgres) -> Result<(), StoreError> {
    let client = pg.client().await?;
    let row = client
        .query_one("SELECT (SELECT count(*) FROM accounts) + (SELECT count(*) FROM messages)", &[])
        .await
        .map_err(|e| pg.error(&e))?;
    if row.get::<_, i64>(0) > 0 {
        return Err(copy_error(pg.target(), "already holds accounts or mail; copy only into an empty database"));
    }
    Ok(())
}

/// Computes the search vector of every message that has none, from its source.
async fn index_search_backlog(pg: &Postgres) -> Result<(), StoreError> {
    let client = pg.client().await?;
    let mut after = 0i64;
    loop {
        let rows = client
            .query(
                "SELECT m.id, b.codec, b.size, b.data FROM messages m JOIN blobs b ON b.hash = m.blob
                 WHERE m.search IS NULL AND m.id > $1 ORDER BY m.id LIMIT 200",
                &[&after],
            )
            .await
            .map_err(|e| pg.error(&e))?;
        let Some(last) = rows.last() else { return Ok(()) };
        after = last.get(0);
        for r in &rows {
            let raw = crate::blobs::unpack(Some(i64::from(r.get::<_, i16>(1))), r.get(2), r.get(3))
                .map_err(|e| copy_error(pg.target(), e.to_string()))?;
            let s = crate::index::derive(&raw).search;
            client
                .execute(
                    "UPDATE messages SET search = setweight(to_tsvector('german', $2), 'A')
                         || setweight(to_tsvector('german', $3), 'B') || setweight(to_tsvector('german', $4), 'C')
                         || setweight(to_tsvector('german', $5), 'D') WHERE id = $1",
                    &[
                        &r.get::<_, i64>(0),
                        &super::messages::indexed(&s.subject),
                        &super::messages::indexed(&s.addresses),
                        &super::messages::indexed(&s.attachments),
                        &super::messages::indexed(&s.body),
                    ],
                )
                .await
                .map_err(|e| pg.error(&e))?;
        }
    }
}

/// Checks every source on PostgreSQL against its hash; returns how many.
async fn verify_pg(pg: &Postgres) -> Result<u64, StoreError> {
    let client = pg.client().await?;
    let mut after = String::new();
    let mut n = 0;
    loop {
        let rows = client
            .query("SELECT hash, codec, size, data FROM blobs WHERE hash > $1 ORDER BY hash LIMIT 200", &[&after])
            .await
            .map_err(|e| pg.error(&e))?;
        let Some(last) = rows.last() else { return Ok(n) };
        after = last.get(0);
        for r in &rows {
            let hash: String = r.get(0);
            let raw = crate::blobs::unpack(Some(i64::from(r.get::<_, i16>(1))), r.get(2), r.get(3))
                .map_err(|e| copy_error(pg.target(), format!("source {hash}: {e}")))?;
            if blake3::hash(&raw).to_hex().as_str() != hash {
                return Err(copy_error(pg.target(), format!("source {hash} does not match its hash")));
            }
            n += 1;
        }
    }
}

async fn pg_counts(pg: &Postgres) -> Result<HashMap<String, u64>, StoreError> {
    let client = pg.client().await?;
    let mut counts = HashMap::new();
    for table in TABLES {
        let row = client.query_one(&format!("SELECT count(*) FROM {table}"), &[]).await.map_err(|e| pg.error(&e))?;
        counts.insert((*table).to_owned(), row.get::<_, i64>(0) as u64);
    }
    Ok(counts)
}

fn sqlite_counts(path: &Path) -> Result<HashMap<String, u64>, StoreError> {
    let conn = rusqlite::Connection::open(path).map_err(|e| StoreError::sqlite(path, &e))?;
    let mut counts = HashMap::new();
    for table in TABLES {
        let n: i64 = conn
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .map_err(|e| StoreError::sqlite(path, &e))?;
        counts.insert((*table).to_owned(), n as u64);
    }
    Ok(counts)
}

fn compare_counts(target: &str, copy: &StoreCopy, found: &HashMap<String, u64>) -> Result<(), StoreError> {
    for (table, n) in &copy.tables {
        let there = found.get(table).copied().unwrap_or(0);
        if there != *n {
            return Err(copy_error(target, format!("table {table}: {n} rows copied but {there} found there")));
        }
    }
    Ok(())
}
