//! Messages as the API and the CLI list and show them, on PostgreSQL (see
//! `crate::pages`): keyset pages by local id, one message with its source, and where
//! each message is on the server.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use postfach_model::MessageId;
use tokio_postgres::types::ToSql;

use super::PgStore;
use crate::messages::MessageFilter;
use crate::pages::{Cursor, MessageDetail, MessagePage, MessageQuery, MessageSummary};
use crate::{StoreError, parse_list};

const SELECT: &str = "SELECT m.id, m.account, m.message_id, m.subject, m.from_addr, m.to_addrs, m.cc_addrs, m.date,
        a.project, m.size, m.thread_id, m.has_attachments, COALESCE(m.snippet, '')
     FROM messages m LEFT JOIN assignments a ON a.message = m.id";

fn summary(r: &tokio_postgres::Row) -> MessageSummary {
    MessageSummary {
        local_id: MessageId(r.get(0)),
        account: r.get(1),
        message_id: r.get(2),
        subject: r.get(3),
        from: parse_list(r.get(4)),
        to: parse_list(r.get(5)),
        cc: parse_list(r.get(6)),
        date: r.get(7),
        project: r.get(8),
        size: r.get::<_, i64>(9) as u64,
        thread_id: r.get(10),
        has_attachments: r.get(11),
        snippet: r.get(12),
        folder: None,
        uid: None,
        flags: Vec::new(),
        on_server: false,
        folders: Vec::new(),
    }
}

/// A query's SQL with its parameters, numbered as they are added.
#[derive(Default)]
struct Query {
    sql: String,
    args: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Query {
    /// Appends ` AND clause`, where `$#` stands for `value`'s placeholder.
    fn and(&mut self, clause: &str, value: impl ToSql + Sync + Send + 'static) {
        self.args.push(Box::new(value));
        self.sql.push_str(" AND ");
        self.sql.push_str(&clause.replace("$#", &format!("${}", self.args.len())));
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.args.iter().map(|a| a.as_ref() as &(dyn ToSql + Sync)).collect()
    }
}

/// Fills in where each message is on the server (see `crate::pages::locate`), in one
/// query for all of them.
async fn locate(
    client: &impl GenericClient,
    rows: &mut [MessageSummary],
    wanted: Option<&str>,
) -> Result<(), tokio_postgres::Error> {
    let ids: Vec<i64> = rows.iter().map(|r| r.local_id.0).collect();
    let found = client
        .query(
            "SELECT l.message, f.name, l.uid, l.flags, l.on_server FROM locations l JOIN folders f ON f.id = l.folder
             WHERE l.message = ANY($1) ORDER BY l.message, l.on_server DESC, (f.role = 'inbox') DESC, f.name",
            &[&ids],
        )
        .await?;
    let mut by_message: HashMap<i64, Vec<(String, i64, String, bool)>> = HashMap::new();
    for r in &found {
        by_message.entry(r.get(0)).or_default().push((r.get(1), r.get(2), r.get(3), r.get(4)));
    }
    for row in rows {
        let locs = by_message.remove(&row.local_id.0).unwrap_or_default();
        let shown = match wanted {
            Some(f) => locs.iter().find(|l| l.0 == f && l.3),
            None => locs.first(),
        };
        row.on_server = locs.iter().any(|l| l.3);
        row.folders = locs.iter().filter(|l| l.3).map(|l| l.0.clone()).collect();
        if let Some((name, uid, flags, _)) = shown {
            row.folder = Some(name.clone());
            row.uid = Some(*uid as u32);
            row.flags = flags.split_whitespace().map(str::to_owned).collect();
        }
    }
    Ok(())
}

impl PgStore {
    pub(crate) async fn message_page(&self, q: &MessageQuery) -> Result<MessagePage, StoreError> {
        let mut query = Query { sql: format!("{SELECT} WHERE TRUE"), args: Vec::new() };
        if let Some(visible) = &q.visible {
            query.and("m.account = ANY($#)", visible.clone());
        }
        if let Some(account) = &q.account {
            query.and("m.account = $#", account.clone());
        }
        if let Some(project) = &q.project {
            query.and("a.project = $#", project.clone());
        }
        if let Some(thread) = &q.thread {
            query.and("m.thread_id = $#", thread.clone());
        }
        if let Some(since) = q.since {
            query.and("m.date >= $#", since);
        }
        if let Some(folder) = &q.folder {
            query.and(
                "EXISTS (SELECT 1 FROM locations l JOIN folders f ON f.id = l.folder
                         WHERE l.message = m.id AND f.name = $# AND l.on_server)",
                folder.clone(),
            );
        }
        if let Some(unread) = q.unread {
            let seen = "EXISTS (SELECT 1 FROM locations l WHERE l.message = m.id AND l.on_server
                        AND (' ' || l.flags || ' ') LIKE '% \\Seen %')";
            query.sql.push_str(if unread { " AND NOT " } else { " AND " });
            query.sql.push_str(seen);
        }
        if let Some(Cursor(id)) = q.cursor.filter(|_| !q.oldest_first) {
            query.and("m.id < $#", id);
        }
        query.args.push(Box::new(q.limit as i64 + 1));
        let order = if q.oldest_first { "COALESCE(m.date, 0), m.id" } else { "m.id DESC" };
        query.sql.push_str(&format!(" ORDER BY {order} LIMIT ${}", query.args.len()));
        let client = self.client().await?;
        let rows = client.query(&query.sql, &query.params()).await.map_err(self.e())?;
        let mut items: Vec<MessageSummary> = rows.iter().map(summary).collect();
        let next = if items.len() > q.limit {
            items.truncate(q.limit);
            items.last().map(|m| Cursor(m.local_id.0))
        } else {
            None
        };
        locate(&client, &mut items, q.folder.as_deref()).await.map_err(self.e())?;
        Ok(MessagePage { items, next })
    }

