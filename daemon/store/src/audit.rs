//! The audit trail: every write made through the API, by whom (user and token), what,
//! on which account, and how it ended. Read by admins (`GET /v1/audit`, `postfachd audit`).

use rusqlite::params;

use super::StoreError;
use postfach_model::{Timestamp, now_unix};

/// One audited write, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Sequence number, growing.
    pub id: i64,
    /// When it happened.
    pub at: Timestamp,
    /// What was recorded.
    pub write: NewAuditEntry,
}

/// A write to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEntry {
    /// The user the token acts as.
    pub user: String,
    /// The token's public id.
    pub token: Option<String>,
    /// What was asked, e.g. `PATCH /v1/messages/{local_id}`.
    pub action: String,
    /// The account concerned, if any.
    pub account: Option<String>,
    /// The object concerned: a message's local id, an outbox id.
    pub target: Option<String>,
    /// The HTTP status of the answer.
    pub status: u16,
    /// A short JSON summary of the request (never message content or secrets).
    pub detail: Option<String>,
}

impl super::Store {
    /// Records one write.
    pub async fn record_audit(&self, entry: NewAuditEntry) -> Result<(), StoreError> {
        if let Some(pg) = self.pg() {
            return pg.record_audit(&entry).await;
        }
        self.run(move |c| {
            c.prepare_cached(
                "INSERT INTO audit (at, user, token, action, account, target, status, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                now_unix(),
                entry.user,
                entry.token,
                entry.action,
                entry.account,
                entry.target,
                entry.status,
                entry.detail
            ])
            .map(drop)
        })
        .await
    }

    /// The newest audit entries with an id below `before` (all when `None`), newest first.
    pub async fn audit(&self, before: Option<i64>, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.audit(before, limit).await;
        }
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, at, user, token, action, account, target, status, detail FROM audit
                 WHERE id < ?1 ORDER BY id DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![before.unwrap_or(i64::MAX), limit as i64], |r| {
                Ok(AuditEntry {
                    id: r.get(0)?,
                    at: Timestamp(r.get(1)?),
                    write: NewAuditEntry {
                        user: r.get(2)?,
                        token: r.get(3)?,
                        action: r.get(4)?,
                        account: r.get(5)?,
                        target: r.get(6)?,
                        status: r.get(7)?,
                        detail: r.get(8)?,
                    },
                })
            })?;
            rows.collect()
        })
        .await
    }
}
