//! API tokens: who a bearer token speaks for, what it may do, and when it was last used.
//! Only a hash of each token is stored; the token itself is shown once, at creation.

use rusqlite::{Connection, OptionalExtension, params};

use super::{StoreError, json_list, parse_list};
use postfach_model::{Timestamp, now_unix};

/// A stored token (never the secret itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The public id (`tok_…`), for `token list` and `token revoke`.
    pub id: String,
    /// The user it acts as.
    pub user: String,
    /// Whether it sees and may do everything.
    pub admin: bool,
    /// `read`, `write`, `send`, `metrics`.
    pub scopes: Vec<String>,
    /// Accounts it is limited to; empty means every account its user may see.
    pub accounts: Vec<String>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it stops working; `None` for never.
    pub expires_at: Option<Timestamp>,
    /// When it was last presented.
    pub last_used_at: Option<Timestamp>,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
}

/// A token to store: everything but the usage times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    /// The public id (`tok_…`).
    pub id: String,
    /// Hash of the secret (hex), as the API computes it from a presented token.
    pub hash: String,
    /// The user it acts as.
    pub user: String,
    /// Whether it sees and may do everything.
    pub admin: bool,
    /// `read`, `write`, `send`, `metrics`.
    pub scopes: Vec<String>,
    /// Accounts it is limited to; empty for no limit.
    pub accounts: Vec<String>,
    /// When it stops working.
    pub expires_at: Option<Timestamp>,
}

const COLUMNS: &str = "id, user, admin, scopes, accounts, created_at, expires_at, last_used_at, revoked_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Token> {
    Ok(Token {
        id: r.get(0)?,
        user: r.get(1)?,
        admin: r.get(2)?,
        scopes: r.get::<_, String>(3)?.split_whitespace().map(str::to_owned).collect(),
        accounts: parse_list(&r.get::<_, String>(4)?),
        created_at: Timestamp(r.get(5)?),
        expires_at: r.get::<_, Option<i64>>(6)?.map(Timestamp),
        last_used_at: r.get::<_, Option<i64>>(7)?.map(Timestamp),
        revoked_at: r.get::<_, Option<i64>>(8)?.map(Timestamp),
    })
}

fn by_hash(conn: &Connection, hash: &str) -> rusqlite::Result<Option<Token>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM api_tokens WHERE hash = ?1"))?.query_row([hash], row).optional()
}

impl super::Store {
    /// Stores a new token.
    pub async fn create_token(&self, token: NewToken) -> Result<(), StoreError> {
        if let Some(pg) = self.pg() {
            return pg.create_token(&token).await;
        }
        self.run(move |c| {
            c.execute(
                "INSERT INTO api_tokens (id, hash, user, admin, scopes, accounts, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    token.id,
                    token.hash,
                    token.user,
                    token.admin,
                    token.scopes.join(" "),
                    json_list(&token.accounts),
                    now_unix(),
                    token.expires_at.map(|t| t.0)
                ],
            )
            .map(drop)
        })
        .await
    }

    /// Every token, oldest first (revoked ones included, marked).
    pub async fn tokens(&self) -> Result<Vec<Token>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.tokens().await;
        }
        self.read(|c| {
            let mut stmt = c.prepare(&format!("SELECT {COLUMNS} FROM api_tokens ORDER BY created_at, id"))?;
            let rows = stmt.query_map([], row)?;
            rows.collect()
        })
        .await
    }

    /// The token with this hash, if any (revoked and expired ones too: the caller says why
    /// it is refused).
    pub async fn token_by_hash(&self, hash: &str) -> Result<Option<Token>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.token_by_hash(hash).await;
        }
        let hash = hash.to_owned();
        self.read(move |c| by_hash(c, &hash)).await
    }

    /// Records that a token was used now. Written at most once a minute per token, so
    /// busy clients do not turn every read into a write.
    pub async fn touch_token(&self, id: &str) -> Result<(), StoreError> {
        if let Some(pg) = self.pg() {
            return pg.touch_token(id).await;
        }
        let id = id.to_owned();
        self.run(move |c| {
            let now = now_unix();
            c.prepare_cached(
                "UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2 - 60)",
            )?
            .execute(params![id, now])
            .map(drop)
        })
        .await
    }

    /// Revokes a token; `false` if there is no such token.
    pub async fn revoke_token(&self, id: &str) -> Result<bool, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.revoke_token(id).await;
        }
        let id = id.to_owned();
        self.run(move |c| {
            let n = c.execute(
                "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
                params![id, now_unix()],
            )?;
            Ok(n > 0)
        })
        .await
    }
}
