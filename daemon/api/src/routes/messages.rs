//! Messages: the filtered, paged list; one message with its content; its raw source and
//! attachments; and the writes (flags, move, spam, delete, manual project), which are
//! applied on the server by the account's connection like `postfachd mark`.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use postfach_model::MessageId;
use postfach_store::{ChangeState, Cursor, MessageQuery, Op};

use crate::audit::Audit;
use crate::auth::{Caller, Scope};
use crate::extract::{Body, Path, Query};
use crate::json::{
    AttachmentJson, ChangeJson, FlagsPatch, MessageDetailJson, MessageJson, MessagePageJson, MoveRequest, ProjectJson,
    ProjectRequest, RouteJson, SpamRequest,
};
use crate::problem::Problem;
use crate::state::AppState;

/// The largest page a client may ask for.
pub const MAX_PAGE: usize = 500;
/// The page size when none is asked for.
pub const DEFAULT_PAGE: usize = 50;
/// How long a write waits for the account to apply it before answering 202.
const APPLY_WAIT: Duration = Duration::from_secs(10);

/// Filters of `GET /v1/messages`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only this account.
    account: Option<String>,
    /// Only messages on the server in this folder (decoded full name).
    folder: Option<String>,
    /// Only this project.
    project: Option<String>,
    /// Only this thread.
    thread: Option<String>,
    /// `true`: only unread messages; `false`: only read ones.
    unread: Option<bool>,
    /// Only messages dated at or after this instant (RFC 3339, a date `YYYY-MM-DD`, or Unix seconds).
    since: Option<String>,
    /// Page size, 1 to 500 (default 50).
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Reads `since`: RFC 3339, a plain date, or Unix seconds.
pub(crate) fn parse_since(text: &str) -> Result<i64, Problem> {
    if let Ok(n) = text.parse::<i64>() {
        return Ok(n);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(t.and_utc().timestamp());
    }
    Err(Problem::bad_request(format!(
        "since = `{text}` is not an instant; write 2026-11-30, 2026-11-30T08:00:00Z or Unix seconds"
    )))
}

/// The page size asked for, checked.
pub(crate) fn page_size(limit: Option<usize>) -> Result<usize, Problem> {
    match limit.unwrap_or(DEFAULT_PAGE) {
        n @ 1..=MAX_PAGE => Ok(n),
        n => Err(Problem::bad_request(format!("limit = {n}: ask for 1 to {MAX_PAGE} at a time"))),
    }
}

fn encode_cursor(c: Cursor) -> String {
    format!("m{}", c.0)
}

fn decode_cursor(text: &str) -> Result<Cursor, Problem> {
    text.strip_prefix('m')
        .and_then(|n| n.parse::<i64>().ok())
        .map(Cursor)
        .ok_or_else(|| Problem::bad_request(format!("cursor `{text}` is not one this API gave out")))
}

/// Messages the caller may see, newest first, a page at a time.
#[utoipa::path(get, path = "/v1/messages", tag = "messages", params(ListParams),
    responses((status = 200, body = MessagePageJson), (status = 400, body = Problem)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<ListParams>,
) -> Result<Json<MessagePageJson>, Problem> {
    caller.require(Scope::Read)?;
    if let Some(account) = &p.account {
        state.check_account(&caller, account).await?;
    }
    let query = MessageQuery {
        visible: state.visible(&caller).filter(),
        account: p.account,
        folder: p.folder,
        project: p.project,
        thread: p.thread,
        unread: p.unread,
        since: p.since.as_deref().map(parse_since).transpose()?,
        limit: page_size(p.limit)?,
        cursor: p.cursor.as_deref().map(decode_cursor).transpose()?,
        oldest_first: false,
    };
    let page = state.store.message_page(query).await?;
    Ok(Json(MessagePageJson {
        items: page.items.into_iter().map(MessageJson::from).collect(),
        next_cursor: page.next.map(encode_cursor),
    }))
}

/// [`visible_message`], and the message's body stored: a message stored header-only
/// (`[sync] bodies = "on-demand"`) is fetched from the server first (502 with the
/// server's words when that fails).
pub(crate) async fn readable_message(state: &AppState, caller: &Caller, id: i64) -> Result<String, Problem> {
    let account = visible_message(state, caller, id).await?;
    if state.store.body_missing(MessageId(id)).await? {
        state
            .control
            .fetch_body(account.clone(), id)
            .await
            .map_err(|e| Problem::new(StatusCode::BAD_GATEWAY, "body-unavailable", e))?;
    }
    Ok(account)
}

