//! Sending over HTTP and the outbox: `POST /v1/send` (with `Idempotency-Key`),
//! `GET /v1/outbox`, `GET /v1/outbox/{id}`, `POST /v1/outbox/{id}/retry`,
//! `DELETE /v1/outbox/{id}`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;

use crate::audit::Audit;
use crate::auth::{Caller, Scope};
use crate::control::{ComposeFailure, SendAttachment, SendRequest};
use crate::extract::{Body, Path};
use crate::json::{OutboxJson, SendJson, SentJson};
use crate::problem::Problem;
use crate::state::AppState;

/// The longest `Idempotency-Key` accepted.
const MAX_KEY: usize = 255;

impl From<ComposeFailure> for Problem {
    fn from(f: ComposeFailure) -> Problem {
        match f {
            ComposeFailure::Invalid(m) => Problem::bad_request(m),
            ComposeFailure::NotFound(m) => Problem::not_found(m),
            ComposeFailure::Refused(m) => Problem::unprocessable(m),
            ComposeFailure::Unavailable(m) => Problem::unavailable(m),
        }
    }
}

/// Builds a message and queues it for sending (or for Drafts). With an
/// `Idempotency-Key` header, a retry of the same request returns the same outbox entry.
#[utoipa::path(post, path = "/v1/send", tag = "send", request_body = SendJson,
    params(("Idempotency-Key" = Option<String>, Header, description = "makes a retry return the first entry")),
    responses((status = 202, body = SentJson), (status = 400, body = Problem), (status = 403, body = Problem),
               (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn send(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Body(body): Body<SendJson>,
) -> Result<(StatusCode, Json<SentJson>), Problem> {
    let detail = serde_json::json!({
        "account": body.account, "to": body.to.len(), "cc": body.cc.len(), "bcc": body.bcc.len(),
        "attachments": body.attachments.len(), "draft": body.draft,
    });
    let audit = Audit::new(&state, &caller, "POST /v1/send").detail(detail);
    audit
        .finish_with(async {
            caller.require(Scope::Send)?;
            let key = match headers.get("idempotency-key") {
                None => None,
                Some(v) => {
                    let k = v.to_str().map_err(|_| Problem::bad_request("Idempotency-Key must be ASCII"))?.trim();
                    if k.is_empty() || k.len() > MAX_KEY {
                        return Err(Problem::bad_request(format!("Idempotency-Key must be 1 to {MAX_KEY} characters")));
                    }
                    // Keys are per user: two users' keys never collide.
                    Some(format!("{}:{k}", caller.user()))
                }
            };
            if let Some(key) = &key
                && let Some(existing) = state.store.outbox_by_key(key).await?
            {
                state.check_send_as(&caller, &existing.account)?;
                let json = SentJson { outbox_id: existing.id, message_id: existing.message_id };
                return Ok((StatusCode::ACCEPTED, Json(json)));
            }
            if let Some(account) = &body.account {
                state.check_send_as(&caller, account)?;
            }
            for id in [body.reply_to_local_id, body.forward_local_id].into_iter().flatten() {
                crate::routes::messages::visible_message(&state, &caller, id).await?;
            }
            let mut attachments = Vec::new();
            for a in body.attachments {
                let bytes = base64::engine::general_purpose::STANDARD.decode(a.content_base64.trim()).map_err(|e| {
                    Problem::bad_request(format!("attachment `{}`: content_base64 is not base64 ({e})", a.filename))
                })?;
                attachments.push(SendAttachment {
                    filename: a.filename,
                    content_type: a.content_type.unwrap_or_else(|| "application/octet-stream".to_owned()),
                    bytes,
                });
            }
            let request = SendRequest {
                account: body.account,
                to: body.to,
                cc: body.cc,
                bcc: body.bcc,
                subject: body.subject,
                text: body.text,
                html: body.html,
                attachments,
                reply_to_local_id: body.reply_to_local_id,
                forward_local_id: body.forward_local_id,
                draft: body.draft,
            };
            let entry = state.control.compose(request).await?;
            // The account may have been chosen by the composer (the default account).
            state.check_send_as(&caller, &entry.account)?;
            let message_id = entry.message_id.clone();
            let id = match &key {
                Some(key) => state.store.enqueue_outbox_once(entry, key, caller.user()).await?.0,
                None => state.store.enqueue_outbox(entry).await?,
            };
            state.control.outbox_changed();
            let stored = state.store.outbox_entry(id).await?;
            let message_id = stored.map_or(message_id, |e| e.message_id);
            Ok((StatusCode::ACCEPTED, Json(SentJson { outbox_id: id, message_id })))
        })
        .await
}

/// Outbox entries of the accounts the caller may see, newest first.
#[utoipa::path(get, path = "/v1/outbox", tag = "send",
    responses((status = 200, body = [OutboxJson])), security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<OutboxJson>>, Problem> {
    caller.require(Scope::Read)?;
    let visible = state.visible(&caller);
    let entries = state.store.outbox().await?;
    Ok(Json(entries.into_iter().filter(|e| visible.contains(&e.account)).map(OutboxJson::from).collect()))
}

async fn visible_entry(state: &AppState, caller: &Caller, id: i64) -> Result<postfach_store::OutboxEntry, Problem> {
    let missing = || Problem::not_found(format!("no outbox entry {id}"));
    let entry = state.store.outbox_entry(id).await?.ok_or_else(missing)?;
    if state.visible(caller).contains(&entry.account) { Ok(entry) } else { Err(missing()) }
}

/// One outbox entry.
#[utoipa::path(get, path = "/v1/outbox/{id}", tag = "send",
    params(("id" = i64, Path, description = "outbox id")),
    responses((status = 200, body = OutboxJson), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<OutboxJson>, Problem> {
    caller.require(Scope::Read)?;
    Ok(Json(visible_entry(&state, &caller, id).await?.into()))
}

/// Queues a failed or deferred entry again, now.
#[utoipa::path(post, path = "/v1/outbox/{id}/retry", tag = "send",
    params(("id" = i64, Path, description = "outbox id")),
    responses((status = 202, body = OutboxJson), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<OutboxJson>), Problem> {
    let audit = Audit::new(&state, &caller, "POST /v1/outbox/{id}/retry").target(id);
    audit
        .finish_with(async {
            caller.require(Scope::Send)?;
            let entry = visible_entry(&state, &caller, id).await?;
            state.check_send_as(&caller, &entry.account)?;
            if !state.store.retry_outbox(id).await? {
                return Err(Problem::conflict(format!(
                    "outbox entry {id} is {}; only failed or deferred entries can be retried",
                    entry.state.as_str()
                )));
            }
            state.control.outbox_changed();
            Ok((StatusCode::ACCEPTED, Json(visible_entry(&state, &caller, id).await?.into())))
        })
        .await
}

/// Cancels a queued or deferred entry.
#[utoipa::path(delete, path = "/v1/outbox/{id}", tag = "send",
    params(("id" = i64, Path, description = "outbox id")),
    responses((status = 200, body = OutboxJson), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<OutboxJson>, Problem> {
    let audit = Audit::new(&state, &caller, "DELETE /v1/outbox/{id}").target(id);
    audit
        .finish(StatusCode::OK, async {
            caller.require(Scope::Send)?;
            let entry = visible_entry(&state, &caller, id).await?;
            state.check_send_as(&caller, &entry.account)?;
            if !state.store.cancel_outbox(id).await? {
                return Err(Problem::conflict(format!(
                    "outbox entry {id} is {}; only queued or deferred entries can be cancelled",
                    entry.state.as_str()
                )));
            }
            Ok(Json(visible_entry(&state, &caller, id).await?.into()))
        })
        .await
}
