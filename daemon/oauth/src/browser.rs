//! The authorization code flow for native apps (RFC 8252): PKCE with S256 (RFC 7636), a
//! `state` that must come back unchanged, and a one-shot HTTP listener on `127.0.0.1` at
//! a free port that takes the browser's redirect and then closes.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::error::OAuthError;
use super::token::{Issued, Provider, exchange_code};
use postfach_config::Secret;

/// A PKCE verifier and its S256 challenge.
#[derive(Debug)]
pub struct Pkce {
    /// Sent with the code exchange; never leaves this machine before that.
    pub verifier: Secret,
    /// `BASE64URL(SHA256(verifier))`, sent with the authorization request.
    pub challenge: String,
}

impl Pkce {
    /// A fresh verifier of 32 random bytes (43 characters).
    pub fn new() -> Result<Pkce, OAuthError> {
        let verifier = random(32)?;
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Ok(Pkce { verifier: Secret::new(verifier), challenge })
    }
}

/// `n` random bytes, base64url without padding.
pub fn random(n: usize) -> Result<String, OAuthError> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| OAuthError::Listener(format!("no randomness: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The URL the user opens: the provider's authorization endpoint with the client, the
/// scopes, the loopback redirect, the state and the PKCE challenge.
pub fn authorization_url(p: &Provider, redirect_uri: &str, state: &str, pkce: &Pkce) -> Result<String, OAuthError> {
    let Some(base) = &p.auth_url else {
        return Err(OAuthError::Unsupported(format!(
            "the {} provider has no authorization endpoint: set auth_url in [oauth2], or use --device",
            p.name
        )));
    };
    let mut url = reqwest::Url::parse(base)
        .map_err(|e| OAuthError::Unsupported(format!("auth_url {base:?} is not a URL: {e}")))?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &p.client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", &p.scopes.join(" "))
        .append_pair("state", state)
        .append_pair("code_challenge", &pkce.challenge)
        .append_pair("code_challenge_method", "S256")
        // Google issues a refresh token only with these two.
        .append_pair("access_type", "offline")
        .append_pair("prompt", "consent");
    Ok(url.into())
}

/// The loopback listener that receives the browser's redirect.
#[derive(Debug)]
pub struct Redirect {
    listener: TcpListener,
    uri: String,
}

/// What one request to the listener brought.
enum Arrival {
    /// The code, with the right state.
    Code(Secret),
    /// The provider's error, with the right state.
    Error(String, Option<String>),
    /// Anything else (a wrong state, a favicon request): answered and ignored.
    Ignored,
}

impl Redirect {
    /// Listens on a free port of 127.0.0.1.
    pub async fn bind() -> Result<Redirect, OAuthError> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| OAuthError::Listener(format!("bind 127.0.0.1: {e}")))?;
        let port = listener.local_addr().map_err(|e| OAuthError::Listener(e.to_string()))?.port();
        Ok(Redirect { listener, uri: format!("http://127.0.0.1:{port}/") })
    }

    /// `http://127.0.0.1:<port>/`, the `redirect_uri` to send.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Waits for the redirect carrying `state` and returns its code. Requests with another
    /// state are answered 400 and ignored (a page in the browser cannot cut the flow
    /// short); the listener closes after the first good one, or after `timeout`.
    pub async fn wait(self, state: &str, timeout: Duration) -> Result<Secret, OAuthError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let accepted = tokio::time::timeout_at(deadline, self.listener.accept()).await.map_err(|_| {
                OAuthError::TimedOut(format!(
                    "no answer from the browser within {} s; run the command again and open the URL it prints",
                    timeout.as_secs()
                ))
            })?;
            let Ok((conn, _)) = accepted else { continue };
            // A connection that sends nothing must not hold up the flow.
            let read = tokio::time::timeout(Duration::from_secs(10), one_request(conn, state)).await;
            match read {
                Ok(Ok(Arrival::Code(code))) => return Ok(code),
                Ok(Ok(Arrival::Error(error, description))) => return Err(OAuthError::Denied { error, description }),
                Ok(Ok(Arrival::Ignored) | Err(_)) | Err(_) => {}
            }
        }
    }
}

async fn one_request(mut conn: TcpStream, state: &str) -> std::io::Result<Arrival> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let target = head.lines().next().and_then(|l| l.split_whitespace().nth(1)).unwrap_or("/");
    let params: Vec<(String, String)> = reqwest::Url::parse(&format!("http://127.0.0.1{target}"))
        .map(|u| u.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
        .unwrap_or_default();
    let get = |key: &str| params.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let (arrival, status, text) = if get("state").as_deref() != Some(state) {
        (
            Arrival::Ignored,
            "400 Bad Request",
            "This request does not belong to the running authorization (state mismatch).",
        )
    } else if let Some(code) = get("code") {
        (Arrival::Code(Secret::new(code)), "200 OK", "Postfach is authorized. You can close this window.")
    } else if let Some(error) = get("error") {
        (
            Arrival::Error(error, get("error_description")),
            "200 OK",
            "The authorization was declined. You can close this window.",
        )
    } else {
        (Arrival::Ignored, "400 Bad Request", "No authorization code in this request.")
    };
    let page = format!("<!doctype html><meta charset=utf-8><title>Postfach</title><p>{text}</p>\n");
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
        page.len()
    );
    conn.write_all(response.as_bytes()).await?;
    let _ = conn.shutdown().await;
    Ok(arrival)
}

/// Runs the whole flow once the user has the URL: waits for the redirect, then exchanges
/// the code.
pub async fn finish(
    http: &reqwest::Client,
    p: &Provider,
    redirect: Redirect,
    state: &str,
    pkce: &Pkce,
    timeout: Duration,
) -> Result<Issued, OAuthError> {
    let uri = redirect.uri().to_owned();
    let code = redirect.wait(state, timeout).await?;
    exchange_code(http, p, &code, &pkce.verifier, &uri).await
}
