//! The local store, the only crate that knows SQL: one SQLite database (WAL) holding
//! folders, messages, their server locations, raw content, routing assignments and the
//! event feed, behind typed async methods on [`Store`].
//!
//! Writes happen in batches, one transaction per batch, so a crash loses at most the
//! batch in flight, which the next sync fetches again. The store is shared by every
//! account task; SQLite serialises writers anyway, so one connection behind a mutex,
//! used from blocking threads, is both simplest and fastest. Read-only commands of the
//! CLI open their own connection.
//!
//! [`postgres`] is the PostgreSQL side for a cluster of daemons (`[store] url`): its
//! schema, the leases that say which node syncs which account, and the same typed
//! operations on PostgreSQL. Every public method of [`Store`] picks the backend first;
//! the SQLite helpers behind them refuse a PostgreSQL store
//! ([`StoreError::NotOnPostgres`]), so a method that forgot its PostgreSQL side fails
//! clearly instead of touching a SQLite file.

#![deny(missing_docs)]

/// `as_str`, `parse` and `Display` for an enum stored by name: the names are written once.
macro_rules! names {
    ($ty:ty { $($variant:ident => $name:literal),* $(,)? }) => {
        impl $ty {
            /// The stored (and `--json`) name.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $name),* }
            }

            /// The value with this stored name.
            #[allow(dead_code, reason = "event kinds are written, never read back by name")]
            pub(crate) fn parse(s: &str) -> Option<Self> {
                match s { $($name => Some(Self::$variant),)* _ => None }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

mod accounts;
mod audit;
mod backup;
mod blobs;
mod bodies;
mod changes;
mod events;
mod folders;
mod index;
mod manual;
mod messages;
mod oauth;
mod outbox;
mod pages;
mod plugins;
pub mod postgres;
mod routing;
mod schema;
mod search;
mod tokens;
mod webhooks;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

pub use accounts::{AccountRow, AccountStatus};
pub use audit::{AuditEntry, NewAuditEntry};
pub use backup::{CopyReport, MIGRATION_BACKUPS_KEPT, backup, restore, verify};
pub use bodies::{BodyError, BodySource};
pub use changes::{Change, ChangeState, Op};
pub use events::{Event, EventKind, EventQuery};
pub use manual::{MANUAL, ManualAssignment};
pub use messages::MessageFilter;
pub use oauth::{OAuthGrant, OAuthTokens};
pub use pages::{Cursor, MessageDetail, MessagePage, MessageQuery, MessageSummary};
pub use search::SearchQuery;
pub use tokens::{NewToken, Token};
pub use webhooks::WebhookCursor;
// The domain types in this crate's signatures, so callers need not name the model crate.
pub use outbox::{Entry as OutboxEntry, NewEntry as NewOutboxEntry, OutboxKind, OutboxState};
pub use plugins::{PluginRecord, PluginRow};
pub use postfach_model::{
    BatchStats, Checkpoint, FetchedMessage, FolderRow, Headers, Link, ListedFolder, PassOutcome, Place, StoredIdentity,
    content_key, identity_of,
};
pub use routing::{Answer, ApplyStats, RouteInput, RouteResult, Step, Trace};

/// Free space kept for the account states, events and API writes when mail no longer
/// fits (see [`Store::ensure_space`]).
pub const RESERVE_BYTES: u64 = 4 * 1024 * 1024;

/// Errors of the store. The path is part of the message so an admin knows which file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A SQLite call failed; `busy` says whether retrying may help.
    #[error("store {path}: {message}")]
    Sqlite {
        /// The database file (`<data_dir>/postfach.sqlite3`).
        path: PathBuf,
        /// SQLite's own words.
        message: String,
        /// The database was locked by another process (worth retrying).
        busy: bool,
    },
    /// The file system holding the store is full. Nothing was half-written (the
    /// transaction was rolled back); the same work succeeds once there is space.
    #[error("disk full: no space left for the store {path}; free space there and the work continues by itself")]
    DiskFull {
        /// The database file (`<data_dir>/postfach.sqlite3`).
        path: PathBuf,
    },
    /// The data directory could not be created.
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        /// The directory that could not be created (the database file's parent).
        path: PathBuf,
        /// Why it failed, in the OS's words.
        source: std::io::Error,
    },
    /// The database was written by a newer Postfach.
    #[error("store {path} has schema version {found}, newer than this postfachd ({known}); upgrade postfachd")]
    TooNew {
        /// The database file (`<data_dir>/postfach.sqlite3`).
        path: PathBuf,
        /// The file's schema version (`PRAGMA user_version`).
        found: i64,
        /// The newest schema version this build knows (its number of migrations).
        known: i64,
    },
    /// A blocking store task panicked or was cancelled.
    #[error("store task failed: {0}")]
    Task(String),
    /// A PostgreSQL call failed (`[store] url`), in the server's words.
    #[error("store {target}: {message}")]
    Postgres {
        /// The database URL, without any password.
        target: String,
        /// The server's (or the client library's) words.
        message: String,
    },
    /// A write for an account whose lease this node no longer holds: another node
    /// claimed the account (or the lease expired), so this node must stop syncing it.
    #[error("lease of account {account} lost (epoch {epoch} is no longer current); this node stopped syncing it")]
    Fenced {
        /// The account.
        account: String,
        /// The stale epoch the write carried.
        epoch: i64,
    },
    /// Another process joined the cluster under this node's id and took over its leases.
    #[error(
        "another postfachd joined the cluster as node {node} and took over its accounts; give each node its own [cluster] node_id"
    )]
    NodeReplaced {
        /// The node id both processes use.
        node: String,
        /// The accounts this process held until then.
        lost: Vec<String>,
    },
    /// An operation reached the SQLite code with a PostgreSQL store (a bug: every
    /// operation has a PostgreSQL side).
    #[error("store {target}: this operation is not available on PostgreSQL in this build; it works on SQLite")]
    NotOnPostgres {
        /// The database URL, without any password.
        target: String,
    },
    /// A backup (or the file to restore from) is missing, damaged, foreign or too new.
    #[error("{path}: {problem}")]
    BadCopy {
        /// The file.
        path: PathBuf,
        /// What is wrong with it, e.g. `fails SQLite's integrity check: …`.
        problem: String,
    },
}

