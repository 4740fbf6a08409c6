//! Recording every write made through the API: who (user and token), what (the route),
//! on which account and object, and how it ended (the HTTP status), whether it worked or
//! not. A failure to record is logged, never turned into a failed request.

use std::future::Future;

use axum::http::StatusCode;

use postfach_store::NewAuditEntry;

use crate::auth::Caller;
use crate::problem::Problem;
use crate::state::AppState;

/// One write being audited.
pub struct Audit {
    state: AppState,
    entry: NewAuditEntry,
}

impl Audit {
    /// Starts the record of a write by `caller` to `action` (the route, e.g.
    /// `PATCH /v1/messages/{local_id}`).
    pub fn new(state: &AppState, caller: &Caller, action: &str) -> Audit {
        Audit {
            state: state.clone(),
            entry: NewAuditEntry {
                user: caller.user().to_owned(),
                token: Some(caller.token.id.clone()),
                action: action.to_owned(),
                account: None,
                target: None,
                status: 0,
                detail: None,
            },
        }
    }

    /// The account concerned.
    pub fn account(mut self, account: &str) -> Audit {
        self.entry.account = Some(account.to_owned());
        self
    }

    /// The object concerned.
    pub fn target(mut self, target: impl ToString) -> Audit {
        self.entry.target = Some(target.to_string());
        self
    }

    /// A summary of the request (no message content, no secrets).
    pub fn detail(mut self, detail: serde_json::Value) -> Audit {
        self.entry.detail = Some(detail.to_string());
        self
    }

    /// Runs the write and records how it ended: `ok` (the status the route answers a
    /// success with) or the problem's status.
    pub async fn finish<T>(
        mut self,
        ok: StatusCode,
        work: impl Future<Output = Result<T, Problem>>,
    ) -> Result<T, Problem> {
        let result = work.await;
        self.entry.status = match &result {
            Ok(_) => ok.as_u16(),
            Err(problem) => problem.status,
        };
        if let Err(e) = self.state.store.record_audit(self.entry).await {
            tracing::warn!(error = %e, "cannot record an API write in the audit table");
        }
        result
    }

    /// Like [`Audit::finish`] for routes whose success status varies (200 done, 202 pending).
    pub async fn finish_with<T>(
        mut self,
        work: impl Future<Output = Result<(StatusCode, T), Problem>>,
    ) -> Result<(StatusCode, T), Problem> {
        let result = work.await;
        self.entry.status = match &result {
            Ok((status, _)) => status.as_u16(),
            Err(problem) => problem.status,
        };
        if let Err(e) = self.state.store.record_audit(self.entry).await {
            tracing::warn!(error = %e, "cannot record an API write in the audit table");
        }
        result
    }
}
