//! Waiting for the server to report changes (IMAP IDLE, RFC 2177) on the selected folder.
//!
//! IDLE is ended after `limit` (the provider's `idle-refresh-secs`, or the next full pass),
//! or early when someone wakes the account (a local change to apply), and the session is
//! handed back for the next command.

use std::time::Duration;

use async_imap::extensions::idle::IdleResponse;
use async_imap::types::UnsolicitedResponse;
use tokio::sync::Notify;

use super::error::{ImapError, server_text};
use super::session::Session;

/// Why [`idle`] returned: news from the server, its time limit, or a wake from inside the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woken {
    /// The server reported a change (new mail, expunge, flags).
    Changed,
    /// `limit` passed without news.
    Timeout,
    /// The account was woken from inside the daemon.
    Interrupted,
}

/// IDLEs on the selected folder until the server reports a change, `limit` passes, or
/// `wake` is notified. The session is consumed and returned, since async-imap's IDLE
/// takes ownership of it; on error it is gone and the caller reconnects.
pub async fn idle(session: Session, limit: Duration, wake: &Notify) -> Result<(Session, Woken), ImapError> {
    let Session { inner, capabilities, timeout, changes, news } = session;
    let mut handle = inner.idle();
    tokio::time::timeout(timeout, handle.init())
        .await
        .map_err(|_| ImapError::Timeout { what: "IDLE".into(), secs: timeout.as_secs() })?
        .map_err(|e| ImapError::Command { command: "IDLE".into(), text: server_text(e) })?;
    let woken = {
        let (answer, _stop) = handle.wait_with_timeout(limit);
        tokio::select! {
            r = tokio::time::timeout(limit, answer) => match r {
                Err(_) | Ok(Ok(IdleResponse::Timeout)) => Woken::Timeout,
                Ok(Ok(IdleResponse::NewData(_))) => Woken::Changed,
                Ok(Ok(IdleResponse::ManualInterrupt)) => Woken::Interrupted,
                Ok(Err(e)) => return Err(ImapError::Command { command: "IDLE".into(), text: server_text(e) }),
            },
            () = wake.notified() => Woken::Interrupted,
        }
    };
    let inner = tokio::time::timeout(timeout, handle.done())
        .await
        .map_err(|_| ImapError::Timeout { what: "DONE (ending IDLE)".into(), secs: timeout.as_secs() })?
        .map_err(|e| ImapError::Command { command: "DONE".into(), text: server_text(e) })?;
    Ok((Session { inner, capabilities, timeout, changes, news }, woken))
}

/// Empties the queue of unsolicited responses; true if one of them reports a change to
/// the selected folder (new mail arrived while the last command ran, say), in which case
/// IDLE would wait for news that has already come.
pub fn drain_changes(session: &mut Session) -> bool {
    let mut changed = std::mem::take(&mut session.news);
    while let Ok(r) = session.inner.unsolicited_responses.try_recv() {
        changed |= match r {
            UnsolicitedResponse::Exists(_) | UnsolicitedResponse::Expunge(_) => true,
            UnsolicitedResponse::Other(data) => matches!(
                data.parsed(),
                async_imap::imap_proto::Response::Vanished { .. } | async_imap::imap_proto::Response::Fetch(..)
            ),
            _ => false,
        };
    }
    changed
}
