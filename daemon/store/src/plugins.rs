//! Plugin states as the daemon last saw them, so `postfachd plugins` in another process
//! can show quarantines.

use rusqlite::{Connection, params};

use super::StoreError;
use postfach_model::now_unix;

/// A plugin's state to record (what the plugin host reports about one file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginRecord {
    /// Path of the `.wasm` file; the key of the record.
    pub file: String,
    /// The id the plugin reports, or the file stem when it could not be loaded.
    pub id: String,
    /// `provider-adapter` or `router`, when it loaded.
    pub kind: Option<String>,
    /// The `postfach:plugin` version it was built for (`0.2.0`); `None` when it did not load.
    pub api_version: Option<String>,
    /// BLAKE3 hex digest of the file's bytes.
    pub digest: String,
    /// `ok`, `quarantined` or `failed`.
    pub state: String,
    /// Why it is quarantined or failed.
    pub reason: Option<String>,
    /// Consecutive failed calls.
    pub failures: u32,
}

/// A recorded plugin state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginRow {
    /// Path of the `.wasm` file, as recorded.
    pub file: String,
    /// BLAKE3 of the file when recorded.
    pub digest: String,
    /// `ok`, `quarantined` or `failed`.
    pub state: String,
    /// Why it is quarantined or failed, or its last error; `None` when there is nothing to say.
    pub reason: Option<String>,
    /// Consecutive failed calls when the state was recorded.
    pub failures: u32,
}

/// Records a plugin's state.
pub(crate) fn record(conn: &Connection, info: &PluginRecord) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO plugins (file, id, kind, api_version, digest, state, reason, failures, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT(file) DO UPDATE SET id = ?2, kind = ?3, api_version = ?4, digest = ?5, state = ?6,
             reason = ?7, failures = ?8, updated_at = ?9",
        params![
            info.file,
            info.id,
            info.kind,
            info.api_version,
            info.digest,
            info.state,
            info.reason,
            info.failures,
            now_unix(),
        ],
    )?;
    Ok(())
}

/// Every recorded state.
pub(crate) fn list(conn: &Connection) -> rusqlite::Result<Vec<PluginRow>> {
    let mut stmt = conn.prepare("SELECT file, digest, state, reason, failures FROM plugins ORDER BY file")?;
    let rows = stmt.query_map([], |r| {
        Ok(PluginRow { file: r.get(0)?, digest: r.get(1)?, state: r.get(2)?, reason: r.get(3)?, failures: r.get(4)? })
    })?;
    rows.collect()
}

impl super::Store {
    /// Records a plugin's state. Blocking: the plugin host reports from its own threads.
    pub fn record_plugin(&self, record: &PluginRecord) -> Result<(), StoreError> {
        if let Some(pg) = self.pg() {
            let (pg, record) = (pg.clone(), record.clone());
            return crate::postgres::block_on(async move { pg.record_plugin(&record).await });
        }
        self.with(|c| super::plugins::record(c, record))
    }

    /// The recorded plugin states.
    pub async fn plugins(&self) -> Result<Vec<PluginRow>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.plugins().await;
        }
        self.run(|c| list(c)).await
    }
}