/// The message's account, or 404 when there is no such message or the caller may not see it.
pub(crate) async fn visible_message(state: &AppState, caller: &Caller, id: i64) -> Result<String, Problem> {
    let missing = || Problem::not_found(format!("no message {id}"));
    let account = state.store.account_of(MessageId(id)).await?.ok_or_else(missing)?;
    if state.visible(caller).contains(&account) { Ok(account) } else { Err(missing()) }
}

/// One message with its text, HTML and attachments.
#[utoipa::path(get, path = "/v1/messages/{local_id}", tag = "messages",
    params(("local_id" = i64, Path, description = "the message's local id")),
    responses((status = 200, body = MessageDetailJson), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<MessageDetailJson>, Problem> {
    caller.require(Scope::Read)?;
    readable_message(&state, &caller, id).await?;
    let detail = state
        .store
        .message_detail(MessageId(id))
        .await?
        .ok_or_else(|| Problem::not_found(format!("no message {id}")))?;
    let content = tokio::task::spawn_blocking(move || {
        let content = postfach_content::parse(&detail.raw);
        (detail, content)
    })
    .await;
    let (detail, content) = content.map_err(|e| Problem::unavailable(format!("parsing the message failed: {e}")))?;
    Ok(Json(MessageDetailJson {
        summary: MessageJson::from(detail.summary),
        text: content.text,
        html: content.html,
        reply_to: content.reply_to,
        in_reply_to: detail.in_reply_to,
        references: detail.references,
        attachments: content
            .attachments
            .into_iter()
            .map(|a| AttachmentJson {
                id: a.id,
                filename: a.filename,
                content_type: a.content_type,
                size: a.size,
                inline: a.inline,
            })
            .collect(),
    }))
}

/// The message's RFC 5322 source, byte for byte.
#[utoipa::path(get, path = "/v1/messages/{local_id}/raw", tag = "messages",
    params(("local_id" = i64, Path, description = "the message's local id")),
    responses((status = 200, content_type = "message/rfc822", body = Vec<u8>), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn raw(State(state): State<AppState>, caller: Caller, Path(id): Path<i64>) -> Result<Response, Problem> {
    caller.require(Scope::Read)?;
    readable_message(&state, &caller, id).await?;
    let raw =
        state.store.raw_message(MessageId(id)).await?.ok_or_else(|| Problem::not_found(format!("no message {id}")))?;
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("message/rfc822"))], raw).into_response())
}

