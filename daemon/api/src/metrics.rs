//! Prometheus metrics: the recorder the whole daemon reports to (through the `metrics`
//! facade: sync passes, IMAP errors, plugin calls, webhook deliveries, API requests),
//! and the gauges read from the store when `/metrics` is scraped (accounts and outbox
//! entries by state, webhook lag).

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use postfach_store::{Store, StoreError};

/// Histogram buckets for durations in seconds: 1 ms to 5 min.
const SECONDS: &[f64] = &[0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

/// The installed recorder; renders the text format.
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
    webhook_urls: Vec<String>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

/// Why the recorder could not be installed (another one is, in this process).
#[derive(Debug, thiserror::Error)]
#[error("cannot install the metrics recorder: {0}")]
pub struct MetricsError(String);

impl Metrics {
    /// Installs the process-wide recorder. Call once, in `postfachd run`.
    pub fn install(webhook_urls: Vec<String>) -> Result<Metrics, MetricsError> {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), SECONDS)
            .map_err(|e| MetricsError(e.to_string()))?
            .install_recorder()
            .map_err(|e| MetricsError(e.to_string()))?;
        describe();
        Ok(Metrics { handle, webhook_urls })
    }

    /// The text to answer `/metrics` with, gauges refreshed from the store first.
    pub async fn render(&self, store: &Store) -> Result<String, StoreError> {
        let accounts = store.accounts().await?;
        for state in postfach_model::AccountState::ALL {
            let n = accounts.iter().filter(|a| a.state == state).count();
            metrics::gauge!("postfach_accounts", "state" => state.as_str()).set(n as f64);
        }
        let outbox = store.outbox_counts().await?;
        for (state, n) in outbox {
            metrics::gauge!("postfach_outbox_entries", "state" => state).set(n as f64);
        }
        for w in crate::webhooks::status(store, &self.webhook_urls).await? {
            metrics::gauge!("postfach_webhook_lag_events", "url" => w.url).set(w.lag as f64);
        }
        self.handle.run_upkeep();
        Ok(self.handle.render())
    }
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_gauge!("postfach_accounts", "Accounts by state.");
    describe_gauge!("postfach_outbox_entries", "Outbox entries by state.");
    describe_gauge!("postfach_webhook_lag_events", "Events not yet delivered to a webhook endpoint.");
    describe_counter!("postfach_webhook_deliveries_total", "Webhook delivery attempts by result.");
    describe_histogram!("postfach_pass_duration_seconds", Unit::Seconds, "Duration of full sync passes.");
    describe_counter!("postfach_messages_stored_total", "Messages stored for the first time.");
    describe_counter!("postfach_bytes_fetched_total", Unit::Bytes, "Message bytes downloaded from IMAP servers.");
    describe_counter!("postfach_imap_errors_total", "Failed account passes by kind of error.");
    describe_histogram!("postfach_plugin_call_duration_seconds", Unit::Seconds, "Duration of plugin calls.");
    describe_counter!("postfach_plugin_failures_total", "Plugin calls that failed (trap, timeout, error).");
    describe_counter!("postfach_api_requests_total", "API requests by route and status.");
    describe_histogram!("postfach_api_request_duration_seconds", Unit::Seconds, "API request durations by route.");
}

/// Middleware counting requests by route (the pattern, not the concrete path, so ids do
/// not explode the label set) and status.
pub async fn track(request: Request, next: Next) -> Response {
    let route =
        request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("postfach_api_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("postfach_api_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}