    pub(crate) async fn message_detail(&self, id: i64) -> Result<Option<MessageDetail>, StoreError> {
        let client = self.client().await?;
        let Some(row) = client.query_opt(&format!("{SELECT} WHERE m.id = $1"), &[&id]).await.map_err(self.e())? else {
            return Ok(None);
        };
        let mut summary = summary(&row);
        locate(&client, std::slice::from_mut(&mut summary), None).await.map_err(self.e())?;
        let r = client
            .query_one(
                "SELECT m.in_reply_to, m.refs, b.codec, b.size, b.data FROM messages m JOIN blobs b ON b.hash = m.blob
                 WHERE m.id = $1",
                &[&id],
            )
            .await
            .map_err(self.e())?;
        let raw = crate::blobs::unpack(Some(i64::from(r.get::<_, i16>(2))), r.get(3), r.get(4))
            .map_err(|e| StoreError::Postgres { target: self.target().to_owned(), message: e.to_string() })?;
        Ok(Some(MessageDetail { summary, in_reply_to: r.get(0), references: parse_list(r.get(1)), raw }))
    }

    pub(crate) async fn message_count(&self, account: &str) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let r = client
            .query_one("SELECT COUNT(*) FROM messages WHERE account = $1", &[&account])
            .await
            .map_err(self.e())?;
        Ok(r.get::<_, i64>(0) as u64)
    }

    pub(crate) async fn message_summaries(&self, ids: &[MessageId]) -> Result<Vec<MessageSummary>, StoreError> {
        let client = self.client().await?;
        let wanted: Vec<i64> = ids.iter().map(|m| m.0).collect();
        let rows = client.query(&format!("{SELECT} WHERE m.id = ANY($1)"), &[&wanted]).await.map_err(self.e())?;
        let mut by_id: HashMap<i64, MessageSummary> = rows.iter().map(|r| (r.get(0), summary(r))).collect();
        // In the order given.
        let mut out: Vec<MessageSummary> = wanted.iter().filter_map(|id| by_id.remove(id)).collect();
        locate(&client, &mut out, None).await.map_err(self.e())?;
        Ok(out)
    }

    /// `postfachd messages`: by Date, newest first.
    pub(crate) async fn messages(&self, filter: &MessageFilter) -> Result<Vec<MessageSummary>, StoreError> {
        let mut query = Query { sql: format!("{SELECT} WHERE TRUE"), args: Vec::new() };
        if let Some(account) = &filter.account {
            query.and("m.account = $#", account.clone());
        }
        if let Some(project) = &filter.project {
            query.and("a.project = $#", project.clone());
        }
        if let Some(folder) = &filter.folder {
            query.and(
                "EXISTS (SELECT 1 FROM locations l JOIN folders f ON f.id = l.folder
                         WHERE l.message = m.id AND f.name = $# AND l.on_server)",
                folder.clone(),
            );
        }
        query.sql.push_str(" ORDER BY m.date DESC NULLS LAST, m.id DESC");
        let client = self.client().await?;
        let rows = client.query(&query.sql, &query.params()).await.map_err(self.e())?;
        let mut items: Vec<MessageSummary> = rows.iter().map(summary).collect();
        locate(&client, &mut items, filter.folder.as_deref()).await.map_err(self.e())?;
        Ok(items)
    }
}
