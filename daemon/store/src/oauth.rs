//! OAuth2 tokens per account: the refresh token `postfachd oauth authorize` obtained (or
//! the last one a rotating provider issued), the current access token with its lifetime,
//! and how the last refresh went. The daemon reads the access token here before each login
//! so every connection of an account (and a second process) shares one token.

use std::fmt;

use rusqlite::{OptionalExtension, params};

use super::StoreError;
use postfach_model::now_unix;

/// What is stored for one account. `Debug` never shows the tokens.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct OAuthGrant {
    /// The account id.
    pub account: String,
    /// The refresh token to use next.
    pub refresh_token: Option<String>,
    /// Hash of the configured refresh token the stored chain started from, so a token the
    /// admin puts into the file later wins over an older rotated one.
    pub seeded_from: Option<String>,
    /// The current access token.
    pub access_token: Option<String>,
    /// When the access token was obtained, in Unix milliseconds.
    pub access_obtained_ms: Option<i64>,
    /// When it expires, in Unix milliseconds.
    pub access_expires_ms: Option<i64>,
    /// When the last refresh (or authorization) succeeded, in Unix seconds.
    pub last_refresh: Option<i64>,
    /// Why the last refresh failed (the provider's words); cleared by a success.
    pub last_error: Option<String>,
}

impl fmt::Debug for OAuthGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthGrant")
            .field("account", &self.account)
            .field("has_refresh_token", &self.refresh_token.is_some())
            .field("has_access_token", &self.access_token.is_some())
            .field("access_expires_ms", &self.access_expires_ms)
            .field("last_refresh", &self.last_refresh)
            .field("last_error", &self.last_error)
            .finish()
    }
}

/// Tokens a provider just issued, to store. `Debug` never shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthTokens {
    /// The access token.
    pub access_token: String,
    /// When it was obtained, in Unix milliseconds.
    pub obtained_ms: i64,
    /// When it expires, in Unix milliseconds.
    pub expires_ms: i64,
    /// The refresh token to keep: a new (rotated) one, or the one that was used.
    pub refresh_token: Option<String>,
    /// Hash of the configured refresh token this chain started from (see
    /// [`OAuthGrant::seeded_from`]); `None` for a chain from `oauth authorize`.
    pub seeded_from: Option<String>,
}

impl fmt::Debug for OAuthTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthTokens").field("expires_ms", &self.expires_ms).finish_non_exhaustive()
    }
}

const COLUMNS: &str = "account, refresh_token, seeded_from, access_token, access_obtained_ms, access_expires_ms, \
                       last_refresh, last_error";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OAuthGrant> {
    Ok(OAuthGrant {
        account: r.get(0)?,
        refresh_token: r.get(1)?,
        seeded_from: r.get(2)?,
        access_token: r.get(3)?,
        access_obtained_ms: r.get(4)?,
        access_expires_ms: r.get(5)?,
        last_refresh: r.get(6)?,
        last_error: r.get(7)?,
    })
}

impl super::Store {
    /// The stored grant of an account, if any.
    pub async fn oauth_grant(&self, account: &str) -> Result<Option<OAuthGrant>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.oauth_grant(account).await;
        }
        let account = account.to_owned();
        // Read through the writer: a refresh another connection just committed must be seen.
        self.run(move |c| {
            c.prepare_cached(&format!("SELECT {COLUMNS} FROM oauth_tokens WHERE account = ?1"))?
                .query_row([account], row)
                .optional()
        })
        .await
    }

    /// Every stored grant, by account.
    pub async fn oauth_grants(&self) -> Result<Vec<OAuthGrant>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.oauth_grants().await;
        }
        self.read(|c| {
            let mut stmt = c.prepare(&format!("SELECT {COLUMNS} FROM oauth_tokens ORDER BY account"))?;
            let rows = stmt.query_map([], row)?;
            rows.collect()
        })
        .await
    }

    /// Stores freshly issued tokens and clears the last error. A refresh token of `None`
    /// keeps the stored one.
    pub async fn save_oauth_tokens(&self, account: &str, tokens: OAuthTokens) -> Result<(), StoreError> {
        if let Some(pg) = self.pg() {
            return pg.save_oauth_tokens(account, &tokens).await;
        }
        let account = account.to_owned();
        self.run(move |c| {
            c.execute(
                "INSERT INTO oauth_tokens (account, refresh_token, seeded_from, access_token, access_obtained_ms,
                                           access_expires_ms, last_refresh, last_error, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, ?7)
                 ON CONFLICT (account) DO UPDATE SET
                    refresh_token = COALESCE(excluded.refresh_token, refresh_token),
                    seeded_from = excluded.seeded_from,
                    access_token = excluded.access_token,
                    access_obtained_ms = excluded.access_obtained_ms,
                    access_expires_ms = excluded.access_expires_ms,
                    last_refresh = excluded.last_refresh,
                    last_error = NULL,
                    updated_at = excluded.updated_at",
                params![
                    account,
                    tokens.refresh_token,
                    tokens.seeded_from,
                    tokens.access_token,
                    tokens.obtained_ms,
                    tokens.expires_ms,
                    now_unix()
                ],
            )
            .map(drop)
        })
        .await
    }

    /// Records why a refresh failed. With `drop_access`, the access token is forgotten too
    /// (the provider revoked the grant).
    pub async fn oauth_failed(&self, account: &str, error: &str, drop_access: bool) -> Result<(), StoreError> {
        if let Some(pg) = self.pg() {
            return pg.oauth_failed(account, error, drop_access).await;
        }
        let (account, error) = (account.to_owned(), error.to_owned());
        self.run(move |c| {
            c.execute(
                "INSERT INTO oauth_tokens (account, last_error, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (account) DO UPDATE SET
                    last_error = excluded.last_error,
                    access_token = CASE WHEN ?4 THEN NULL ELSE access_token END,
                    access_expires_ms = CASE WHEN ?4 THEN NULL ELSE access_expires_ms END,
                    updated_at = excluded.updated_at",
                params![account, error, now_unix(), drop_access],
            )
            .map(drop)
        })
        .await
    }

    /// Forgets the access token (the server refused it before it expired: revoked, or the
    /// password changed), so the next login refreshes first. The refresh token stays.
    pub async fn forget_oauth_access(&self, account: &str) -> Result<(), StoreError> {
        if let Some(pg) = self.pg() {
            return pg.forget_oauth_access(account).await;
        }
        let account = account.to_owned();
        self.run(move |c| {
            c.execute(
                "UPDATE oauth_tokens SET access_token = NULL, access_expires_ms = NULL, updated_at = ?2
                 WHERE account = ?1",
                params![account, now_unix()],
            )
            .map(drop)
        })
        .await
    }

    /// Forgets every token of an account; `false` if there were none.
    pub async fn forget_oauth(&self, account: &str) -> Result<bool, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.forget_oauth(account).await;
        }
        let account = account.to_owned();
        self.run(move |c| Ok(c.execute("DELETE FROM oauth_tokens WHERE account = ?1", [account])? > 0)).await
    }
}
