//! Webhook delivery: every event of the feed, POSTed to each `[[webhooks]]` endpoint as
//! JSON, signed the Standard Webhooks way (`webhook-id` = `evt_<seq>`, the same on every
//! retry; `webhook-timestamp`; `webhook-signature` = `v1,<base64 HMAC-SHA256 of
//! "id.timestamp.body">`).
//!
//! Per endpoint: in seq order, at least once, with a durable cursor in the store (a
//! restart resumes where delivery stopped; nothing is skipped). 2xx means delivered; any
//! other answer, a timeout (10 s) or a refused connection is retried with exponential
//! backoff and jitter; redirects are not followed. After three days without a success
//! the endpoint counts as `failing`; its cursor stays, and delivery resumes when it
//! answers again.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, warn};

use postfach_model::{MessageId, now_unix};
use postfach_store::{Event, EventQuery, Store, StoreError};

use crate::json::{EventJson, MessageJson, WebhookJson};

/// How long a receiver may take to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// After this long without a success an endpoint is `failing`.
pub const FAILING_AFTER_SECS: i64 = 3 * 24 * 3600;
/// The first retry's delay; it doubles per failure up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// The longest wait between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// Events read from the store at a time.
const BATCH: usize = 200;

/// A configured endpoint with its secret resolved.
#[derive(Clone)]
pub struct Endpoint {
    /// Where events go.
    pub url: String,
    /// The HMAC key (the base64 part of `whsec_…`, decoded).
    pub key: Vec<u8>,
    /// Event kinds wanted; empty for all.
    pub events: Vec<String>,
    /// Accounts whose events are wanted; empty for all.
    pub accounts: Vec<String>,
    /// Extra CA for an `https://` receiver.
    pub tls_ca_file: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint").field("url", &self.url).field("events", &self.events).finish_non_exhaustive()
    }
}

/// Why a webhook secret is unusable.
#[derive(Debug, thiserror::Error)]
pub enum SecretFormatError {
    /// Not `whsec_` followed by base64.
    #[error(
        "a webhook secret must be `whsec_` followed by base64 (Standard Webhooks); generate one with `postfachd webhooks secret`"
    )]
    Format,
}

/// Decodes a `whsec_<base64>` secret into the HMAC key.
pub fn secret_key(secret: &str) -> Result<Vec<u8>, SecretFormatError> {
    let b64 = secret.trim().strip_prefix("whsec_").ok_or(SecretFormatError::Format)?;
    let key = STANDARD.decode(b64).map_err(|_| SecretFormatError::Format)?;
    if key.is_empty() { Err(SecretFormatError::Format) } else { Ok(key) }
}

/// The `webhook-signature` value for a delivery.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else { return String::new() };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The JSON body of one delivery.
#[derive(Debug, Serialize)]
struct Delivery {
    seq: i64,
    kind: String,
    at: Option<String>,
    account: String,
    message: Option<MessageJson>,
    detail: Option<serde_json::Value>,
}

/// How often a node that does not deliver to an endpoint checks whether its deliverer
/// is gone, and how often an idle deliverer renews its hold.
const HOLD_RETRY: Duration = Duration::from_secs(2);

/// Runs delivery to every endpoint until `stop`.
pub async fn run(store: Store, endpoints: Vec<Endpoint>, feed: watch::Receiver<i64>, stop: CancellationToken) {
    let mut tasks = Vec::new();
    for endpoint in endpoints {
        let span = tracing::info_span!("webhook", url = %endpoint.url);
        let (store, feed, stop) = (store.clone(), feed.clone(), stop.clone());
        tasks.push(tokio::spawn(deliver_forever(store, Arc::new(endpoint), feed, stop).instrument(span)));
    }
    for t in tasks {
        let _ = t.await;
    }
    // Another node of a cluster continues at once rather than after the hold lapses.
    if let Err(e) = store.release_webhooks().await {
        warn!(error = %e, "cannot give up the webhook endpoints; another node takes over when the hold lapses");
    }
}

