//! Full-text search over the `search` index (FTS5): subject, addresses, body text and
//! attachment names, ranked by bm25 with the subject weighted highest.

use rusqlite::Connection;
use rusqlite::types::Value;

use super::StoreError;
use super::pages::{MessageSummary, summaries};
use postfach_model::MessageId;

/// A search.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    /// What the user typed.
    pub text: String,
    /// Only these accounts (the caller's visible ones); `None` for every account.
    pub visible: Option<Vec<String>>,
    /// Only this account.
    pub account: Option<String>,
    /// Only this project.
    pub project: Option<String>,
    /// At most this many results.
    pub limit: usize,
}

fn search(conn: &Connection, q: &SearchQuery) -> rusqlite::Result<Vec<MessageSummary>> {
    let Some(expr) = postfach_content::fold::match_expression(&q.text) else { return Ok(Vec::new()) };
    let mut sql = String::from(
        "SELECT s.rowid FROM search s JOIN messages m ON m.id = s.rowid
         LEFT JOIN assignments a ON a.message = m.id WHERE search MATCH ?1",
    );
    let mut args: Vec<Value> = vec![Value::Text(expr)];
    if let Some(visible) = &q.visible {
        args.push(Value::Text(serde_json::to_string(visible).unwrap_or_else(|_| "[]".to_owned())));
        sql.push_str(&format!(" AND m.account IN (SELECT value FROM json_each(?{}))", args.len()));
    }
    if let Some(account) = &q.account {
        args.push(Value::Text(account.clone()));
        sql.push_str(&format!(" AND m.account = ?{}", args.len()));
    }
    if let Some(project) = &q.project {
        args.push(Value::Text(project.clone()));
        sql.push_str(&format!(" AND a.project = ?{}", args.len()));
    }
    args.push(Value::Integer(q.limit as i64));
    // Weights per column: subject, addresses, body, attachment names.
    sql.push_str(&format!(" ORDER BY bm25(search, 10.0, 5.0, 1.0, 3.0), m.id DESC LIMIT ?{}", args.len()));
    let mut stmt = conn.prepare_cached(&sql)?;
    let ids: Vec<MessageId> = stmt
        .query_map(rusqlite::params_from_iter(args.iter()), |r| r.get(0).map(MessageId))?
        .collect::<rusqlite::Result<_>>()?;
    summaries(conn, &ids)
}

impl super::Store {
    /// Ranked full-text search; best match first.
    pub async fn search(&self, query: SearchQuery) -> Result<Vec<MessageSummary>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.search(&query).await;
        }
        self.read(move |c| search(c, &query)).await
    }
}
