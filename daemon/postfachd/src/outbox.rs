//! The outbox: enqueueing, delivering what is due, retrying temporary failures with
//! backoff, and keeping the Sent copy.
//!
//! Guarantee: a message is stored (with its final bytes and Message-ID) before
//! `postfachd send` returns, and it leaves the outbox only as `sent`, `saved` or `failed`.
//! A crash before delivery starts delays it; it is sent exactly once after the restart.
//! A crash in the instant between the server accepting it and the store recording that
//! cannot be told apart from a crash before the server accepted it: the message is sent
//! again after the restart (at least once, never zero times), with the same Message-ID so
//! mail clients show it once.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, warn};

use crate::config::{Account, Config};
use crate::imap::{self, Placed};
use crate::model::{Role, Timestamp};
use crate::pass::PassError;
use crate::plugins::PluginHost;
use crate::provider;
use crate::smtp::submit;
use crate::smtp::{ComposeError, Draft, compose};
use crate::store::{NewOutboxEntry, OutboxEntry as Entry, OutboxKind as Kind, OutboxState, Store, StoreError};

/// Why a message cannot be enqueued.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// `enabled = false`.
    #[error("account `{0}` is disabled (enabled = false in its file)")]
    AccountDisabled(String),
    /// `send = false`.
    #[error("account `{0}` does not send mail (send = false in its file)")]
    SendDisabled(String),
    /// No account named and no default.
    #[error("no account given and none has default = true; name one: postfachd send ACCOUNT …")]
    NoDefault,
    /// The message could not be built.
    #[error(transparent)]
    Compose(#[from] ComposeError),
    /// The store could not record the new outbox entry.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Builds the message for the outbox (nothing is stored yet).
pub fn prepare(account: &Account, draft: &Draft, kind: Kind) -> Result<NewOutboxEntry, SendError> {
    if !account.file.enabled {
        return Err(SendError::AccountDisabled(account.id.clone()));
    }
    if !account.file.send && kind == Kind::Send {
        return Err(SendError::SendDisabled(account.id.clone()));
    }
    let composed = compose(&account.file.identity, draft)?;
    if kind == Kind::Send && composed.recipients.is_empty() {
        return Err(ComposeError::NoRecipient.into());
    }
    Ok(NewOutboxEntry {
        account: account.id.clone(),
        kind,
        message_id: composed.message_id,
        subject: Some(draft.subject.clone()),
        envelope_from: composed.envelope_from,
        recipients: composed.recipients,
        raw: composed.raw,
    })
}

/// Builds the message and enqueues it; returns the outbox id and the Message-ID.
pub async fn enqueue(store: &Store, account: &Account, draft: &Draft, kind: Kind) -> Result<(i64, String), SendError> {
    let entry = prepare(account, draft, kind)?;
    let message_id = entry.message_id.clone();
    let id = store.enqueue_outbox(entry).await?;
    Ok((id, message_id))
}

/// What one [`attempt`] did; the store has recorded the entry's new state unless `Busy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted (or saved as a draft); the server's words, and what happened to the copy.
    Sent {
        /// The SMTP server's acceptance (`250 2.0.0 Ok: queued as …`), or `saved as a draft`.
        reply: String,
        /// The Sent copy: `appended to …`, `already in …`, `skipped: …` or `error: …`; `saved` for drafts.
        copy: String,
    },
    /// A temporary failure; retried later.
    Deferred(String),
    /// The error of a permanent failure (e.g. SMTP 5xx, a disabled account, `give_up_after_hours` passed); not retried.
    Failed(String),
    /// Another process is delivering it.
    Busy,
}

/// Everything an attempt needs.
#[derive(Clone)]
pub struct Context {
    /// The config (account files are read per attempt, so edits apply).
    pub config: Config,
    /// The daemon's store: outbox entries, their raw bytes and delivery states.
    pub store: Store,
    /// The plugin host for provider defaults and quirks; `None` uses the account files alone.
    pub plugins: Option<Arc<PluginHost>>,
}

fn backoff(account: &Account, attempts: u32) -> i64 {
    let s = &account.file.smtp;
    let base = s.retry_initial_secs.max(1) as f64 * 2f64.powi(attempts.saturating_sub(1).min(20) as i32);
    let capped = base.min(s.retry_max_secs.max(1) as f64);
    (capped * (0.8 + fastrand::f64() * 0.4)).round() as i64
}

