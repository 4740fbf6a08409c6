//! Manual project assignments on PostgreSQL (see `crate::manual`): a person's decision
//! through the API, on any node, which routers never override.

use std::collections::HashMap;

use postfach_model::{MessageId, Timestamp, now_unix};

use super::PgStore;
use super::events::Events;
use crate::{EventKind, MANUAL, ManualAssignment, StoreError};

/// Serialises the writers of an account's project assignments (routing runs and manual
/// assignments) until the end of the transaction.
pub(super) async fn lock_assignments(
    tx: &impl deadpool_postgres::GenericClient,
    account: &str,
) -> Result<(), tokio_postgres::Error> {
    tx.execute("SELECT pg_advisory_xact_lock(hashtext('assignments:' || $1))", &[&account]).await.map(drop)
}

impl PgStore {
    pub(crate) async fn set_manual_project(
        &self,
        message: i64,
        project: Option<&str>,
        user: &str,
    ) -> Result<Option<EventKind>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(self.e())?;
        let now = now_unix();
        let user = super::text(user);
        let project = project.map(super::text);
        let account: String =
            tx.query_one("SELECT account FROM messages WHERE id = $1", &[&message]).await.map_err(self.e())?.get(0);
        lock_assignments(&tx, &account).await.map_err(self.e())?;
        tx.execute(
            "INSERT INTO manual_assignments (message, project, \"user\", at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (message) DO UPDATE SET project = $2, \"user\" = $3, at = $4",
            &[&message, &project, &user, &now],
        )
        .await
        .map_err(self.e())?;
        let current: Option<String> = tx
            .query_opt("SELECT project FROM assignments WHERE message = $1", &[&message])
            .await
            .map_err(self.e())?
            .map(|r| r.get(0));
        let mut events = Events::default();
        let kind = match (current.as_deref(), project.as_deref()) {
            (None, None) => None,
            (Some(previous), None) => {
                tx.execute("DELETE FROM assignments WHERE message = $1", &[&message]).await.map_err(self.e())?;
                let detail = serde_json::json!({ "previous": previous, "plugin": MANUAL, "user": user }).to_string();
                events.push(&account, EventKind::Unrouted, Some(message), Some(detail), now);
                Some(EventKind::Unrouted)
            }
            (old, Some(project)) => {
                tx.execute(
                    "INSERT INTO assignments (message, project, plugin, reason, at) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (message) DO UPDATE SET project = $2, plugin = $3, reason = $4, at = $5",
                    &[&message, &project, &MANUAL, &format!("set by {user}"), &now],
                )
                .await
                .map_err(self.e())?;
                match old {
                    None => {
                        let detail =
                            serde_json::json!({ "project": project, "plugin": MANUAL, "user": user }).to_string();
                        events.push(&account, EventKind::Routed, Some(message), Some(detail), now);
                        Some(EventKind::Routed)
                    }
                    Some(previous) if previous != project => {
                        let detail = serde_json::json!({
                            "project": project, "previous": previous, "plugin": MANUAL, "user": user
                        })
                        .to_string();
                        events.push(&account, EventKind::Reassigned, Some(message), Some(detail), now);
                        Some(EventKind::Reassigned)
                    }
                    Some(_) => None,
                }
            }
        };
        events.write(&tx).await.map_err(self.e())?;
        tx.commit().await.map_err(self.e())?;
        Ok(kind)
    }

    pub(crate) async fn manual_projects(
        &self,
        account: &str,
    ) -> Result<HashMap<MessageId, ManualAssignment>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT x.message, x.project, x.\"user\", x.at FROM manual_assignments x
                 JOIN messages m ON m.id = x.message WHERE m.account = $1",
                &[&account],
            )
            .await
            .map_err(self.e())?;
        Ok(rows
            .iter()
            .map(|r| {
                (MessageId(r.get(0)), ManualAssignment { project: r.get(1), user: r.get(2), at: Timestamp(r.get(3)) })
            })
            .collect())
    }

    pub(crate) async fn manual_project(&self, message: i64) -> Result<Option<ManualAssignment>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT project, \"user\", at FROM manual_assignments WHERE message = $1", &[&message])
            .await
            .map_err(self.e())?;
        Ok(row.map(|r| ManualAssignment { project: r.get(0), user: r.get(1), at: Timestamp(r.get(2)) }))
    }
}
