//! Full-text search and threads: `GET /v1/search`, `GET /v1/threads/{thread_id}`.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use postfach_store::{MessageQuery, SearchQuery};

use crate::auth::{Caller, Scope};
use crate::extract::{Path, Query};
use crate::json::MessageJson;
use crate::problem::Problem;
use crate::routes::messages::{MAX_PAGE, page_size};
use crate::state::AppState;

/// Parameters of `GET /v1/search`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// What to find: words (all must occur), `Wort*` for a prefix. Umlauts may be typed
    /// as `ue` or without dots; `ß` as `ss`.
    q: String,
    /// Only this account.
    account: Option<String>,
    /// Only this project.
    project: Option<String>,
    /// At most this many results, 1 to 500 (default 50).
    limit: Option<usize>,
}

/// Search results, best first.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResultJson {
    /// The messages found, ranked.
    pub items: Vec<MessageJson>,
}

/// Ranked full-text search over subject, addresses, body text and attachment names.
#[utoipa::path(get, path = "/v1/search", tag = "messages", params(SearchParams),
    responses((status = 200, body = SearchResultJson), (status = 400, body = Problem)),
    security(("bearer" = [])))]
pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<SearchParams>,
) -> Result<Json<SearchResultJson>, Problem> {
    caller.require(Scope::Read)?;
    if p.q.trim().is_empty() {
        return Err(Problem::bad_request("q must not be empty"));
    }
    if let Some(account) = &p.account {
        state.check_account(&caller, account).await?;
    }
    let query = SearchQuery {
        text: p.q,
        visible: state.visible(&caller).filter(),
        account: p.account,
        project: p.project,
        limit: page_size(p.limit)?,
    };
    let found = state.store.search(query).await?;
    Ok(Json(SearchResultJson { items: found.into_iter().map(MessageJson::from).collect() }))
}

/// A thread's messages.
#[derive(Debug, Serialize, ToSchema)]
pub struct ThreadJson {
    /// The thread.
    pub thread_id: String,
    /// Every message of it the caller may see, oldest first.
    pub items: Vec<MessageJson>,
}

/// Every visible message of a thread, oldest first (across folders and accounts).
#[utoipa::path(get, path = "/v1/threads/{thread_id}", tag = "messages",
    params(("thread_id" = String, Path, description = "a message's thread_id")),
    responses((status = 200, body = ThreadJson), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn thread(
    State(state): State<AppState>,
    caller: Caller,
    Path(thread_id): Path<String>,
) -> Result<Json<ThreadJson>, Problem> {
    caller.require(Scope::Read)?;
    let query = MessageQuery {
        visible: state.visible(&caller).filter(),
        thread: Some(thread_id.clone()),
        limit: MAX_PAGE,
        oldest_first: true,
        ..MessageQuery::default()
    };
    let page = state.store.message_page(query).await?;
    if page.items.is_empty() {
        return Err(Problem::not_found(format!("no thread `{thread_id}`")));
    }
    Ok(Json(ThreadJson { thread_id, items: page.items.into_iter().map(MessageJson::from).collect() }))
}
