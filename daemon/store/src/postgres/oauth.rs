//! OAuth2 grants on PostgreSQL (see `crate::oauth`), shared by the nodes, so every node
//! logs in with the same access token and a rotating provider never sees a used refresh
//! token twice.

use postfach_model::now_unix;

use super::PgStore;
use crate::{OAuthGrant, OAuthTokens, StoreError};

const OAUTH: &str = "account, refresh_token, seeded_from, access_token, access_obtained_ms, access_expires_ms,
    last_refresh, last_error";

fn grant(r: &tokio_postgres::Row) -> OAuthGrant {
    OAuthGrant {
        account: r.get(0),
        refresh_token: r.get(1),
        seeded_from: r.get(2),
        access_token: r.get(3),
        access_obtained_ms: r.get(4),
        access_expires_ms: r.get(5),
        last_refresh: r.get(6),
        last_error: r.get(7),
    }
}

impl PgStore {
    pub(crate) async fn oauth_grant(&self, account: &str) -> Result<Option<OAuthGrant>, StoreError> {
        let client = self.client().await?;
        let r = client
            .query_opt(&format!("SELECT {OAUTH} FROM oauth_tokens WHERE account = $1"), &[&account])
            .await
            .map_err(self.e())?;
        Ok(r.as_ref().map(grant))
    }

    pub(crate) async fn oauth_grants(&self) -> Result<Vec<OAuthGrant>, StoreError> {
        let client = self.client().await?;
        let rows =
            client.query(&format!("SELECT {OAUTH} FROM oauth_tokens ORDER BY account"), &[]).await.map_err(self.e())?;
        Ok(rows.iter().map(grant).collect())
    }

    pub(crate) async fn save_oauth_tokens(&self, account: &str, t: &OAuthTokens) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO oauth_tokens (account, refresh_token, seeded_from, access_token, access_obtained_ms,
                                           access_expires_ms, last_refresh, last_error, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $7)
                 ON CONFLICT (account) DO UPDATE SET
                    refresh_token = COALESCE(EXCLUDED.refresh_token, oauth_tokens.refresh_token),
                    seeded_from = EXCLUDED.seeded_from,
                    access_token = EXCLUDED.access_token,
                    access_obtained_ms = EXCLUDED.access_obtained_ms,
                    access_expires_ms = EXCLUDED.access_expires_ms,
                    last_refresh = EXCLUDED.last_refresh,
                    last_error = NULL,
                    updated_at = EXCLUDED.updated_at",
                &[
                    &account,
                    &t.refresh_token,
                    &t.seeded_from,
                    &t.access_token,
                    &t.obtained_ms,
                    &t.expires_ms,
                    &now_unix(),
                ],
            )
            .await
            .map_err(self.e())?;
        Ok(())
    }

    pub(crate) async fn oauth_failed(&self, account: &str, error: &str, drop_access: bool) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO oauth_tokens (account, last_error, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (account) DO UPDATE SET
                    last_error = EXCLUDED.last_error,
                    access_token = CASE WHEN $4 THEN NULL ELSE oauth_tokens.access_token END,
                    access_expires_ms = CASE WHEN $4 THEN NULL ELSE oauth_tokens.access_expires_ms END,
                    updated_at = EXCLUDED.updated_at",
                &[&account, &super::text(error), &now_unix(), &drop_access],
            )
            .await
            .map_err(self.e())?;
        Ok(())
    }

    pub(crate) async fn forget_oauth_access(&self, account: &str) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE oauth_tokens SET access_token = NULL, access_expires_ms = NULL, updated_at = $2
                 WHERE account = $1",
                &[&account, &now_unix()],
            )
            .await
            .map_err(self.e())?;
        Ok(())
    }

    pub(crate) async fn forget_oauth(&self, account: &str) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = client.execute("DELETE FROM oauth_tokens WHERE account = $1", &[&account]).await.map_err(self.e())?;
        Ok(n > 0)
    }
}