/// The shared store: typed operations, each one transaction, as async methods. On
/// SQLite they run on a blocking thread (SQLite is synchronous); on PostgreSQL
/// (`[store] url`) they go through a connection pool. Cloning is cheap: clones share the
/// connections.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Sqlite(Arc<Inner>),
    Postgres(postgres::PgStore),
}

struct Inner {
    conn: Mutex<Connection>,
    /// Idle read-only connections for the API's queries: WAL lets them read while the
    /// writer writes, so a page of messages never waits for a sync batch.
    readers: Mutex<Vec<Connection>>,
    path: PathBuf,
}

/// Idle readers kept open; more are opened under load and closed afterwards.
const IDLE_READERS: usize = 8;

impl Inner {
    fn with<R>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<R>) -> Result<R, StoreError> {
        // A panic while holding the lock leaves SQLite itself consistent (the transaction
        // rolls back on drop), so a poisoned mutex is safe to keep using.
        let mut conn = self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut conn).map_err(|source| StoreError::sqlite(&self.path, &source))
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.backend {
            Backend::Sqlite(inner) => f.debug_struct("Store").field("path", &inner.path).finish_non_exhaustive(),
            Backend::Postgres(pg) => f.debug_struct("Store").field("url", &pg.target()).finish_non_exhaustive(),
        }
    }
}