/// `attachment; filename="…"; filename*=UTF-8''…` (RFC 6266): an ASCII fallback for old
/// clients, the exact name for the rest.
pub(crate) fn disposition(filename: &str) -> String {
    let fallback: String = filename
        .chars()
        .map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' })
        .collect();
    let mut encoded = String::new();
    for b in filename.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// One attachment, decoded, with its type and file name.
#[utoipa::path(get, path = "/v1/messages/{local_id}/attachments/{attachment_id}", tag = "messages",
    params(("local_id" = i64, Path, description = "the message's local id"),
           ("attachment_id" = String, Path, description = "the attachment's id from the message")),
    responses((status = 200, body = Vec<u8>), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn attachment(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, attachment)): Path<(i64, String)>,
) -> Result<Response, Problem> {
    caller.require(Scope::Read)?;
    readable_message(&state, &caller, id).await?;
    let raw =
        state.store.raw_message(MessageId(id)).await?.ok_or_else(|| Problem::not_found(format!("no message {id}")))?;
    let wanted = attachment.clone();
    let found = tokio::task::spawn_blocking(move || postfach_content::attachment(&raw, &wanted))
        .await
        .map_err(|e| Problem::unavailable(format!("parsing the message failed: {e}")))?
        .ok_or_else(|| Problem::not_found(format!("message {id} has no attachment `{attachment}`")))?;
    let content_type = HeaderValue::from_str(&found.meta.content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    let name = found.meta.filename.clone().unwrap_or_else(|| format!("attachment-{}", found.meta.id));
    let disposition =
        HeaderValue::from_str(&disposition(&name)).unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    Ok(([(header::CONTENT_TYPE, content_type), (header::CONTENT_DISPOSITION, disposition)], found.bytes)
        .into_response())
}

/// Queues a change, wakes the account, and waits a while for it to be applied:
/// 200 when done, 202 while pending, 422 when the server refused it.
async fn apply(state: &AppState, account: &str, change: i64) -> Result<(StatusCode, Json<ChangeJson>), Problem> {
    state.control.changes_pending(account);
    let deadline = tokio::time::Instant::now() + APPLY_WAIT;
    loop {
        let current = state.store.change(change).await?;
        let Some(c) = current else { return Err(Problem::unavailable(format!("change {change} vanished"))) };
        match c.state {
            ChangeState::Done => {
                return Ok((StatusCode::OK, Json(ChangeJson { change, state: "done".into(), result: c.result })));
            }
            ChangeState::Failed => {
                return Err(Problem::unprocessable(format!(
                    "the server did not apply it: {}",
                    c.result.unwrap_or_else(|| "no reason given".into())
                )));
            }
            ChangeState::Pending if tokio::time::Instant::now() >= deadline => {
                return Ok((
                    StatusCode::ACCEPTED,
                    Json(ChangeJson { change, state: "pending".into(), result: c.result }),
                ));
            }
            ChangeState::Pending => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
}

/// Sets or clears `\Seen`, `\Flagged` and `\Answered` on the server.
#[utoipa::path(patch, path = "/v1/messages/{local_id}", tag = "messages", request_body = FlagsPatch,
    params(("local_id" = i64, Path, description = "the message's local id")),
    responses((status = 200, body = ChangeJson), (status = 202, body = ChangeJson), (status = 400, body = Problem),
               (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Body(body): Body<FlagsPatch>,
) -> Result<(StatusCode, Json<ChangeJson>), Problem> {
    let detail = serde_json::json!({ "seen": body.seen, "flagged": body.flagged, "answered": body.answered });
    let audit = Audit::new(&state, &caller, "PATCH /v1/messages/{local_id}").target(id).detail(detail);
    audit
        .finish_with(async {
            caller.require(Scope::Write)?;
            let account = visible_message(&state, &caller, id).await?;
            let (mut add, mut remove) = (Vec::new(), Vec::new());
            for (flag, value) in [("\\Seen", body.seen), ("\\Flagged", body.flagged), ("\\Answered", body.answered)] {
                match value {
                    Some(true) => add.push(flag.to_owned()),
                    Some(false) => remove.push(flag.to_owned()),
                    None => {}
                }
            }
            if add.is_empty() && remove.is_empty() {
                return Err(Problem::bad_request("give at least one of seen, flagged, answered"));
            }
            let change = state.store.enqueue_change(&account, MessageId(id), Op::Flags, &add, &remove).await?;
            apply(&state, &account, change).await
        })
        .await
}

/// Moves the message to a folder, by name or by role.
#[utoipa::path(post, path = "/v1/messages/{local_id}/move", tag = "messages", request_body = MoveRequest,
    params(("local_id" = i64, Path, description = "the message's local id")),
    responses((status = 200, body = ChangeJson), (status = 202, body = ChangeJson), (status = 404, body = Problem),
               (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn move_to(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Body(body): Body<MoveRequest>,
) -> Result<(StatusCode, Json<ChangeJson>), Problem> {
    let detail = serde_json::json!({ "folder": body.folder, "role": body.role });
    let audit = Audit::new(&state, &caller, "POST /v1/messages/{local_id}/move").target(id).detail(detail);
    audit
        .finish_with(async {
            caller.require(Scope::Write)?;
            let account = visible_message(&state, &caller, id).await?;
            let folders = state.store.folders(&account).await?;
            let live = || folders.iter().filter(|f| f.present && f.folder.selectable);
            let target = match (&body.folder, &body.role) {
                (Some(name), None) => {
                    if !live().any(|f| &f.folder.name == name) {
                        let known: Vec<&str> = live().map(|f| f.folder.name.as_str()).collect();
                        return Err(Problem::unprocessable(format!(
                            "account `{account}` has no folder \"{name}\"; it has: {}",
                            known.join(", ")
                        )));
                    }
                    name.clone()
                }
                (None, Some(role)) => {
                    let parsed: postfach_model::Role = role.parse().map_err(|_| {
                        Problem::bad_request(format!("role `{role}`: use inbox, sent, drafts, trash, junk or archive"))
                    })?;
                    if !live().any(|f| f.folder.role == Some(parsed)) {
                        return Err(Problem::unprocessable(format!("account `{account}` has no {role} folder")));
                    }
                    format!("role:{parsed}")
                }
                _ => return Err(Problem::bad_request("give either `folder` or `role`")),
            };
            let change = state.store.enqueue_move(&account, MessageId(id), &target).await?;
            apply(&state, &account, change).await
        })
        .await
}

/// Moves the message to the junk folder, or back to the inbox.
#[utoipa::path(post, path = "/v1/messages/{local_id}/spam", tag = "messages", request_body = SpamRequest,
    params(("local_id" = i64, Path, description = "the message's local id")),
    responses((status = 200, body = ChangeJson), (status = 202, body = ChangeJson), (status = 404, body = Problem),
               (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn spam(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Body(body): Body<SpamRequest>,
) -> Result<(StatusCode, Json<ChangeJson>), Problem> {
    let audit = Audit::new(&state, &caller, "POST /v1/messages/{local_id}/spam")
        .target(id)
        .detail(serde_json::json!({ "spam": body.spam }));
    audit
        .finish_with(async {
            caller.require(Scope::Write)?;
            let account = visible_message(&state, &caller, id).await?;
            let op = if body.spam { Op::Spam } else { Op::NotSpam };
            let change = state.store.enqueue_change(&account, MessageId(id), op, &[], &[]).await?;
            apply(&state, &account, change).await
        })
        .await
}

/// Deletes the message like `postfachd delete`: to the trash, or for good in the trash.
#[utoipa::path(delete, path = "/v1/messages/{local_id}", tag = "messages",
    params(("local_id" = i64, Path, description = "the message's local id")),
    responses((status = 200, body = ChangeJson), (status = 202, body = ChangeJson), (status = 404, body = Problem),
               (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<ChangeJson>), Problem> {
    let audit = Audit::new(&state, &caller, "DELETE /v1/messages/{local_id}").target(id);
    audit
        .finish_with(async {
            caller.require(Scope::Write)?;
            let account = visible_message(&state, &caller, id).await?;
            let change = state.store.enqueue_change(&account, MessageId(id), Op::Delete, &[], &[]).await?;
            apply(&state, &account, change).await
        })
        .await
}

/// Assigns the message to a project by hand (null: to none); routers never override it.
#[utoipa::path(put, path = "/v1/messages/{local_id}/project", tag = "messages", request_body = ProjectRequest,
    params(("local_id" = i64, Path, description = "the message's local id")),
    responses((status = 200, body = ProjectJson), (status = 400, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn set_project(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Body(body): Body<ProjectRequest>,
) -> Result<Json<ProjectJson>, Problem> {
    let audit = Audit::new(&state, &caller, "PUT /v1/messages/{local_id}/project")
        .target(id)
        .detail(serde_json::json!({ "project": body.project }));
    audit
        .finish(StatusCode::OK, async {
            caller.require(Scope::Write)?;
            let account = visible_message(&state, &caller, id).await?;
            if let Some(p) = &body.project
                && (p.trim().is_empty() || p.len() > 200 || p.chars().any(char::is_control))
            {
                return Err(Problem::bad_request("project must be 1 to 200 printable characters, or null"));
            }
            if let (Some(p), Some(known)) = (&body.project, &state.directory().projects)
                && !known.contains(p)
            {
                return Err(Problem::unprocessable(format!("project `{p}` is not in the project list (projects_file)")));
            }
            let event = state.store.set_manual_project(MessageId(id), body.project.clone(), caller.user()).await?;
            tracing::info!(account = %account, message = id, project = ?body.project, user = caller.user(), "manual project assignment");
            Ok(Json(ProjectJson { local_id: id, project: body.project, event: event.map(|e| e.as_str().to_owned()) }))
        })
        .await
}

/// How the message was routed: every router's answer, the winner, and a manual assignment.
#[utoipa::path(get, path = "/v1/messages/{local_id}/route", tag = "messages",
    params(("local_id" = i64, Path, description = "the message's local id")),
    responses((status = 200, body = RouteJson), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn route(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<RouteJson>, Problem> {
    caller.require(Scope::Read)?;
    let account = visible_message(&state, &caller, id).await?;
    let trace = state.store.trace(MessageId(id)).await?;
    let assignment = state.store.assignments(vec![MessageId(id)]).await?.remove(&MessageId(id));
    let (folder, at, steps, manual) = match trace {
        Some(t) => (t.folder, t.at.rfc3339(), serde_json::to_value(&t.steps).unwrap_or_default(), t.manual),
        None => (None, None, serde_json::Value::Array(Vec::new()), None),
    };
    Ok(Json(RouteJson {
        local_id: id,
        account,
        folder,
        routed_at: at,
        steps,
        project: assignment.as_ref().map(|a| a.0.clone()),
        plugin: assignment.map(|a| a.1),
        manual: manual.map(|m| serde_json::json!({ "project": m.project, "user": m.user, "at": m.at.rfc3339() })),
    }))
}
