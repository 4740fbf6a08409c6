//! Bearer tokens: making them (`postfachd token create`), recognising them on a request,
//! and what the caller behind one may do.
//!
//! A token is `pf_` and 43 characters of random base64url; the store keeps only its
//! BLAKE3 hash, so a leaked database reveals no usable token. Comparing hashes rather
//! than tokens also makes the lookup independent of how much of a guess was right.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use postfach_store::{StoreError, Token};

use crate::problem::Problem;
use crate::state::AppState;

/// What a token may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Read accounts, folders, messages, events.
    Read,
    /// Change messages: flags, moves, deletion, projects.
    Write,
    /// Send mail and manage the outbox.
    Send,
    /// Read `/metrics`.
    Metrics,
}

impl Scope {
    /// Every scope, in the order `token list` shows them.
    pub const ALL: [Scope; 4] = [Scope::Read, Scope::Write, Scope::Send, Scope::Metrics];

    /// The scope's name on the command line and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Send => "send",
            Scope::Metrics => "metrics",
        }
    }

    /// The scope with this name.
    pub fn parse(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// A freshly made token: the secret to show once, and what to store.
#[derive(Debug)]
pub struct NewSecret {
    /// The public id, `tok_` and 12 hex digits.
    pub id: String,
    /// The bearer token, `pf_…`; shown once, never stored.
    pub token: String,
    /// Its hash, as stored.
    pub hash: String,
}

/// Why a token could not be made.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random source failed: {0}")]
pub struct RandomError(String);

/// Makes a new random token.
pub fn new_secret() -> Result<NewSecret, RandomError> {
    let mut secret = [0u8; 32];
    let mut id = [0u8; 6];
    getrandom::fill(&mut secret).map_err(|e| RandomError(e.to_string()))?;
    getrandom::fill(&mut id).map_err(|e| RandomError(e.to_string()))?;
    let token = format!("pf_{}", URL_SAFE_NO_PAD.encode(secret));
    let id = format!("tok_{}", id.iter().map(|b| format!("{b:02x}")).collect::<String>());
    Ok(NewSecret { id, hash: hash(&token), token })
}

/// The stored form of a token.
pub fn hash(token: &str) -> String {
    blake3::hash(token.as_bytes()).to_hex().to_string()
}

/// The caller of a request, from a valid token.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token as stored.
    pub token: Token,
}

impl Caller {
    /// The user the token acts as.
    pub fn user(&self) -> &str {
        &self.token.user
    }

    /// Whether the token is an admin's.
    pub fn admin(&self) -> bool {
        self.token.admin
    }

    /// Fails with 403 unless the token has the scope (admins have every scope).
    pub fn require(&self, scope: Scope) -> Result<(), Problem> {
        if self.token.admin || self.token.scopes.iter().any(|s| s == scope.as_str()) {
            Ok(())
        } else {
            Err(Problem::forbidden(format!(
                "this token lacks the `{}` scope; create one with `postfachd token create --scope {}`",
                scope.as_str(),
                scope.as_str()
            )))
        }
    }

    /// Fails with 403 unless the token is an admin's.
    pub fn require_admin(&self) -> Result<(), Problem> {
        if self.token.admin {
            Ok(())
        } else {
            Err(Problem::forbidden("only admin tokens may do this (`postfachd token create --admin`)"))
        }
    }

    /// Whether the token is bound to accounts and this is not one of them.
    fn bound_elsewhere(&self, account: &str) -> bool {
        !self.token.accounts.is_empty() && !self.token.accounts.iter().any(|a| a == account)
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match authenticate(parts, state).await {
            Ok(caller) => Ok(caller),
            Err(Refusal::Problem(p)) => Err(p.into_response()),
            Err(Refusal::Token(p)) => {
                let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
                let limited = peer.and_then(|ip| state.failures.fail(ip, postfach_model::now_unix()));
                match limited {
                    None => Err(p.into_response()),
                    Some(retry_after) => {
                        let mut response = Problem::new(
                            StatusCode::TOO_MANY_REQUESTS,
                            "too-many-requests",
                            format!(
                                "too many rejected tokens from this address (more than {} in {} s); \
                                 try again in {retry_after} s",
                                crate::limit::MAX_FAILURES,
                                crate::limit::WINDOW_SECS
                            ),
                        )
                        .into_response();
                        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
                        Err(response)
                    }
                }
            }
        }
    }
}

/// Why a request has no caller: no usable Authorization header, or a token that was
/// presented and rejected (what the rate limit counts).
enum Refusal {
    Problem(Problem),
    Token(Problem),
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Refusal {
        Refusal::Problem(e.into())
    }
}

