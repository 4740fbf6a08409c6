//! Access tokens for `auth = "oauth2"` accounts: which provider (the adapter's endpoints
//! and scopes, overridden by `[oauth2]`), and a valid token before every login.
//!
//! The current access token lives in the store, so every connection of an account (the
//! sync session, IDLE watchers, SMTP) and a second process use the same one. It is
//! refreshed *before* it expires — when less than a quarter of its life (at most five
//! minutes) is left — not when a login fails (a token the server refuses before its time
//! is dropped, so the next login gets a new one). Refreshes are single flight per
//! account, within the process (a mutex) and across processes (a file lock in the data
//! directory): whoever comes second waits and takes the new token. A rotated refresh token
//! is stored in the same write as the access token, before the access token is used.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use tracing::{info, warn};

use crate::config::{Account, Secret, SecretError};
use crate::oauth2::{OAuthError, Provider};
use crate::plugins::{PluginHost, PluginKind};
use crate::store::{OAuthTokens, Store, StoreError};

/// Why there is no access token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Nobody has authorized the account yet (no refresh token stored or configured).
    #[error("OAuth2 is not authorized for this account yet: run `postfachd oauth authorize {account}`")]
    NotAuthorized {
        /// The account id.
        account: String,
    },
    /// The provider refused the refresh token (revoked, expired, wrong client).
    #[error("the OAuth2 provider refused the refresh token: {source}; run `postfachd oauth authorize {account}`")]
    Refused {
        /// The account id.
        account: String,
        /// The provider's answer.
        source: OAuthError,
    },
    /// The token endpoint is down, answers 5xx or cannot be reached: try again later.
    #[error("cannot refresh the OAuth2 access token: {0}")]
    Temporary(OAuthError),
    /// No endpoints: no adapter supplies OAuth2 data and `[oauth2]` names none.
    #[error("{0}")]
    Provider(String),
    /// `client_secret` or `refresh_token` could not be resolved.
    #[error("oauth2.{key}: {source}")]
    Secret {
        /// `client_secret` or `refresh_token`.
        key: &'static str,
        /// Why.
        source: SecretError,
    },
    /// The store could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A blocking task failed: a bug.
    #[error("internal error: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl TokenError {
    /// Whether the user or admin must act (`auth-failed`) rather than wait (`backing-off`).
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            TokenError::NotAuthorized { .. }
                | TokenError::Refused { .. }
                | TokenError::Provider(_)
                | TokenError::Secret { .. }
        )
    }
}

/// The provider of an account: `[oauth2]` over the adapter's data. `[oauth2] provider`
/// names the adapter data to use by its name (`google`, `microsoft`); `custom` uses
/// none; without it, the account's own adapter answers. Blocking (plugin calls, secrets).
pub fn provider(host: Option<&PluginHost>, account: &Account) -> Result<Provider, TokenError> {
    let Some(settings) = &account.file.oauth2 else {
        return Err(TokenError::Provider(
            "auth = \"oauth2\" needs an [oauth2] section with client_id in the account file".into(),
        ));
    };
    let wanted = settings.provider.as_deref();
    let data = adapter_data(host, account);
    let name = wanted.map(str::to_owned).or_else(|| data.as_ref().map(|d| d.provider.clone()));
    let name = match name.as_deref() {
        // For messages: "the provider at login.example.com" says more than "custom".
        None | Some("custom") => settings
            .token_url
            .as_deref()
            .and_then(|u| reqwest::Url::parse(u).ok())
            .and_then(|u| u.host_str().map(|h| u.port().map_or_else(|| h.to_owned(), |p| format!("{h}:{p}"))))
            .unwrap_or_else(|| "custom".to_owned()),
        Some(n) => n.to_owned(),
    };
    let tenant = settings.tenant.as_deref().unwrap_or("common");
    let fill = |url: &str| url.replace("{tenant}", tenant);
    let token_url = settings.token_url.clone().or_else(|| data.as_ref().map(|d| d.token_url.clone()));
    let Some(token_url) = token_url else {
        let problem = host.and_then(|h| endpoint_problem(h, account));
        return Err(TokenError::Provider(
            problem.unwrap_or_else(|| "[oauth2]: no token endpoint; set token_url".into()),
        ));
    };
    let client_secret = settings
        .client_secret
        .as_ref()
        .map(|s| s.resolve(account.base(), account.imap_timeout()))
        .transpose()
        .map_err(|source| TokenError::Secret { key: "client_secret", source })?;
    let scopes = settings.scopes.clone().or_else(|| data.as_ref().map(|d| d.scopes.clone())).unwrap_or_default();
    Ok(Provider {
        name,
        client_id: settings.client_id.clone(),
        client_secret,
        auth_url: settings.auth_url.clone().or_else(|| data.as_ref().map(|d| d.auth_url.clone())).map(|u| fill(&u)),
        token_url: fill(&token_url),
        device_url: settings
            .device_url
            .clone()
            .or_else(|| data.as_ref().and_then(|d| d.device_url.clone()))
            .map(|u| fill(&u)),
        scopes,
        scope_on_refresh: data.as_ref().is_some_and(|d| d.scope_on_refresh),
    })
}

