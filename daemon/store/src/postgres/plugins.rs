//! Plugin states on PostgreSQL (see `crate::plugins`), shared by the nodes: every node
//! loads the same plugin files, so one row per file says how it fares.

use postfach_model::now_unix;

use super::PgStore;
use crate::{PluginRecord, PluginRow, StoreError};

impl PgStore {
    pub(crate) async fn record_plugin(&self, info: &PluginRecord) -> Result<(), StoreError> {
        let client = self.client().await?;
        let failures = info.failures.min(i32::MAX as u32) as i32;
        client
            .execute(
                "INSERT INTO plugins (file, id, kind, api_version, digest, state, reason, failures, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (file) DO UPDATE SET id = $2, kind = $3, api_version = $4, digest = $5, state = $6,
                     reason = $7, failures = $8, updated_at = $9",
                &[
                    &super::text(&info.file),
                    &super::text(&info.id),
                    &info.kind,
                    &info.api_version,
                    &info.digest,
                    &info.state,
                    &super::opt_text(&info.reason),
                    &failures,
                    &now_unix(),
                ],
            )
            .await
            .map_err(self.e())?;
        Ok(())
    }

    pub(crate) async fn plugins(&self) -> Result<Vec<PluginRow>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT file, digest, state, reason, failures FROM plugins ORDER BY file", &[])
            .await
            .map_err(self.e())?;
        Ok(rows
            .iter()
            .map(|r| PluginRow {
                file: r.get(0),
                digest: r.get(1),
                state: r.get(2),
                reason: r.get(3),
                failures: r.get::<_, i32>(4).max(0) as u32,
            })
            .collect())
    }
}