/// Claims an entry and tries it once: SMTP submission (or APPEND to Drafts), then records the outcome.
pub async fn attempt(ctx: &Context, entry: &Entry) -> Result<Outcome, StoreError> {
    let id = entry.id;
    if !ctx.store.claim_outbox(id).await? {
        return Ok(Outcome::Busy);
    }
    let account = match ctx.config.load_accounts().accounts.remove(&entry.account) {
        Some(a) if a.file.enabled => a,
        Some(_) => return fail(ctx, entry, format!("account `{}` is disabled", entry.account)).await,
        None => return fail(ctx, entry, format!("account `{}` has no valid file any more", entry.account)).await,
    };
    let raw = ctx.store.outbox_raw(id).await?.unwrap_or_default();
    if entry.kind == Kind::Draft {
        return match place(ctx, &account, entry, &raw, Role::Drafts, "(\\Draft \\Seen)").await {
            Ok(copy) => {
                ctx.store.mark_sent(id, &entry.account, OutboxState::Saved, &copy).await?;
                ctx.store.set_copy(id, &copy).await?;
                Ok(Outcome::Sent { reply: "saved as a draft".into(), copy: "saved".into() })
            }
            Err(e) => defer(ctx, &account, entry, e.to_string()).await,
        };
    }
    let (host, acct) = (ctx.plugins.clone(), account.clone());
    let endpoint = tokio::task::spawn_blocking(move || provider::smtp_endpoint(host.as_deref(), &acct)).await;
    let mut endpoint = match endpoint {
        Ok(Ok(ep)) => ep,
        Ok(Err(e)) => return defer(ctx, &account, entry, format!("smtp: {e}")).await,
        Err(e) => return defer(ctx, &account, entry, format!("internal: {e}")).await,
    };
    // OAuth2 not authorized or refused: the admin fixes that with `oauth authorize`, so
    // the message waits instead of failing.
    if let Err(e) = crate::oauth::fill_smtp(&ctx.store, &account, ctx.plugins.as_ref(), &mut endpoint).await {
        return defer(ctx, &account, entry, format!("smtp: {e}")).await;
    }
    match submit(&endpoint, &entry.envelope_from, &entry.recipients, &raw).await {
        Ok(reply) => {
            ctx.store.mark_sent(id, &entry.account, OutboxState::Sent, &reply).await?;
            info!(account = %entry.account, outbox = id, %reply, "sent");
            let copy = sent_copy(ctx, &account, entry, &raw).await;
            ctx.store.set_copy(id, &copy).await?;
            Ok(Outcome::Sent { reply, copy })
        }
        Err(e) if e.stage == "AUTH" && endpoint.auth == Some(crate::config::AuthMechanism::Oauth2) => {
            // A refused OAuth2 token is no reason to give up on the message: drop the
            // token so the next attempt refreshes (or the account shows why it cannot).
            if let Err(forget) = ctx.store.forget_oauth_access(&account.id).await {
                warn!(error = %forget, "cannot forget the refused access token");
            }
            defer(ctx, &account, entry, e.to_string()).await
        }
        Err(e) if e.permanent => fail(ctx, entry, e.to_string()).await,
        Err(e) => defer(ctx, &account, entry, e.to_string()).await,
    }
}

async fn fail(ctx: &Context, entry: &Entry, error: String) -> Result<Outcome, StoreError> {
    ctx.store.mark_failed(entry.id, &entry.account, &error).await?;
    warn!(account = %entry.account, outbox = entry.id, %error, "not sent");
    Ok(Outcome::Failed(error))
}

async fn defer(ctx: &Context, account: &Account, entry: &Entry, error: String) -> Result<Outcome, StoreError> {
    let hours = i64::try_from(account.file.smtp.give_up_after_hours).unwrap_or(i64::MAX);
    let give_up = entry.created_at.plus_secs(hours.saturating_mul(3600));
    if Timestamp::now() >= give_up {
        return fail(ctx, entry, format!("gave up after {} attempts; the last: {error}", entry.attempts + 1)).await;
    }
    let at = Timestamp::now().plus_secs(backoff(account, entry.attempts + 1));
    ctx.store.mark_deferred(entry.id, &error, at).await?;
    warn!(account = %entry.account, outbox = entry.id, %error, retry_at = at.0, "not sent yet; will retry");
    Ok(Outcome::Deferred(error))
}