/// The adapter's OAuth2 data for an account: by `[oauth2] provider` name among the
/// loaded adapters, else from the account's own adapter; none for `custom`. Blocking.
fn adapter_data(host: Option<&PluginHost>, account: &Account) -> Option<crate::plugins::OAuth2Defaults> {
    let email = &account.file.identity.email;
    match (host, account.file.oauth2.as_ref().and_then(|o| o.provider.as_deref())) {
        (_, Some("custom")) | (None, _) => None,
        (Some(host), Some(name)) => host
            .ids(PluginKind::ProviderAdapter)
            .iter()
            .filter_map(|id| host.oauth2(id, email).ok().flatten())
            .find(|d| d.provider == name),
        (Some(host), None) => crate::provider::choose(host, account, &[])
            .ok()
            .flatten()
            .and_then(|chosen| host.oauth2(&chosen.id, email).ok().flatten()),
    }
}

/// What `postfachd check` can say without the network or secrets: an `auth = "oauth2"`
/// account for which neither `[oauth2]` nor an adapter names a token endpoint. Blocking.
pub fn endpoint_problem(host: &PluginHost, account: &Account) -> Option<String> {
    let settings = account.file.oauth2.as_ref()?;
    if !account.uses_oauth2() || settings.token_url.is_some() || adapter_data(Some(host), account).is_some() {
        return None;
    }
    Some(match settings.provider.as_deref() {
        Some(name) if name != "custom" => format!(
            "[oauth2] provider = \"{name}\": no loaded provider adapter supplies OAuth2 data by that name; \
             set token_url (and auth_url) in [oauth2]"
        ),
        _ => "[oauth2]: no token endpoint: the account's provider adapter supplies no OAuth2 data; set provider \
              (\"google\", \"microsoft\"), or token_url and auth_url"
            .to_owned(),
    })
}

/// The refresh token from `[oauth2] refresh_token`, if set. Blocking (may run a command).
fn configured_refresh_token(account: &Account) -> Result<Option<Secret>, TokenError> {
    account
        .file
        .oauth2
        .as_ref()
        .and_then(|o| o.refresh_token.as_ref())
        .map(|s| s.resolve(account.base(), account.imap_timeout()))
        .transpose()
        .map_err(|source| TokenError::Secret { key: "refresh_token", source })
}

/// One lock per account and store: the single flight.
type Flights = Mutex<HashMap<(PathBuf, String), Arc<tokio::sync::Mutex<()>>>>;
static FLIGHTS: LazyLock<Flights> = LazyLock::new(Flights::default);

fn flight(store: &Store, account: &str) -> Arc<tokio::sync::Mutex<()>> {
    let mut flights = FLIGHTS.lock().unwrap_or_else(|p| p.into_inner());
    Arc::clone(flights.entry((store.path().to_owned(), account.to_owned())).or_default())
}

