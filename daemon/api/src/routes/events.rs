//! The event feed: `GET /v1/events` (a page after a seq, optionally long-polling until
//! there is one) and `GET /v1/events/stream` (Server-Sent Events; `id:` is the seq, and
//! `Last-Event-ID` resumes after a dropped connection with nothing skipped). Only events
//! of accounts the caller may see are shown.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::Stream;
use serde::Deserialize;
use utoipa::IntoParams;

use postfach_store::EventQuery;

use crate::auth::{Caller, Scope};
use crate::extract::Query;
use crate::json::{EventJson, EventPageJson};
use crate::problem::Problem;
use crate::state::AppState;

/// The longest long-poll.
pub const MAX_WAIT_SECS: u64 = 120;
/// The most events per page.
const MAX_EVENTS: usize = 1000;

/// Parameters of `GET /v1/events`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventParams {
    /// Events after this seq (default 0: from the start).
    after: Option<i64>,
    /// At most this many, 1 to 1000 (default 100).
    limit: Option<usize>,
    /// Wait up to this many seconds (at most 120) for an event when there is none.
    wait: Option<u64>,
}

/// Events after a seq, oldest first; with `wait`, the answer comes as soon as there is one.
#[utoipa::path(get, path = "/v1/events", tag = "events", params(EventParams),
    responses((status = 200, body = EventPageJson), (status = 400, body = Problem)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<EventParams>,
) -> Result<Json<EventPageJson>, Problem> {
    caller.require(Scope::Read)?;
    let limit = match p.limit.unwrap_or(100) {
        n @ 1..=MAX_EVENTS => n,
        n => return Err(Problem::bad_request(format!("limit = {n}: ask for 1 to {MAX_EVENTS}"))),
    };
    let wait = match p.wait.unwrap_or(0) {
        n @ 0..=MAX_WAIT_SECS => Duration::from_secs(n),
        n => return Err(Problem::bad_request(format!("wait = {n}: wait at most {MAX_WAIT_SECS} seconds"))),
    };
    let after = p.after.unwrap_or(0).max(0);
    let query = EventQuery { after, limit, accounts: state.visible(&caller).filter() };
    let deadline = tokio::time::Instant::now() + wait;
    let mut feed = state.feed.clone();
    loop {
        // Mark the current value seen first, so an event committed between the read and
        // the wait still wakes the wait.
        feed.borrow_and_update();
        let events = state.store.events(query.clone()).await?;
        if !events.is_empty() || tokio::time::Instant::now() >= deadline || state.stop.is_cancelled() {
            let last_seq = events.last().map_or(after, |e| e.seq);
            return Ok(Json(EventPageJson { items: events.into_iter().map(EventJson::from).collect(), last_seq }));
        }
        // Woken by news, the deadline, or the daemon stopping (then the loop answers).
        tokio::select! {
            () = state.stop.cancelled() => {}
            _ = tokio::time::timeout_at(deadline, feed.changed()) => {}
        }
    }
}

/// Parameters of `GET /v1/events/stream`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StreamParams {
    /// Start after this seq (`Last-Event-ID` wins when both are given; default: from now).
    after: Option<i64>,
}

/// The feed as Server-Sent Events, from `Last-Event-ID` (or `after`) on.
#[utoipa::path(get, path = "/v1/events/stream", tag = "events", params(StreamParams,
        ("Last-Event-ID" = Option<i64>, Header, description = "resume after this seq")),
    responses((status = 200, content_type = "text/event-stream", body = String)), security(("bearer" = [])))]
pub async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Query(p): Query<StreamParams>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, Problem> {
    caller.require(Scope::Read)?;
    let resume = match headers.get("last-event-id") {
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .ok_or_else(|| Problem::bad_request("Last-Event-ID must be an event's seq"))?,
        ),
        None => None,
    };
    let after = match resume.or(p.after) {
        Some(seq) => seq.max(0),
        None => state.store.last_event_seq().await?,
    };
    let accounts = state.visible(&caller).filter();
    let start = Cursor { state, after, accounts, pending: std::collections::VecDeque::new() };
    let events = futures::stream::unfold(start, |mut c| async move {
        loop {
            if let Some(e) = c.pending.pop_front() {
                return Some((Ok(e), c));
            }
            // Seen before reading, so an event committed meanwhile still wakes the wait.
            let mut feed = c.state.feed.clone();
            feed.borrow_and_update();
            let query = EventQuery { after: c.after, limit: MAX_EVENTS, accounts: c.accounts.clone() };
            match c.state.store.events(query).await {
                Ok(events) if !events.is_empty() => {
                    for e in events {
                        c.after = e.seq;
                        let id = e.seq.to_string();
                        let data = serde_json::to_string(&EventJson::from(e)).unwrap_or_default();
                        c.pending.push_back(SseEvent::default().id(id).data(data));
                    }
                }
                Ok(_) => {
                    // The stream ends when the daemon stops; the client resumes elsewhere.
                    let stop = c.state.stop.clone();
                    tokio::select! {
                        () = stop.cancelled() => return None,
                        changed = feed.changed() => if changed.is_err() { return None },
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "event stream cannot read the feed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

struct Cursor {
    state: AppState,
    after: i64,
    accounts: Option<Vec<String>>,
    pending: std::collections::VecDeque<SseEvent>,
}