impl Store {
    /// Opens (creating if needed) and migrates the database at `path`. Another process
    /// opening the same new store at the same moment (the daemon and a CLI call) can make
    /// the first statements report "locked"; those are retried for a few seconds.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let started = std::time::Instant::now();
        loop {
            match Self::try_open(path) {
                Err(StoreError::Sqlite { busy: true, .. }) if started.elapsed() < OPEN_RETRY => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                other => return other,
            }
        }
    }

    fn try_open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir { path: dir.to_owned(), source })?;
        }
        let sql = |source: rusqlite::Error| StoreError::sqlite(path, &source);
        let mut conn = Connection::open(path).map_err(sql)?;
        conn.busy_timeout(Duration::from_secs(30)).map_err(sql)?;
        // Before WAL, so that it applies to a new database (an existing one keeps its own).
        // Most messages are 2–16 KB: with 4 KB pages nearly every blob spills into
        // overflow pages. 16 KB pages cut the initial sync's CPU time by about a tenth
        // (`make bench`).
        conn.pragma_update(None, "page_size", 16384).map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sql)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(sql)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(sql)?;
        // Every write transaction takes the write lock when it begins. A deferred one that
        // reads first would get SQLITE_BUSY at once — without waiting for the busy timeout —
        // when another process (the daemon next to `sync --once`) committed in between.
        conn.set_transaction_behavior(TransactionBehavior::Immediate);
        migrate(&mut conn, path)?;
        let indexed = index::index_backlog(&mut conn).map_err(sql)?;
        if indexed > 0 {
            tracing::info!(messages = indexed, "indexed messages stored before the search index existed");
        }
        let (packed, saved) = blobs::pack_backlog(&mut conn).map_err(sql)?;
        if packed > 0 {
            tracing::info!(
                blobs = packed,
                bytes_saved = saved,
                "compressed message sources stored before compression existed"
            );
        }
        let inner = Inner { conn: Mutex::new(conn), readers: Mutex::new(Vec::new()), path: path.to_owned() };
        Ok(Store { backend: Backend::Sqlite(Arc::new(inner)) })
    }

    /// The store in a PostgreSQL database (`[store] url`), already connected and migrated
    /// by [`postgres::Postgres::connect`]. `node` is this daemon's `[cluster] node_id`
    /// and lease time when it runs as a cluster member: then account states of accounts
    /// other live nodes hold are left alone at start and stop, the outbox sends only the
    /// mail of accounts this node holds, and a webhook endpoint is delivered to by one
    /// node at a time.
    pub fn on_postgres(pg: postgres::Postgres, node: Option<(&str, Duration)>) -> Store {
        Store { backend: Backend::Postgres(postgres::PgStore::new(pg, node)) }
    }

    /// This store for the sync of one account under `lease`: on PostgreSQL, every write
    /// of the account's sync state checks in its own transaction that `node` still holds
    /// the lease with that epoch, and fails with [`StoreError::Fenced`] otherwise. On
    /// SQLite (one daemon, no leases) it is the same store.
    pub fn fenced(&self, node: &str, lease: postgres::leases::Lease) -> Store {
        match &self.backend {
            Backend::Sqlite(_) => self.clone(),
            Backend::Postgres(pg) => Store { backend: Backend::Postgres(pg.fenced(node, lease)) },
        }
    }

    /// The PostgreSQL pool, when the store is there (for the cluster's leases).
    pub fn postgres(&self) -> Option<&postgres::Postgres> {
        match &self.backend {
            Backend::Sqlite(_) => None,
            Backend::Postgres(pg) => Some(pg.pool()),
        }
    }

    /// The PostgreSQL side, when the store is there.
    fn pg(&self) -> Option<&postgres::PgStore> {
        match &self.backend {
            Backend::Sqlite(_) => None,
            Backend::Postgres(pg) => Some(pg),
        }
    }

    /// The SQLite side, or the error saying that `what` is not on PostgreSQL yet.
    fn sqlite(&self) -> Result<&Arc<Inner>, StoreError> {
        match &self.backend {
            Backend::Sqlite(inner) => Ok(inner),
            Backend::Postgres(pg) => Err(StoreError::NotOnPostgres { target: pg.target().to_owned() }),
        }
    }

    /// Fails with [`StoreError::DiskFull`] when writing `bytes` of mail would leave less
    /// than [`RESERVE_BYTES`] free on the store's file system (each byte counts twice:
    /// once in the write-ahead log, once in the database). Like Postfix's
    /// `queue_minfree`, this keeps room for the small writes that say what is going on.
    pub fn ensure_space(&self, bytes: u64) -> Result<(), StoreError> {
        // PostgreSQL's disk is the database server's: it reports a full disk itself.
        let Backend::Sqlite(inner) = &self.backend else { return Ok(()) };
        let dir = inner.path.parent().unwrap_or(Path::new("."));
        let Ok(fs) = rustix::fs::statvfs(dir) else { return Ok(()) };
        let available = fs.f_bavail.saturating_mul(fs.f_frsize);
        if available < bytes.saturating_mul(2).saturating_add(RESERVE_BYTES) {
            return Err(StoreError::DiskFull { path: inner.path.clone() });
        }
        Ok(())
    }

    /// The path of the database file this store was opened on; for a store on
    /// PostgreSQL, its URL without the password.
    pub fn path(&self) -> &Path {
        match &self.backend {
            Backend::Sqlite(inner) => &inner.path,
            Backend::Postgres(pg) => Path::new(pg.target()),
        }
    }

    /// Runs `f` on the connection, on the current thread (for the few callers that are
    /// blocking themselves, such as plugin host callbacks).
    fn with<R>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<R>) -> Result<R, StoreError> {
        self.sqlite()?.with(f)
    }

    /// Runs `f` on the connection on a blocking thread.
    async fn run<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<R> + Send + 'static,
    {
        let inner = Arc::clone(self.sqlite()?);
        tokio::task::spawn_blocking(move || inner.with(f)).await.map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// Runs the read-only `f` on one of the reader connections, on a blocking thread.
    async fn read<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<R> + Send + 'static,
    {
        let inner = Arc::clone(self.sqlite()?);
        tokio::task::spawn_blocking(move || {
            let sql = |source: rusqlite::Error| StoreError::sqlite(&inner.path, &source);
            let idle = inner.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let conn = match idle {
                Some(conn) => conn,
                None => {
                    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
                    let conn = Connection::open_with_flags(&inner.path, flags).map_err(sql)?;
                    conn.busy_timeout(Duration::from_secs(30)).map_err(sql)?;
                    conn
                }
            };
            let result = f(&conn).map_err(sql);
            let mut idle = inner.readers.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < IDLE_READERS {
                idle.push(conn);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// Runs `prepare` on a blocking thread without the connection's lock: parsing
    /// messages must not hold up other accounts' writes.
    async fn prepare<P, Prep>(&self, prepare: Prep) -> Result<P, StoreError>
    where
        P: Send + 'static,
        Prep: FnOnce() -> P + Send + 'static,
    {
        tokio::task::spawn_blocking(prepare).await.map_err(|e| StoreError::Task(e.to_string()))
    }
}

impl StoreError {
    fn sqlite(path: &Path, e: &rusqlite::Error) -> StoreError {
        if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
            return StoreError::DiskFull { path: path.to_owned() };
        }
        StoreError::Sqlite { path: path.to_owned(), message: sqlite_text(e), busy: is_busy(e) }
    }
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let sql = |source: rusqlite::Error| StoreError::sqlite(path, &source);
    let known = schema::MIGRATIONS.len() as i64;
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(sql)?;
    if current == known {
        // The common case (every CLI call): no write lock needed.
        return Ok(());
    }
    if current > 0 && current < known {
        // A copy of the old version first: a migration cannot be undone, and an older
        // postfachd cannot read the new schema.
        let kept = backup::before_migration(conn, path, current)?;
        tracing::info!(from = current, to = known, backup = %kept.display(), "migrating the store; the old version is kept");
    }
    // The daemon and a CLI command may open a new store at the same moment: read the
    // version under the write lock so each migration runs exactly once.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(sql)?;
    if version > known {
        return Err(StoreError::TooNew { path: path.to_owned(), found: version, known });
    }
    for (i, migration) in schema::MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(migration).map_err(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1).map_err(sql)?;
    }
    tx.commit().map_err(sql)
}

/// How long opening a store retries while another process holds it.
const OPEN_RETRY: Duration = Duration::from_secs(10);

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
}

/// SQLite's own message, once (rusqlite's Display repeats it).
fn sqlite_text(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(_, Some(message)) => message.clone(),
        other => other.to_string(),
    }
}

/// JSON-encodes a list of strings for a TEXT column.
fn json_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}

/// Decodes a TEXT column written by [`json_list`].
fn parse_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

#[cfg(test)]
mod tests;
