//! The token endpoint (RFC 6749 §4.1.3, §6): exchanging an authorization code, refreshing
//! an access token. Client credentials go in the form body, which Google, Microsoft and
//! most others accept.

use std::time::Duration;

use serde::Deserialize;

use super::error::OAuthError;
use postfach_config::Secret;

/// A provider's endpoints and the client registered with it.
#[derive(Debug, Clone)]
pub struct Provider {
    /// Short name for messages: `google`, `microsoft`, `custom`.
    pub name: String,
    /// The client id.
    pub client_id: String,
    /// The client secret; `None` for public clients.
    pub client_secret: Option<Secret>,
    /// Authorization endpoint, for the browser flow.
    pub auth_url: Option<String>,
    /// Token endpoint.
    pub token_url: String,
    /// Device authorization endpoint, for the device flow.
    pub device_url: Option<String>,
    /// Scopes to ask for.
    pub scopes: Vec<String>,
    /// Send the scopes with a refresh too (Microsoft wants them).
    pub scope_on_refresh: bool,
}

/// Tokens a provider issued.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The access token for SASL.
    pub access_token: Secret,
    /// How long it lives, as the provider says (`expires_in`; one hour if it does not).
    pub lifetime: Duration,
    /// A refresh token, when the provider sends one (always on the first grant; on a
    /// refresh only when it rotates them).
    pub refresh_token: Option<Secret>,
}

/// A successful token answer (RFC 6749 §5.1).
#[derive(Deserialize)]
struct Answer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    refresh_token: Option<String>,
}

/// An error answer (RFC 6749 §5.2).
#[derive(Deserialize)]
pub(crate) struct ErrorAnswer {
    pub(crate) error: String,
    #[serde(default)]
    pub(crate) error_description: Option<String>,
}

/// Gets a new access token with a refresh token.
pub async fn refresh(http: &reqwest::Client, p: &Provider, refresh_token: &Secret) -> Result<Issued, OAuthError> {
    let scope = p.scopes.join(" ");
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", refresh_token.expose())];
    if p.scope_on_refresh && !scope.is_empty() {
        form.push(("scope", &scope));
    }
    post(http, p, &form).await
}

/// Exchanges an authorization code (with its PKCE verifier) for tokens.
pub async fn exchange_code(
    http: &reqwest::Client,
    p: &Provider,
    code: &Secret,
    verifier: &Secret,
    redirect_uri: &str,
) -> Result<Issued, OAuthError> {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.expose()),
        ("code_verifier", verifier.expose()),
        ("redirect_uri", redirect_uri),
    ];
    post(http, p, &form).await
}

/// POSTs a grant to the token endpoint with the client's credentials.
pub(crate) async fn post(http: &reqwest::Client, p: &Provider, grant: &[(&str, &str)]) -> Result<Issued, OAuthError> {
    match post_form(http, p, &p.token_url, grant).await? {
        Ok(answer) => {
            let answer: Answer = serde_json::from_str(&answer).map_err(|e| OAuthError::Malformed {
                url: p.token_url.clone(),
                text: format!("not a token answer ({e})"),
            })?;
            Ok(Issued {
                access_token: Secret::new(answer.access_token),
                lifetime: Duration::from_secs(answer.expires_in.unwrap_or(3600)),
                refresh_token: answer.refresh_token.filter(|t| !t.is_empty()).map(Secret::new),
            })
        }
        Err(refused) => Err(OAuthError::Refused { error: refused.error, description: refused.error_description }),
    }
}

/// POSTs a form to an endpoint of the provider: the body of a 2xx answer, or the OAuth2
/// error of a 4xx one; 5xx, 429 and network trouble are errors of their own.
pub(crate) async fn post_form(
    http: &reqwest::Client,
    p: &Provider,
    url: &str,
    fields: &[(&str, &str)],
) -> Result<Result<String, ErrorAnswer>, OAuthError> {
    let mut form: Vec<(&str, &str)> = vec![("client_id", &p.client_id)];
    if let Some(secret) = &p.client_secret {
        form.push(("client_secret", secret.expose()));
    }
    form.extend_from_slice(fields);
    let network = |e: reqwest::Error| OAuthError::Network { url: url.to_owned(), text: describe(&e) };
    let response = http.post(url).header("accept", "application/json").form(&form).send().await.map_err(network)?;
    let status = response.status();
    let body = response.text().await.map_err(network)?;
    if status.is_success() {
        return Ok(Ok(body));
    }
    let said = serde_json::from_str::<ErrorAnswer>(&body).ok();
    if status.is_server_error() || status.as_u16() == 429 {
        return Err(OAuthError::Unavailable {
            status: status.as_u16(),
            words: said.map(|s| s.error_description.unwrap_or(s.error)),
        });
    }
    match said {
        Some(said) => Ok(Err(said)),
        None => Err(OAuthError::Malformed {
            url: url.to_owned(),
            text: format!("HTTP {status} without an OAuth2 error ({} bytes)", body.len()),
        }),
    }
}

/// A reqwest error with its causes; reqwest puts the interesting part in the source.
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = s.source();
    }
    text
}

/// An HTTP client for token endpoints: no redirects (a token endpoint never redirects,
/// and following one could send the credentials elsewhere), a timeout per request.
pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .user_agent(concat!("postfach/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}