/// The HTTP client for token endpoints.
pub fn http(account: &Account) -> reqwest::Client {
    crate::oauth2::token::client(account.imap_timeout())
}

/// Unix time in milliseconds.
fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Whether a token obtained at `obtained` and expiring at `expires` is good for a login
/// now: more than a quarter of its life (at most five minutes) left.
fn fresh(now: i64, obtained: i64, expires: i64) -> bool {
    if expires <= obtained {
        return false;
    }
    let margin = ((expires - obtained) / 4).clamp(0, 300_000);
    now < expires - margin
}

/// The stored access token, if it is good for a login now.
fn fresh_token(g: &crate::store::OAuthGrant) -> Option<Secret> {
    let (token, obtained, expires) = (g.access_token.as_ref()?, g.access_obtained_ms?, g.access_expires_ms?);
    fresh(now_ms(), obtained, expires).then(|| Secret::new(token.clone()))
}

/// Holds `<data_dir>/oauth/<account>.lock` (flock) while a refresh runs, so the daemon
/// and a command next to it (`sync --once`, `send --now`, `test`) never refresh at once:
/// with a rotating provider the second would present the token the first just replaced.
/// `None` (carry on without) when the file cannot be locked.
async fn process_lock(store: &Store, account: &str) -> Option<std::fs::File> {
    let dir = store.path().parent()?.join("oauth");
    let path = dir.join(format!("{account}.lock"));
    let locked = tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&dir)?;
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)?;
        Ok::<_, std::io::Error>(file)
    })
    .await;
    match locked {
        Ok(Ok(file)) => Some(file),
        Ok(Err(e)) => {
            warn!(error = %e, "cannot take the OAuth2 refresh lock; refreshing without it");
            None
        }
        Err(_) => None,
    }
}

/// A valid access token for a login, refreshed first if it is about to expire.
pub async fn access_token(
    store: &Store,
    account: &Account,
    plugins: Option<&Arc<PluginHost>>,
) -> Result<Secret, TokenError> {
    let flight = flight(store, &account.id);
    let _only_one = flight.lock().await;
    let grant = store.oauth_grant(&account.id).await?;
    if let Some(token) = grant.as_ref().and_then(fresh_token) {
        return Ok(token);
    }
    // A refresh is due. Another process may be doing it right now: wait for it, then look
    // again.
    let _only_process = process_lock(store, &account.id).await;
    let grant = store.oauth_grant(&account.id).await?;
    if let Some(token) = grant.as_ref().and_then(fresh_token) {
        return Ok(token);
    }
    let (acct, host) = (account.clone(), plugins.cloned());
    let (provider, configured) = tokio::task::spawn_blocking(move || {
        Ok::<_, TokenError>((provider(host.as_deref(), &acct)?, configured_refresh_token(&acct)?))
    })
    .await??;
    // A token the admin put into the file starts a chain; after that the chain's latest
    // (rotated) token in the store is used, until the file names another one. A chain
    // from `oauth authorize` (no seed) wins over the file until `oauth forget`.
    let configured_hash = configured.as_ref().map(|t| blake3::hash(t.expose().as_bytes()).to_hex().to_string());
    let stored = grant.as_ref().and_then(|g| g.refresh_token.clone().map(|t| (Secret::new(t), g.seeded_from.clone())));
    let (refresh_token, seeded_from) = match (configured, stored) {
        (Some(file), Some((_, Some(seed)))) if Some(&seed) != configured_hash.as_ref() => (file, configured_hash),
        (_, Some((chain, seed))) => (chain, seed),
        (Some(file), None) => (file, configured_hash),
        (None, None) => return Err(TokenError::NotAuthorized { account: account.id.clone() }),
    };
    let started = now_ms();
    match crate::oauth2::token::refresh(&http(account), &provider, &refresh_token).await {
        Ok(issued) => {
            let rotated = issued.refresh_token.is_some();
            let keep = issued.refresh_token.clone().unwrap_or(refresh_token);
            store.save_oauth_tokens(&account.id, to_store(&issued, started, Some(&keep), seeded_from)).await?;
            metrics::counter!("postfach_oauth_refreshes_total", "result" => "ok").increment(1);
            info!(expires_in_s = issued.lifetime.as_secs(), rotated, provider = %provider.name, "OAuth2 access token refreshed");
            Ok(issued.access_token)
        }
        Err(e) if e.is_temporary() => {
            metrics::counter!("postfach_oauth_refreshes_total", "result" => "temporary").increment(1);
            warn!(error = %e, "OAuth2 refresh failed; will retry");
            let _ = store.oauth_failed(&account.id, &e.to_string(), false).await;
            Err(TokenError::Temporary(e))
        }
        Err(e) => {
            // Where the process lock could not be had, another process (`sync --once` next
            // to the daemon) may have refreshed at the same moment, and a rotating provider
            // then refuses the token it replaced: take what that process stored.
            if let Ok(Some(g)) = store.oauth_grant(&account.id).await
                && g.refresh_token.as_deref() != Some(refresh_token.expose())
                && let Some(token) = fresh_token(&g)
            {
                info!("OAuth2 access token refreshed by another process");
                return Ok(token);
            }
            metrics::counter!("postfach_oauth_refreshes_total", "result" => "refused").increment(1);
            warn!(error = %e, "OAuth2 refresh refused");
            let _ = store.oauth_failed(&account.id, &e.to_string(), true).await;
            Err(TokenError::Refused { account: account.id.clone(), source: e })
        }
    }
}

