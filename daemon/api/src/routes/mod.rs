//! The routes, assembled into one router whose OpenAPI 3.1 document is generated from
//! the handlers' annotations, so the document and the routes cannot drift apart.

pub mod accounts;
pub mod admin;
pub mod events;
pub mod messages;
pub mod search;
pub mod send;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::problem::Problem;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Postfach Integration API",
        version = "1",
        description = "Accounts, messages, search, threads, sending and the event feed of a Postfach daemon. \
                       Every route but /v1/health and /v1/openapi.json needs `Authorization: Bearer <token>` \
                       (`postfachd token create`). Errors are application/problem+json (RFC 9457)."
    ),
    modifiers(&Bearer),
    tags(
        (name = "accounts", description = "Accounts, their state and folders"),
        (name = "messages", description = "Messages, their content, search, threads and projects"),
        (name = "send", description = "Sending and the outbox"),
        (name = "events", description = "The event feed"),
        (name = "admin", description = "Health, metrics, webhooks and the audit trail"),
    )
)]
struct ApiDoc;

struct Bearer;

impl utoipa::Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("pf_…").build()),
        );
    }
}

/// The OpenAPI document, served at `/v1/openapi.json`.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "admin",
    responses((status = 200, content_type = "application/json", body = Object)))]
pub async fn openapi(axum::extract::State(state): axum::extract::State<AppState>) -> impl IntoResponse {
    let text = state.openapi.get().cloned().unwrap_or_default();
    ([(axum::http::header::CONTENT_TYPE, "application/json")], text)
}

/// Every route with its OpenAPI description; `timeout` bounds all but the feed's.
fn routes(timeout: Duration) -> OpenApiRouter<AppState> {
    // Requests that finish on their own; cut off after `request_timeout_secs`.
    let bounded = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(admin::health))
        .routes(routes!(openapi))
        .routes(routes!(admin::metrics))
        .routes(routes!(accounts::list))
        .routes(routes!(accounts::get))
        .routes(routes!(accounts::sync))
        .routes(routes!(accounts::test))
        .routes(routes!(accounts::folders))
        .routes(routes!(messages::list))
        .routes(routes!(messages::get, messages::patch, messages::delete))
        .routes(routes!(messages::raw))
        .routes(routes!(messages::attachment))
        .routes(routes!(messages::move_to))
        .routes(routes!(messages::spam))
        .routes(routes!(messages::set_project))
        .routes(routes!(messages::route))
        .routes(routes!(search::search))
        .routes(routes!(search::thread))
        .routes(routes!(send::send))
        .routes(routes!(send::list))
        .routes(routes!(send::get, send::cancel))
        .routes(routes!(send::retry))
        .routes(routes!(admin::projects))
        .routes(routes!(admin::webhooks))
        .routes(routes!(admin::audit))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout));
    // Long-polls and streams end when there is news, the client goes, or the daemon stops.
    let open = OpenApiRouter::new().routes(routes!(events::list)).routes(routes!(events::stream));
    bounded.merge(open)
}

/// The OpenAPI document of every route.
pub fn document() -> utoipa::openapi::OpenApi {
    routes(Duration::from_secs(60)).split_for_parts().1
}

/// The router with every route, and the OpenAPI document describing it.
pub fn router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let max_body = usize::try_from(state.settings.max_body_mib.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX);
    let timeout = Duration::from_secs(state.settings.request_timeout_secs);
    let (router, api) = routes(timeout).split_for_parts();
    let router = router
        .fallback(|| async { Problem::not_found("no such route; see /v1/openapi.json") })
        .layer(axum::middleware::from_fn(crate::metrics::track))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the request failed inside postfachd; see its log",
            )
            .into_response()
        }))
        .with_state(state);
    (router, api)
}
