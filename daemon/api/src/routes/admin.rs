//! The rest: `GET /v1/health`, `GET /v1/openapi.json`, `GET /metrics`,
//! `GET /v1/projects`, `GET /v1/webhooks` and `GET /v1/audit`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::{Caller, Scope};
use crate::extract::Query;
use crate::json::{AuditJson, Health, ProjectCountJson, WebhookJson};
use crate::problem::Problem;
use crate::state::AppState;

/// Whether the daemon answers; no token needed.
#[utoipa::path(get, path = "/v1/health", tag = "admin", responses((status = 200, body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Prometheus metrics (text format 0.0.4); scope `metrics` or an admin token.
#[utoipa::path(get, path = "/metrics", tag = "admin",
    responses((status = 200, content_type = "text/plain", body = String), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn metrics(State(state): State<AppState>, caller: Caller) -> Result<Response, Problem> {
    caller.require(Scope::Metrics)?;
    let Some(metrics) = &state.metrics else {
        return Err(Problem::unavailable("metrics are not being recorded in this process"));
    };
    let text = metrics.render(&state.store).await?;
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"))], text)
        .into_response())
}

/// Messages per project and account, for the accounts the caller may see.
#[utoipa::path(get, path = "/v1/projects", tag = "messages",
    responses((status = 200, body = [ProjectCountJson])), security(("bearer" = [])))]
pub async fn projects(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<ProjectCountJson>>, Problem> {
    caller.require(Scope::Read)?;
    let visible = state.visible(&caller);
    let rows = state.store.projects().await?;
    Ok(Json(
        rows.into_iter()
            .filter(|(_, account, _)| visible.contains(account))
            .map(|(project, account, messages)| ProjectCountJson { project, account, messages })
            .collect(),
    ))
}

/// Each webhook endpoint's delivery state; admins only.
#[utoipa::path(get, path = "/v1/webhooks", tag = "admin",
    responses((status = 200, body = [WebhookJson]), (status = 403, body = Problem)), security(("bearer" = [])))]
pub async fn webhooks(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<WebhookJson>>, Problem> {
    caller.require_admin()?;
    Ok(Json(crate::webhooks::status(&state.store, &state.webhook_urls).await?))
}

/// Parameters of `GET /v1/audit`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// Entries older than this id (for the next page).
    before: Option<i64>,
    /// At most this many, 1 to 1000 (default 100).
    limit: Option<usize>,
}

/// Every write made through the API, newest first; admins only.
#[utoipa::path(get, path = "/v1/audit", tag = "admin", params(AuditParams),
    responses((status = 200, body = [AuditJson]), (status = 403, body = Problem)), security(("bearer" = [])))]
pub async fn audit(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<AuditParams>,
) -> Result<Json<Vec<AuditJson>>, Problem> {
    caller.require_admin()?;
    let limit = match p.limit.unwrap_or(100) {
        n @ 1..=1000 => n,
        n => return Err(Problem::bad_request(format!("limit = {n}: ask for 1 to 1000"))),
    };
    let rows = state.store.audit(p.before, limit).await?;
    Ok(Json(rows.into_iter().map(AuditJson::from).collect()))
}