/// Stores what an authorization flow issued: a new chain, replacing any earlier one.
pub async fn save_authorization(
    store: &Store,
    account: &str,
    issued: &crate::oauth2::Issued,
    started_ms: i64,
) -> Result<(), StoreError> {
    store.save_oauth_tokens(account, to_store(issued, started_ms, issued.refresh_token.as_ref(), None)).await
}

/// What the store keeps of an issued token: the access token with its lifetime from
/// `started_ms`, and the refresh token to use next.
fn to_store(
    issued: &crate::oauth2::Issued,
    started_ms: i64,
    refresh: Option<&Secret>,
    seeded_from: Option<String>,
) -> OAuthTokens {
    OAuthTokens {
        access_token: issued.access_token.expose().to_owned(),
        obtained_ms: started_ms,
        expires_ms: started_ms + issued.lifetime.as_millis() as i64,
        refresh_token: refresh.map(|t| t.expose().to_owned()),
        seeded_from,
    }
}

/// Puts an access token into an SMTP endpoint that logs in with OAuth2 (other
/// endpoints are left as they are).
pub async fn fill_smtp(
    store: &Store,
    account: &Account,
    plugins: Option<&Arc<PluginHost>>,
    endpoint: &mut crate::config::SmtpEndpoint,
) -> Result<(), TokenError> {
    if endpoint.auth == Some(crate::config::AuthMechanism::Oauth2) {
        endpoint.password = Some(access_token(store, account, plugins).await?);
    }
    Ok(())
}

/// The current time for [`save_authorization`].
pub fn now() -> i64 {
    now_ms()
}

/// How long `oauth authorize` waits for the browser by default.
pub const AUTHORIZE_TIMEOUT: Duration = Duration::from_secs(300);

#[cfg(test)]
mod tests {
    use super::fresh;

    #[test]
    fn a_token_is_refreshed_with_a_quarter_of_its_life_left_at_most_five_minutes() {
        // One hour: refreshed five minutes before it expires.
        assert!(fresh(0, 0, 3_600_000));
        assert!(fresh(3_294_999, 0, 3_600_000));
        assert!(!fresh(3_300_000, 0, 3_600_000));
        // Four seconds: refreshed with one second left.
        assert!(fresh(2_999, 0, 4_000));
        assert!(!fresh(3_000, 0, 4_000));
        // Expired or nonsense.
        assert!(!fresh(5_000, 0, 4_000));
        assert!(!fresh(0, 10, 5));
    }
}
