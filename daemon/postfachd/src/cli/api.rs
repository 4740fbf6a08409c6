//! The API's admin commands: `postfachd token create|list|revoke`, `postfachd audit` and
//! `postfachd webhooks [secret]`.

use base64::Engine;
use serde::Serialize;

use super::output::{self, Table, clip};
use super::{CliError, open_store};
use crate::config::Config;
use crate::model::{Timestamp, now_unix};
use crate::store::NewToken as StoredToken;
use postfach_api::auth::{Scope, new_secret};

/// The arguments of `token create`.
#[derive(Debug)]
pub struct NewToken {
    /// The user it acts as.
    pub user: String,
    /// Whether it is an admin's.
    pub admin: bool,
    /// Scopes by name.
    pub scopes: Vec<String>,
    /// Accounts it is bound to.
    pub accounts: Vec<String>,
    /// Days until it expires.
    pub expires_days: Option<u32>,
}

/// `token create --json`.
#[derive(Debug, Serialize)]
struct CreatedJson {
    id: String,
    token: String,
    user: String,
    admin: bool,
    scopes: Vec<String>,
    accounts: Vec<String>,
    expires_at: Option<String>,
}

/// Creates a token and prints it once.
pub async fn create_token(config: &Config, request: NewToken, json: bool) -> Result<(), CliError> {
    let NewToken { user, admin, scopes, accounts, expires_days } = request;
    if !postfach_config::api::is_name(&user) {
        return Err(CliError::Token(format!("user `{user}` may only contain letters, digits, `.`, `_`, `-` and `@`")));
    }
    if !admin && !config.daemon.users.contains_key(&user) {
        let known: Vec<&str> = config.daemon.users.keys().map(String::as_str).collect();
        return Err(CliError::Token(format!(
            "user `{user}` is not in [users] of {} (known: {}); add it there, or make an admin token with --admin",
            config.dir.join(crate::config::DAEMON_FILE).display(),
            if known.is_empty() { "none".to_owned() } else { known.join(", ") }
        )));
    }
    let mut parsed = Vec::new();
    for s in if scopes.is_empty() { vec!["read".to_owned()] } else { scopes } {
        let scope = Scope::parse(&s)
            .ok_or_else(|| CliError::Token(format!("unknown scope `{s}`; use read, write, send or metrics")))?;
        if !parsed.contains(&scope.as_str().to_owned()) {
            parsed.push(scope.as_str().to_owned());
        }
    }
    let set = config.load_accounts();
    for a in &accounts {
        if !set.accounts.contains_key(a) && !set.errors.contains_key(a) {
            return Err(CliError::Token(format!("no account `{a}` in {}", config.accounts_dir().display())));
        }
    }
    if expires_days == Some(0) {
        return Err(CliError::Token("--expires-days must be at least 1".into()));
    }
    let expires_at = expires_days.map(|d| Timestamp(now_unix().saturating_add(i64::from(d) * 86_400)));
    let secret = new_secret()?;
    let store = open_store(config).await?;
    store
        .create_token(StoredToken {
            id: secret.id.clone(),
            hash: secret.hash,
            user: user.clone(),
            admin,
            scopes: parsed.clone(),
            accounts: accounts.clone(),
            expires_at,
        })
        .await?;
    if json {
        output::json(&CreatedJson {
            id: secret.id,
            token: secret.token,
            user,
            admin,
            scopes: parsed,
            accounts,
            expires_at: expires_at.and_then(|t| t.rfc3339()),
        });
    } else {
        output::line(&format!("token {} for user {user}{}:", secret.id, if admin { " (admin)" } else { "" }));
        output::line(&secret.token);
        output::line("It is shown only now; store it where the application keeps its secrets.");
    }
    Ok(())
}

/// `token list --json`.
#[derive(Debug, Serialize)]
struct TokenJson {
    id: String,
    user: String,
    admin: bool,
    scopes: Vec<String>,
    accounts: Vec<String>,
    created_at: Option<String>,
    expires_at: Option<String>,
    last_used_at: Option<String>,
    revoked_at: Option<String>,
}

