//! The device authorization flow (RFC 8628): the provider gives a short user code and a
//! page to enter it on (any device with a browser); the client polls the token endpoint
//! at the provider's interval until the user agrees, declines, or the code expires.

use std::time::Duration;

use serde::Deserialize;

use super::error::OAuthError;
use super::token::{Issued, Provider, post};
use postfach_config::Secret;

/// What the user needs to see, and what the poll needs.
#[derive(Debug)]
pub struct DeviceAuthorization {
    /// Polled with; secret.
    pub device_code: Secret,
    /// What the user types in, e.g. `WDJB-MJHT`.
    pub user_code: String,
    /// Where the user types it.
    pub verification_uri: String,
    /// The page with the code filled in, if the provider offers one.
    pub verification_uri_complete: Option<String>,
    /// How long the code is valid.
    pub expires_in: Duration,
    /// How long to wait between polls.
    pub interval: Duration,
}

#[derive(Deserialize)]
struct Answer {
    device_code: String,
    user_code: String,
    // Microsoft's v2 endpoint says `verification_uri`; its old one `verification_url`.
    #[serde(alias = "verification_url")]
    verification_uri: String,
    #[serde(default)]
    verification_uri_complete: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    interval: Option<u64>,
}

/// Asks the provider for a device code.
pub async fn start(http: &reqwest::Client, p: &Provider) -> Result<DeviceAuthorization, OAuthError> {
    let Some(url) = &p.device_url else {
        return Err(OAuthError::Unsupported(format!(
            "the {} provider offers no device flow for mail scopes (or device_url is not set in [oauth2]); \
             run `postfachd oauth authorize` without --device",
            p.name
        )));
    };
    let scope = p.scopes.join(" ");
    let body = match super::token::post_form(http, p, url, &[("scope", &scope)]).await? {
        Ok(body) => body,
        Err(e) => return Err(OAuthError::Refused { error: e.error, description: e.error_description }),
    };
    let a: Answer = serde_json::from_str(&body)
        .map_err(|e| OAuthError::Malformed { url: url.clone(), text: format!("not a device authorization ({e})") })?;
    Ok(DeviceAuthorization {
        device_code: Secret::new(a.device_code),
        user_code: a.user_code,
        verification_uri: a.verification_uri,
        verification_uri_complete: a.verification_uri_complete,
        expires_in: Duration::from_secs(a.expires_in.unwrap_or(600)),
        interval: Duration::from_secs(a.interval.unwrap_or(5).max(1)),
    })
}

/// Polls until the user has agreed (tokens), declined, or the code expired.
pub async fn poll(http: &reqwest::Client, p: &Provider, d: &DeviceAuthorization) -> Result<Issued, OAuthError> {
    let deadline = tokio::time::Instant::now() + d.expires_in;
    let mut interval = d.interval;
    loop {
        tokio::time::sleep(interval).await;
        if tokio::time::Instant::now() >= deadline {
            return Err(OAuthError::TimedOut(format!(
                "the code {} expired before it was entered; run the command again",
                d.user_code
            )));
        }
        let grant =
            [("grant_type", "urn:ietf:params:oauth:grant-type:device_code"), ("device_code", d.device_code.expose())];
        match post(http, p, &grant).await {
            Ok(issued) => return Ok(issued),
            Err(OAuthError::Refused { error, description }) => match error.as_str() {
                "authorization_pending" => {}
                // RFC 8628 §3.5: add 5 seconds to every later poll.
                "slow_down" => interval += Duration::from_secs(5),
                "access_denied" => return Err(OAuthError::Denied { error, description }),
                "expired_token" => {
                    return Err(OAuthError::TimedOut(format!(
                        "the code {} expired before it was entered; run the command again",
                        d.user_code
                    )));
                }
                _ => return Err(OAuthError::Refused { error, description }),
            },
            // A provider that hiccups while the user is typing: keep polling.
            Err(e) if e.is_temporary() => tracing::debug!(error = %e, "device flow poll failed; polling on"),
            Err(e) => return Err(e),
        }
    }
}