fn client(endpoint: &Endpoint) -> Option<reqwest::Client> {
    let tls = match postfach_net::tls::client_config(endpoint.tls_ca_file.as_deref()) {
        Ok(tls) => tls,
        Err(e) => {
            warn!(error = %e, "webhook endpoint cannot be reached over TLS; not delivering");
            return None;
        }
    };
    reqwest::Client::builder()
        .use_preconfigured_tls((*tls).clone())
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .user_agent(concat!("postfach/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| warn!(error = %e, "cannot build the webhook HTTP client"))
        .ok()
}

async fn deliver_forever(
    store: Store,
    endpoint: Arc<Endpoint>,
    mut feed: watch::Receiver<i64>,
    stop: CancellationToken,
) {
    let Some(client) = client(&endpoint) else { return };
    let mut failures: u32 = 0;
    let mut holding = true;
    loop {
        // In a cluster one node at a time delivers to an endpoint; the others wait and
        // take over, from the cursor in the store, when its hold lapses.
        match store.hold_webhook(&endpoint.url).await {
            Ok(true) => {
                if !holding {
                    tracing::info!("delivering to this endpoint from this node now");
                }
                holding = true;
            }
            Ok(false) => {
                holding = false;
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(HOLD_RETRY) => continue,
                }
            }
            Err(e) => {
                warn!(error = %e, "webhook delivery cannot reach the store; retrying");
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(5)) => continue,
                }
            }
        }
        feed.borrow_and_update();
        let outcome = tokio::select! {
            () = stop.cancelled() => return,
            o = deliver_pending(&store, &client, &endpoint) => o,
        };
        match outcome {
            Ok(Pending::More) => failures = 0,
            Ok(Pending::Empty) => {
                failures = 0;
                // Woken by new events, and now and then to renew the hold.
                tokio::select! {
                    () = stop.cancelled() => return,
                    r = feed.changed() => if r.is_err() { return },
                    () = tokio::time::sleep(HOLD_RETRY) => {}
                }
            }
            Ok(Pending::Failed(error)) => {
                failures = failures.saturating_add(1);
                if let Err(e) = store.webhook_failed(&endpoint.url, &error, FAILING_AFTER_SECS).await {
                    warn!(error = %e, "cannot record a webhook failure");
                }
                let wait = backoff(failures);
                warn!(%error, retry_in_ms = wait.as_millis() as u64, "webhook delivery failed");
                metrics::counter!("postfach_webhook_deliveries_total", "result" => "failed").increment(1);
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(wait) => {}
                }
            }
            Err(e) => {
                warn!(error = %e, "webhook delivery cannot read the store; retrying");
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(5)) => {}
                }
            }
        }
    }
}

/// Exponential backoff with ±50 % jitter, so many failing endpoints do not retry in step.
fn backoff(failures: u32) -> Duration {
    let base = FIRST_BACKOFF.saturating_mul(1u32 << failures.saturating_sub(1).min(16)).min(MAX_BACKOFF);
    base.mul_f64(0.5 + fastrand_f64())
}

