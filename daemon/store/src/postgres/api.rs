//! What the Integration API keeps on PostgreSQL beyond the mail (see `crate::tokens`,
//! `crate::audit`, `crate::search`): its tokens and audit trail, shared by the nodes so
//! a token works on every node and every write is in one trail, and full-text search with
//! PostgreSQL's German configuration (stems, stop words), ranked by `ts_rank` with the
//! subject weighted highest, as the SQLite index weights its columns.

use postfach_model::{MessageId, Timestamp, now_unix};

use super::PgStore;
use crate::{
    AuditEntry, MessageSummary, NewAuditEntry, NewToken, SearchQuery, StoreError, Token, json_list, parse_list,
};

const TOKEN_COLUMNS: &str = "id, \"user\", admin, scopes, accounts, created_at, expires_at, last_used_at, revoked_at";

fn token(r: &tokio_postgres::Row) -> Token {
    let scopes: String = r.get(3);
    Token {
        id: r.get(0),
        user: r.get(1),
        admin: r.get(2),
        scopes: scopes.split_whitespace().map(str::to_owned).collect(),
        accounts: parse_list(r.get(4)),
        created_at: Timestamp(r.get(5)),
        expires_at: r.get::<_, Option<i64>>(6).map(Timestamp),
        last_used_at: r.get::<_, Option<i64>>(7).map(Timestamp),
        revoked_at: r.get::<_, Option<i64>>(8).map(Timestamp),
    }
}

impl PgStore {
    pub(crate) async fn create_token(&self, t: &NewToken) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO api_tokens (id, hash, \"user\", admin, scopes, accounts, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &t.id,
                    &t.hash,
                    &super::text(&t.user),
                    &t.admin,
                    &super::text(&t.scopes.join(" ")),
                    &super::text(&json_list(&t.accounts)),
                    &now_unix(),
                    &t.expires_at.map(|e| e.0),
                ],
            )
            .await
            .map_err(self.e())?;
        Ok(())
    }

    pub(crate) async fn tokens(&self) -> Result<Vec<Token>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY created_at, id"), &[])
            .await
            .map_err(self.e())?;
        Ok(rows.iter().map(token).collect())
    }

    pub(crate) async fn token_by_hash(&self, hash: &str) -> Result<Option<Token>, StoreError> {
        let client = self.client().await?;
        let r = client
            .query_opt(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE hash = $1"), &[&hash])
            .await
            .map_err(self.e())?;
        Ok(r.as_ref().map(token))
    }

    pub(crate) async fn touch_token(&self, id: &str) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE api_tokens SET last_used_at = $2
                 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2 - 60)",
                &[&id, &now_unix()],
            )
            .await
            .map_err(self.e())?;
        Ok(())
    }

    pub(crate) async fn revoke_token(&self, id: &str) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute("UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1", &[&id, &now_unix()])
            .await
            .map_err(self.e())?;
        Ok(n > 0)
    }

    pub(crate) async fn record_audit(&self, e: &NewAuditEntry) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO audit (at, \"user\", token, action, account, target, status, detail)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &now_unix(),
                    &super::text(&e.user),
                    &e.token,
                    &super::text(&e.action),
                    &e.account,
                    &super::opt_text(&e.target),
                    &i32::from(e.status),
                    &super::opt_text(&e.detail),
                ],
            )
            .await
            .map_err(self.e())?;
        Ok(())
    }

    pub(crate) async fn audit(&self, before: Option<i64>, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, at, \"user\", token, action, account, target, status, detail FROM audit
                 WHERE id < $1 ORDER BY id DESC LIMIT $2",
                &[&before.unwrap_or(i64::MAX), &(limit as i64)],
            )
            .await
            .map_err(self.e())?;
        Ok(rows
            .iter()
            .map(|r| AuditEntry {
                id: r.get(0),
                at: Timestamp(r.get(1)),
                write: NewAuditEntry {
                    user: r.get(2),
                    token: r.get(3),
                    action: r.get(4),
                    account: r.get(5),
                    target: r.get(6),
                    status: r.get::<_, i32>(7).clamp(0, i32::from(u16::MAX)) as u16,
                    detail: r.get(8),
                },
            })
            .collect())
    }

    pub(crate) async fn search(&self, q: &SearchQuery) -> Result<Vec<MessageSummary>, StoreError> {
        let text = super::text(q.text.trim()).into_owned();
        if text.is_empty() {
            return Ok(Vec::new());
        }
        let client = self.client().await?;
        // `websearch_to_tsquery` takes what people type: words, "phrases", or, -not.
        let rows = client
            .query(
                "SELECT m.id FROM messages m LEFT JOIN assignments a ON a.message = m.id,
                     websearch_to_tsquery('german', $1) q
                 WHERE m.search @@ q
                   AND ($2::text[] IS NULL OR m.account = ANY($2))
                   AND ($3::text IS NULL OR m.account = $3)
                   AND ($4::text IS NULL OR a.project = $4)
                 ORDER BY ts_rank('{0.1, 0.3, 0.5, 1.0}', m.search, q) DESC, m.id DESC
                 LIMIT $5",
                &[&text, &q.visible, &q.account, &q.project, &(q.limit as i64)],
            )
            .await
            .map_err(self.e())?;
        drop(client);
        let ids: Vec<MessageId> = rows.iter().map(|r| MessageId(r.get(0))).collect();
        self.message_summaries(&ids).await
    }
}
