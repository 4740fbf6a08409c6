//! Request extractors whose rejections are problem documents: a malformed JSON body, a
//! query parameter of the wrong type or an unparsable path segment answers 400 with
//! `application/problem+json` like every other error, never axum's plain text.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};

use crate::problem::Problem;

/// A JSON body (`Content-Type: application/json`).
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(Problem))]
pub struct Body<T>(pub T);

/// Query parameters.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Problem))]
pub struct Query<T>(pub T);

/// Path parameters.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Problem))]
pub struct Path<T>(pub T);

impl From<JsonRejection> for Problem {
    fn from(e: JsonRejection) -> Problem {
        // Keep axum's status: 413 for a body over `max_body_mib`, 415 without a JSON
        // content type, 422 for valid JSON of the wrong shape, 400 for broken JSON.
        let status = e.status();
        let kind = if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE { "too-large" } else { "bad-request" };
        Problem::new(status, kind, format!("the request body is not what this endpoint takes: {}", e.body_text()))
    }
}

impl From<QueryRejection> for Problem {
    fn from(e: QueryRejection) -> Problem {
        Problem::bad_request(format!("bad query parameters: {}", e.body_text()))
    }
}

impl From<PathRejection> for Problem {
    fn from(e: PathRejection) -> Problem {
        Problem::bad_request(format!("bad path: {}", e.body_text()))
    }
}
