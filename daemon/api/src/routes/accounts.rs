//! Accounts and their folders: `GET /v1/accounts`, `GET /v1/accounts/{id}`,
//! `POST /v1/accounts/{id}/sync`, `POST /v1/accounts/{id}/test`,
//! `GET /v1/accounts/{id}/folders`.

use axum::Json;
use axum::extract::State;

use crate::extract::Path;
use axum::http::StatusCode;

use postfach_model::AccountState;
use postfach_store::AccountRow;

use crate::audit::Audit;
use crate::auth::{Caller, Scope};
use crate::json::{AccountJson, FolderJson, ProgressJson, TestStepJson};
use crate::problem::Problem;
use crate::state::AppState;

async fn account_json(state: &AppState, row: AccountRow) -> Result<AccountJson, Problem> {
    let folders = state.store.folders(&row.id).await?;
    let live: Vec<_> = folders.iter().filter(|f| f.present && f.folder.selectable).collect();
    let messages = state.store.message_count(&row.id).await?;
    Ok(AccountJson {
        provider: row.adapter.clone().unwrap_or(row.provider),
        description: row.description,
        enabled: row.enabled && row.disabled_digest.is_none(),
        state: row.state.as_str().to_owned(),
        last_sync: row.last_sync.and_then(|t| t.rfc3339()),
        last_error: row.last_error,
        failures: row.failures,
        progress: ProgressJson {
            messages,
            folders: live.len() as u64,
            folders_synced: live.iter().filter(|f| f.synced_at.is_some()).count() as u64,
            syncing: row.state == AccountState::Syncing,
        },
        id: row.id,
    })
}

/// Every account the caller may see.
#[utoipa::path(get, path = "/v1/accounts", tag = "accounts",
    responses((status = 200, body = [AccountJson]), (status = 401, body = Problem)),
    security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<AccountJson>>, Problem> {
    caller.require(Scope::Read)?;
    let visible = state.visible(&caller);
    let mut out = Vec::new();
    for row in state.store.accounts().await? {
        if visible.contains(&row.id) {
            out.push(account_json(&state, row).await?);
        }
    }
    Ok(Json(out))
}

/// The account row, or 404 for an unknown or invisible account.
pub(crate) async fn visible_account(state: &AppState, caller: &Caller, id: &str) -> Result<AccountRow, Problem> {
    state.check_visible(caller, id)?;
    state.store.account(id).await?.ok_or_else(|| Problem::not_found(format!("no account `{id}`")))
}

/// One account.
#[utoipa::path(get, path = "/v1/accounts/{id}", tag = "accounts",
    params(("id" = String, Path, description = "account id")),
    responses((status = 200, body = AccountJson), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<AccountJson>, Problem> {
    caller.require(Scope::Read)?;
    let row = visible_account(&state, &caller, &id).await?;
    Ok(Json(account_json(&state, row).await?))
}

/// Starts a full sync pass now; 202 when the account's task was asked.
#[utoipa::path(post, path = "/v1/accounts/{id}/sync", tag = "accounts",
    params(("id" = String, Path, description = "account id")),
    responses((status = 202), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn sync(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    let audit = Audit::new(&state, &caller, "POST /v1/accounts/{id}/sync").account(&id);
    audit
        .finish(StatusCode::ACCEPTED, async {
            caller.require(Scope::Write)?;
            let row = visible_account(&state, &caller, &id).await?;
            if state.control.sync_now(&id) {
                Ok(StatusCode::ACCEPTED)
            } else {
                Err(Problem::conflict(format!("account `{id}` is not running (state {})", row.state)))
            }
        })
        .await
}

/// The account test: IMAP login and LIST, SMTP connect and AUTH; nothing is sent.
#[utoipa::path(post, path = "/v1/accounts/{id}/test", tag = "accounts",
    params(("id" = String, Path, description = "account id")),
    responses((status = 200, body = [TestStepJson]), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn test(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<TestStepJson>>, Problem> {
    caller.require(Scope::Read)?;
    state.check_account(&caller, &id).await?;
    let steps = state.control.test_account(id.clone()).await.map_err(Problem::not_found)?;
    Ok(Json(steps.into_iter().map(|s| TestStepJson { step: s.step, ok: s.ok, detail: s.detail }).collect()))
}

/// The account's folders as last listed.
#[utoipa::path(get, path = "/v1/accounts/{id}/folders", tag = "accounts",
    params(("id" = String, Path, description = "account id")),
    responses((status = 200, body = [FolderJson]), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn folders(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<FolderJson>>, Problem> {
    caller.require(Scope::Read)?;
    visible_account(&state, &caller, &id).await?;
    let rows = state.store.folders(&id).await?;
    Ok(Json(
        rows.into_iter()
            .filter(|r| r.present)
            .map(|r| FolderJson {
                name: r.folder.name,
                raw: r.folder.raw,
                path: r.folder.path,
                delimiter: r.folder.delimiter,
                attributes: r.folder.attributes,
                role: r.folder.role.map(|x| x.to_string()),
                role_source: r.folder.role_source.map(|x| x.as_str().to_owned()),
                messages: r.messages,
            })
            .collect(),
    ))
}