/// Lists the tokens (never the secrets).
pub async fn list_tokens(config: &Config, json: bool) -> Result<(), CliError> {
    let store = open_store(config).await?;
    let rows: Vec<TokenJson> = store
        .tokens()
        .await?
        .into_iter()
        .map(|t| TokenJson {
            id: t.id,
            user: t.user,
            admin: t.admin,
            scopes: t.scopes,
            accounts: t.accounts,
            created_at: t.created_at.rfc3339(),
            expires_at: t.expires_at.and_then(|x| x.rfc3339()),
            last_used_at: t.last_used_at.and_then(|x| x.rfc3339()),
            revoked_at: t.revoked_at.and_then(|x| x.rfc3339()),
        })
        .collect();
    if json {
        output::json(&rows);
        return Ok(());
    }
    let mut table = Table::new(&["ID", "USER", "ADMIN", "SCOPES", "ACCOUNTS", "EXPIRES", "LAST USED", "STATE"]);
    for t in &rows {
        let state = if t.revoked_at.is_some() { "revoked" } else { "active" };
        table.row(vec![
            t.id.clone(),
            t.user.clone(),
            if t.admin { "yes".into() } else { "-".into() },
            t.scopes.join(","),
            if t.accounts.is_empty() { "all".into() } else { t.accounts.join(",") },
            t.expires_at.clone().unwrap_or_else(|| "never".into()),
            t.last_used_at.clone().unwrap_or_else(|| "never".into()),
            state.into(),
        ]);
    }
    table.print();
    Ok(())
}

/// Revokes a token.
pub async fn revoke_token(config: &Config, id: &str) -> Result<(), CliError> {
    let store = open_store(config).await?;
    if !store.revoke_token(id).await? {
        return Err(CliError::UnknownToken(id.to_owned()));
    }
    output::line(&format!("token {id} revoked; requests with it now get 401"));
    Ok(())
}

/// Prints the audit trail, newest first.
pub async fn audit(config: &Config, limit: usize, json: bool) -> Result<(), CliError> {
    let store = open_store(config).await?;
    let rows: Vec<_> =
        store.audit(None, limit.max(1)).await?.into_iter().map(postfach_api::json::AuditJson::from).collect();
    if json {
        output::json(&rows);
        return Ok(());
    }
    let mut table = Table::new(&["ID", "AT", "USER", "TOKEN", "ACTION", "ACCOUNT", "TARGET", "STATUS"]);
    for a in &rows {
        table.row(vec![
            a.id.to_string(),
            a.at.clone().unwrap_or_default(),
            a.user.clone(),
            a.token.clone().unwrap_or_default(),
            clip(&a.action, 40),
            a.account.clone().unwrap_or_default(),
            a.target.clone().unwrap_or_default(),
            a.status.to_string(),
        ]);
    }
    table.print();
    Ok(())
}

/// Prints each configured endpoint's delivery state.
pub async fn webhooks(config: &Config, json: bool) -> Result<(), CliError> {
    let store = open_store(config).await?;
    let urls: Vec<String> = config.daemon.webhooks.iter().map(|w| w.url.clone()).collect();
    let rows = postfach_api::webhooks::status(&store, &urls).await?;
    if json {
        output::json(&rows);
        return Ok(());
    }
    let mut table = Table::new(&["URL", "STATE", "DELIVERED", "LAG", "LAST SUCCESS", "LAST ERROR"]);
    for w in &rows {
        table.row(vec![
            clip(&w.url, 50),
            w.state.clone(),
            w.delivered_seq.to_string(),
            w.lag.to_string(),
            w.last_success_at.clone().unwrap_or_else(|| "-".into()),
            clip(w.last_error.as_deref().unwrap_or("-"), 60),
        ]);
    }
    table.print();
    Ok(())
}

/// Prints a new Standard Webhooks signing secret.
pub fn new_webhook_secret() -> Result<(), CliError> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| CliError::Token(format!("the system's random source failed: {e}")))?;
    output::line(&format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(key)));
    Ok(())
}
