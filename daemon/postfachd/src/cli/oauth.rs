//! `postfachd oauth authorize|status|forget`: getting an OAuth2 refresh token for an
//! `auth = "oauth2"` account into the store, seeing how refreshing goes, and removing it.
//!
//! `authorize` runs in the admin's terminal: the browser flow prints a URL and waits for
//! the provider's redirect on a one-shot listener at `127.0.0.1:<free port>`; `--device`
//! prints a code to enter on the provider's page from any device. A running daemon is
//! nudged afterwards and starts the account afresh.

use std::time::Duration;

use serde::Serialize;

use super::output::{self, Table};
use super::{CliError, load_account, open_store, plugin_host};
use crate::config::{Account, Config};
use crate::model::Timestamp;
use crate::oauth2::{Issued, OAuthError, browser, device};

/// `oauth status --json`: one entry per account that uses OAuth2 or has tokens stored.
#[derive(Debug, Serialize)]
struct StatusJson {
    account: String,
    has_refresh_token: bool,
    access_expires_at: Option<String>,
    last_refresh: Option<String>,
    last_error: Option<String>,
}

fn uses_oauth2(account: &Account) -> Result<(), CliError> {
    if account.uses_oauth2() {
        Ok(())
    } else {
        Err(CliError::OAuth(format!(
            "account `{}` does not log in with OAuth2; set auth = \"oauth2\" in [imap] and add an [oauth2] section",
            account.id
        )))
    }
}

fn failed(e: OAuthError) -> CliError {
    CliError::OAuth(format!("authorization failed: {e}"))
}

/// Runs the browser or device flow and stores the refresh token.
pub async fn authorize(config: &Config, id: &str, use_device: bool, timeout: Duration) -> Result<(), CliError> {
    let account = load_account(config, id).await?;
    uses_oauth2(&account)?;
    let store = open_store(config).await?;
    let plugins = plugin_host(config).await?;
    let acct = account.clone();
    let provider = tokio::task::spawn_blocking(move || crate::oauth::provider(Some(&plugins), &acct))
        .await?
        .map_err(|e| CliError::OAuth(e.to_string()))?;
    let http = crate::oauth::http(&account);
    let started = crate::oauth::now();
    let issued: Issued = if use_device {
        let d = device::start(&http, &provider).await.map_err(failed)?;
        output::line(&format!("To authorize `{id}` at the provider {}, open", provider.name));
        output::line(&format!("  {}", d.verification_uri));
        output::line(&format!("and enter the code {}", d.user_code));
        if let Some(complete) = &d.verification_uri_complete {
            output::line(&format!("(or open {complete})"));
        }
        output::line(&format!("Waiting up to {} s …", d.expires_in.as_secs()));
        device::poll(&http, &provider, &d).await.map_err(failed)?
    } else {
        let redirect = browser::Redirect::bind().await.map_err(failed)?;
        let state = browser::random(16).map_err(failed)?;
        let pkce = browser::Pkce::new().map_err(failed)?;
        let url = browser::authorization_url(&provider, redirect.uri(), &state, &pkce).map_err(failed)?;
        output::line(&format!(
            "To authorize `{id}` at the provider {}, open this URL in a browser and agree:",
            provider.name
        ));
        output::line(&format!("  {url}"));
        output::line(&format!(
            "Waiting up to {} s for the browser to come back to {} …",
            timeout.as_secs(),
            redirect.uri()
        ));
        browser::finish(&http, &provider, redirect, &state, &pkce, timeout).await.map_err(failed)?
    };
    if issued.refresh_token.is_none() {
        return Err(CliError::OAuth(format!(
            "the {} provider issued no refresh token, so the account would stop working within {} min; \
             check that the scopes include offline access (Microsoft: offline_access) and that the app \
             may get refresh tokens",
            provider.name,
            issued.lifetime.as_secs() / 60
        )));
    }
    crate::oauth::save_authorization(&store, id, &issued, started).await?;
    crate::wake::nudge(config, &crate::wake::Target::Authorized(id.to_owned()));
    output::line(&format!(
        "authorized: `{id}` (refresh token stored; access token valid for {} min). A running daemon picks it up now.",
        issued.lifetime.as_secs() / 60
    ));
    Ok(())
}

/// Shows, per account, whether a refresh token is there and how refreshing went.
pub async fn status(config: &Config, only: Option<&str>, json: bool) -> Result<(), CliError> {
    if let Some(id) = only {
        uses_oauth2(&load_account(config, id).await?)?;
    }
    let store = open_store(config).await?;
    let grants = store.oauth_grants().await?;
    let set = config.load_accounts();
    let mut ids: Vec<String> = set.accounts.values().filter(|a| a.uses_oauth2()).map(|a| a.id.clone()).collect();
    ids.extend(grants.iter().map(|g| g.account.clone()));
    ids.sort();
    ids.dedup();
    ids.retain(|id| only.is_none_or(|o| o == id));
    let configured =
        |id: &str| set.accounts.get(id).and_then(|a| a.file.oauth2.as_ref()).is_some_and(|o| o.refresh_token.is_some());
    let rows: Vec<StatusJson> = ids
        .into_iter()
        .map(|id| {
            let g = grants.iter().find(|g| g.account == id);
            StatusJson {
                has_refresh_token: g.is_some_and(|g| g.refresh_token.is_some()) || configured(&id),
                access_expires_at: g.and_then(|g| g.access_expires_ms).and_then(|ms| Timestamp(ms / 1000).rfc3339()),
                last_refresh: g.and_then(|g| g.last_refresh).and_then(|s| Timestamp(s).rfc3339()),
                last_error: g.and_then(|g| g.last_error.clone()),
                account: id,
            }
        })
        .collect();
    if json {
        output::json(&rows);
        return Ok(());
    }
    if rows.is_empty() {
        output::line("no account uses auth = \"oauth2\"");
        return Ok(());
    }
    let mut table = Table::new(&["ACCOUNT", "REFRESH TOKEN", "ACCESS EXPIRES", "LAST REFRESH", "LAST ERROR"]);
    let dash = || "-".to_owned();
    for r in rows {
        table.row(vec![
            r.account.clone(),
            if r.has_refresh_token { "yes".into() } else { format!("no: run postfachd oauth authorize {}", r.account) },
            r.access_expires_at.unwrap_or_else(dash),
            r.last_refresh.unwrap_or_else(dash),
            r.last_error.unwrap_or_else(dash),
        ]);
    }
    table.print();
    Ok(())
}

/// Removes the stored tokens of an account.
pub async fn forget(config: &Config, id: &str) -> Result<(), CliError> {
    let store = open_store(config).await?;
    if store.forget_oauth(id).await? {
        output::line(&format!("forgot the OAuth2 tokens of `{id}`; revoke the app's access at the provider too"));
    } else {
        output::line(&format!("no OAuth2 tokens stored for `{id}`"));
    }
    Ok(())
}