fn fastrand_f64() -> f64 {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

enum Pending {
    /// Everything up to the feed's end is delivered.
    Empty,
    /// A full batch was delivered; there may be more right away.
    More,
    /// An event could not be delivered; the words why.
    Failed(String),
}

async fn deliver_pending(store: &Store, client: &reqwest::Client, endpoint: &Endpoint) -> Result<Pending, StoreError> {
    let cursor = store.webhook_cursor(&endpoint.url).await?;
    let accounts = (!endpoint.accounts.is_empty()).then(|| endpoint.accounts.clone());
    let events = store.events(EventQuery { after: cursor.delivered_seq, limit: BATCH, accounts }).await?;
    if events.is_empty() {
        // Events of other accounts may have moved the feed on; nothing to do for them.
        return Ok(Pending::Empty);
    }
    let full = events.len() == BATCH;
    let summaries: HashMap<MessageId, MessageJson> = store
        .message_summaries(events.iter().filter_map(|e| e.message).collect())
        .await?
        .into_iter()
        .map(|m| (m.local_id, MessageJson::from(m)))
        .collect();
    for event in events {
        let seq = event.seq;
        if !endpoint.events.is_empty() && !endpoint.events.iter().any(|k| k == &event.kind) {
            store.webhook_delivered(&endpoint.url, seq, false).await?;
            continue;
        }
        // Several events of a batch may concern one message (stored, then routed).
        let message = event.message.and_then(|m| summaries.get(&m).cloned());
        match post(client, endpoint, event, message).await {
            Ok(()) => {
                store.webhook_delivered(&endpoint.url, seq, true).await?;
                metrics::counter!("postfach_webhook_deliveries_total", "result" => "delivered").increment(1);
            }
            Err(error) => return Ok(Pending::Failed(error)),
        }
    }
    Ok(if full { Pending::More } else { Pending::Empty })
}

async fn post(
    client: &reqwest::Client,
    endpoint: &Endpoint,
    event: Event,
    message: Option<MessageJson>,
) -> Result<(), String> {
    let json = EventJson::from(event);
    let delivery =
        Delivery { seq: json.seq, kind: json.kind, at: json.at, account: json.account, message, detail: json.detail };
    let body = serde_json::to_vec(&delivery).map_err(|e| e.to_string())?;
    let id = format!("evt_{}", delivery.seq);
    let timestamp = now_unix();
    let signature = sign(&endpoint.key, &id, timestamp, &body);
    let answer = client
        .post(&endpoint.url)
        .header("content-type", "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await
        .map_err(|e| describe(&e))?;
    let status = answer.status();
    if status.is_success() {
        return Ok(());
    }
    let text = answer.text().await.unwrap_or_default();
    let text: String = text.chars().take(200).collect();
    Err(format!(
        "{} answered {status}{}",
        endpoint.url,
        if text.is_empty() { String::new() } else { format!(": {text}") }
    ))
}

/// A transport error in words an admin can act on.
fn describe(e: &reqwest::Error) -> String {
    let text = postfach_model::with_causes(e);
    if e.is_timeout() { format!("no answer within {} s ({text})", TIMEOUT.as_secs()) } else { text }
}

/// Each configured endpoint's delivery state (for `GET /v1/webhooks` and `postfachd webhooks`).
pub async fn status(store: &Store, urls: &[String]) -> Result<Vec<WebhookJson>, StoreError> {
    let last = store.last_event_seq().await?;
    let cursors = store.webhook_cursors().await?;
    Ok(urls
        .iter()
        .map(|url| match cursors.iter().find(|c| &c.endpoint == url) {
            Some(c) => WebhookJson {
                url: url.clone(),
                delivered_seq: c.delivered_seq,
                lag: (last - c.delivered_seq).max(0),
                state: c.state.clone(),
                attempts: c.attempts,
                last_error: c.last_error.clone(),
                last_success_at: c.last_success_at.and_then(|t| t.rfc3339()),
            },
            None => WebhookJson {
                url: url.clone(),
                delivered_seq: last,
                lag: 0,
                state: "ok".to_owned(),
                attempts: 0,
                last_error: None,
                last_success_at: None,
            },
        })
        .collect())
}

/// Logs the endpoints at start.
pub fn announce(endpoints: &[Endpoint]) {
    for e in endpoints {
        info!(url = %e.url, "webhook endpoint");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_the_standard_webhooks_reference() {
        // The example of the Standard Webhooks specification (standard-webhooks.com).
        let key = secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_without_the_prefix_are_refused() {
        assert!(secret_key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(secret_key("whsec_").is_err());
        assert!(secret_key("whsec_***").is_err());
    }

    #[test]
    fn backoff_grows_and_stays_bounded() {
        assert!(backoff(1) <= Duration::from_millis(750));
        assert!(backoff(30) <= MAX_BACKOFF.mul_f64(1.5));
        assert!(backoff(4) >= Duration::from_secs(2));
    }
}