/// The caller behind the request's bearer token.
async fn authenticate(parts: &Parts, state: &AppState) -> Result<Caller, Refusal> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| Refusal::Problem(Problem::unauthorized("send `Authorization: Bearer <token>`")))?;
    let text =
        value.to_str().map_err(|_| Refusal::Token(Problem::unauthorized("the Authorization header is not text")))?;
    let token =
        text.strip_prefix("Bearer ").or_else(|| text.strip_prefix("bearer ")).map(str::trim).ok_or_else(|| {
            Refusal::Token(Problem::unauthorized("the Authorization header must be `Bearer <token>`"))
        })?;
    let stored = state
        .store
        .token_by_hash(&hash(token))
        .await?
        .ok_or_else(|| Refusal::Token(Problem::unauthorized("unknown token")))?;
    if stored.revoked_at.is_some() {
        return Err(Refusal::Token(Problem::unauthorized(format!("token {} was revoked", stored.id))));
    }
    if stored.expires_at.is_some_and(|t| t.0 <= postfach_model::now_unix()) {
        return Err(Refusal::Token(Problem::unauthorized(format!("token {} has expired", stored.id))));
    }
    state.touch(&stored.id);
    Ok(Caller { token: stored })
}

/// Which accounts a caller may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visible {
    /// Every account (an admin token not bound to accounts).
    All,
    /// Only these.
    Only(Vec<String>),
}

impl Visible {
    /// As a store filter: `None` for every account.
    pub fn filter(&self) -> Option<Vec<String>> {
        match self {
            Visible::All => None,
            Visible::Only(list) => Some(list.clone()),
        }
    }

    /// Whether the account is among them.
    pub fn contains(&self, account: &str) -> bool {
        match self {
            Visible::All => true,
            Visible::Only(list) => list.iter().any(|a| a == account),
        }
    }
}

/// How often a token's `last_used_at` is written (it is a hint, not an audit).
const TOUCH_EVERY_SECS: i64 = 60;

impl AppState {
    /// Records a token's use, at most once a minute and off the request's path: a busy
    /// client must not turn every read into a write waiting behind a sync batch.
    fn touch(&self, id: &str) {
        let now = postfach_model::now_unix();
        {
            let mut touched = self.touched.lock().unwrap_or_else(|p| p.into_inner());
            if touched.get(id).is_some_and(|at| now - at < TOUCH_EVERY_SECS) {
                return;
            }
            touched.insert(id.to_owned(), now);
        }
        let (store, id) = (self.store.clone(), id.to_owned());
        tokio::spawn(async move {
            if let Err(e) = store.touch_token(&id).await {
                tracing::warn!(error = %e, "cannot record a token's last use");
            }
        });
    }

    /// The accounts the caller may see.
    pub fn visible(&self, caller: &Caller) -> Visible {
        let directory = self.directory();
        if caller.admin() {
            return match caller.token.accounts.is_empty() {
                true => Visible::All,
                false => Visible::Only(caller.token.accounts.clone()),
            };
        }
        Visible::Only(directory.visible_to(caller.user()).into_iter().filter(|a| !caller.bound_elsewhere(a)).collect())
    }

    /// Fails with 404 unless the caller may see the account.
    pub fn check_visible(&self, caller: &Caller, account: &str) -> Result<(), Problem> {
        if self.visible(caller).contains(account) {
            Ok(())
        } else {
            Err(Problem::not_found(format!("no account `{account}`")))
        }
    }

    /// Fails with 404 unless the account exists (configured, or known to the store) and
    /// the caller may see it.
    pub async fn check_account(&self, caller: &Caller, account: &str) -> Result<(), Problem> {
        self.check_visible(caller, account)?;
        if self.directory().accounts.contains_key(account) || self.store.account(account).await?.is_some() {
            Ok(())
        } else {
            Err(Problem::not_found(format!("no account `{account}`")))
        }
    }

    /// Fails with 403 unless the caller may send as the account (it must see it first:
    /// an invisible account is 404).
    pub fn check_send_as(&self, caller: &Caller, account: &str) -> Result<(), Problem> {
        self.check_visible(caller, account)?;
        if caller.admin() || self.directory().can_send_as(account, caller.user()) {
            Ok(())
        } else {
            Err(Problem::forbidden(format!(
                "user `{}` may not send as `{account}` (its [access] send_as does not name the user or a group of theirs)",
                caller.user()
            )))
        }
    }
}
