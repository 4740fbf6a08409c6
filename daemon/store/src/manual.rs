//! Manual project assignments (`PUT /v1/messages/{id}/project`): a person's decision,
//! which routers never override. A manual "no project" is kept too, so a router cannot
//! assign the message again after a person took it out of a project.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;
use super::events::EventKind;
use super::messages::event;
use postfach_model::{MessageId, Timestamp, now_unix};

/// Who assigned a message by hand, and to what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualAssignment {
    /// The project, or `None` for "no project".
    pub project: Option<String>,
    /// The user who decided.
    pub user: String,
    /// When.
    pub at: Timestamp,
}

/// The plugin name recorded for a manual assignment (in `assignments`, traces, events).
pub const MANUAL: &str = "manual";

/// The manual assignment of a message, if any.
pub(crate) fn get(conn: &Connection, message: i64) -> rusqlite::Result<Option<ManualAssignment>> {
    conn.prepare_cached("SELECT project, user, at FROM manual_assignments WHERE message = ?1")?
        .query_row([message], |r| {
            Ok(ManualAssignment { project: r.get(0)?, user: r.get(1)?, at: Timestamp(r.get(2)?) })
        })
        .optional()
}

fn set(conn: &mut Connection, message: i64, project: Option<&str>, user: &str) -> rusqlite::Result<Option<EventKind>> {
    let tx = conn.transaction()?;
    let now = now_unix();
    let account: String = tx.query_row("SELECT account FROM messages WHERE id = ?1", [message], |r| r.get(0))?;
    tx.execute(
        "INSERT INTO manual_assignments (message, project, user, at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(message) DO UPDATE SET project = ?2, user = ?3, at = ?4",
        params![message, project, user, now],
    )?;
    let current: Option<String> =
        tx.query_row("SELECT project FROM assignments WHERE message = ?1", [message], |r| r.get(0)).optional()?;
    let reason = format!("set by {user}");
    let kind = match (current.as_deref(), project) {
        (None, None) => None,
        (Some(previous), None) => {
            tx.execute("DELETE FROM assignments WHERE message = ?1", [message])?;
            let detail = serde_json::json!({ "previous": previous, "plugin": MANUAL, "user": user }).to_string();
            event(&tx, &account, EventKind::Unrouted, Some(message), Some(&detail), now)?;
            Some(EventKind::Unrouted)
        }
        (old, Some(project)) => {
            tx.execute(
                "INSERT INTO assignments (message, project, plugin, reason, at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(message) DO UPDATE SET project = ?2, plugin = ?3, reason = ?4, at = ?5",
                params![message, project, MANUAL, reason, now],
            )?;
            match old {
                None => {
                    let detail = serde_json::json!({ "project": project, "plugin": MANUAL, "user": user }).to_string();
                    event(&tx, &account, EventKind::Routed, Some(message), Some(&detail), now)?;
                    Some(EventKind::Routed)
                }
                Some(previous) if previous != project => {
                    let detail = serde_json::json!({
                        "project": project, "previous": previous, "plugin": MANUAL, "user": user
                    })
                    .to_string();
                    event(&tx, &account, EventKind::Reassigned, Some(message), Some(&detail), now)?;
                    Some(EventKind::Reassigned)
                }
                Some(_) => None,
            }
        }
    };
    tx.commit()?;
    Ok(kind)
}

impl super::Store {
    /// Assigns a message to a project by hand (`None`: to no project); routers never
    /// change it afterwards. Returns the event written (`routed`, `reassigned`,
    /// `unrouted`), or `None` when the project did not change.
    pub async fn set_manual_project(
        &self,
        message: MessageId,
        project: Option<String>,
        user: &str,
    ) -> Result<Option<EventKind>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.set_manual_project(message.0, project.as_deref(), user).await;
        }
        let user = user.to_owned();
        self.run(move |c| set(c, message.0, project.as_deref(), &user)).await
    }

    /// Every manual assignment of an account's messages.
    pub async fn manual_projects(
        &self,
        account: &str,
    ) -> Result<std::collections::HashMap<MessageId, ManualAssignment>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.manual_projects(account).await;
        }
        let account = account.to_owned();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT x.message, x.project, x.user, x.at FROM manual_assignments x
                 JOIN messages m ON m.id = x.message WHERE m.account = ?1",
            )?;
            let rows = stmt.query_map([&account], |r| {
                Ok((
                    MessageId(r.get(0)?),
                    ManualAssignment { project: r.get(1)?, user: r.get(2)?, at: Timestamp(r.get(3)?) },
                ))
            })?;
            rows.collect()
        })
        .await
    }

    /// The manual assignment of a message, if a person made one.
    pub async fn manual_project(&self, message: MessageId) -> Result<Option<ManualAssignment>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.manual_project(message.0).await;
        }
        self.read(move |c| get(c, message.0)).await
    }
}