/// Keeps the copy in Sent, unless the provider does that itself.
async fn sent_copy(ctx: &Context, account: &Account, entry: &Entry, raw: &[u8]) -> String {
    let chosen = match &ctx.plugins {
        Some(host) => {
            let (h, a) = (Arc::clone(host), account.clone());
            tokio::task::spawn_blocking(move || {
                let c = provider::choose(&h, &a, &[]).ok().flatten()?;
                Some((c.id.clone(), provider::quirks(&h, Some(&c.id))))
            })
            .await
            .ok()
            .flatten()
        }
        None => None,
    };
    if let Some((adapter, quirks)) = &chosen
        && quirks.auto_saves_sent
    {
        return format!("skipped: the {adapter} server keeps its own copy of sent mail");
    }
    match place(ctx, account, entry, raw, Role::Sent, "(\\Seen)").await {
        Ok(copy) => copy,
        Err(e) => {
            warn!(account = %account.id, outbox = entry.id, error = %e, "no copy in Sent");
            format!("error: {e}")
        }
    }
}

/// APPENDs to the folder with `role`, unless the Message-ID is there already.
async fn place(
    ctx: &Context,
    account: &Account,
    entry: &Entry,
    raw: &[u8],
    role: Role,
    flags: &str,
) -> Result<String, PassError> {
    let crate::pass::Connected { mut session, adapter, .. } =
        crate::pass::connect(account, ctx.plugins.as_ref(), &ctx.store).await?;
    let result = async {
        let (rows, _) = crate::pass::refresh_folders(&mut session, &ctx.store, account, adapter.as_ref()).await?;
        let Some(folder) = rows.iter().find(|r| r.present && r.folder.role == Some(role)) else {
            return Ok(format!("skipped: the server has no {role} folder (set folders.{role})"));
        };
        let placed = imap::append_once(&mut session, &folder.folder.raw, &entry.message_id, flags, raw).await?;
        Ok(match placed {
            Placed::Appended => format!("appended to {}", folder.folder.name),
            Placed::AlreadyThere => format!("already in {}", folder.folder.name),
        })
    }
    .await;
    session.logout().await;
    result
}

/// Tries the Sent copies that failed (a connection cut during APPEND, a server that was
/// down) once more; `append_once` looks for the Message-ID first, so a copy that did
/// arrive is not appended twice.
async fn retry_copies(ctx: &Context, cancel: &CancellationToken) {
    let missing = match ctx.store.outbox_missing_copies(Timestamp::now()).await {
        Ok(m) => m,
        Err(e) => {
            warn!(error = %e, "cannot read the outbox's missing Sent copies");
            return;
        }
    };
    for entry in missing {
        if cancel.is_cancelled() {
            return;
        }
        let Some(account) = ctx.config.load_accounts().accounts.remove(&entry.account) else { continue };
        let raw = match ctx.store.outbox_raw(entry.id).await {
            Ok(Some(raw)) => raw,
            _ => continue,
        };
        let span = tracing::info_span!("outbox", account = %entry.account, id = entry.id);
        let copy = sent_copy(ctx, &account, &entry, &raw).instrument(span).await;
        info!(account = %entry.account, outbox = entry.id, %copy, "Sent copy tried again");
        if let Err(e) = ctx.store.set_copy(entry.id, &copy).await {
            warn!(error = %e, "cannot record the Sent copy");
        }
    }
}

/// The daemon's outbox loop: delivers what is due, sleeps until the next entry is due or a
/// `postfachd send` wakes it.
pub async fn run(ctx: Context, wake: Arc<Notify>, cancel: CancellationToken) {
    match ctx.store.recover_outbox().await {
        Ok(n) if n > 0 => {
            warn!(entries = n, "outbox entries were being sent when postfachd stopped; sending them again")
        }
        Ok(_) => {}
        Err(e) => warn!(error = %e, "cannot recover the outbox"),
    }
    loop {
        let due = match ctx.store.outbox_due(Timestamp::now()).await {
            Ok(due) => {
                tracing::debug!(due = due.len(), "outbox checked");
                due
            }
            Err(e) => {
                warn!(error = %e, "cannot read the outbox; trying again");
                Vec::new()
            }
        };
        for entry in due {
            let span = tracing::info_span!("outbox", account = %entry.account, id = entry.id);
            if let Err(e) = attempt(&ctx, &entry).instrument(span).await {
                warn!(error = %e, "outbox store error");
            }
            if cancel.is_cancelled() {
                return;
            }
        }
        retry_copies(&ctx, &cancel).await;
        let next = ctx.store.outbox_next_due().await.ok().flatten();
        let mut wait = next.map_or(Duration::from_secs(60), |at| {
            Duration::from_secs(Timestamp::now().secs_until(at).clamp(0, 60) as u64)
        });
        if ctx.store.outbox_copies_missing().await.unwrap_or(false) {
            wait = wait.min(Duration::from_secs(10));
        }
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(wait.max(Duration::from_millis(200))) => {}
            () = cancel.cancelled() => return,
        }
    }
}
