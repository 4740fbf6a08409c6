//! The daemon's side of the Integration API ([`postfach_api::Control`]): waking account
//! tasks and the outbox, the account test, and composing mail from a send request with
//! the running account's identity.

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::sync::Notify;

use postfach_api::{ComposeFailure, Control, SendRequest, TestStep};

use crate::drafts::{self, DraftError};
use crate::outbox::{self, SendError};
use crate::plugins::PluginHost;
use crate::store::{NewOutboxEntry, OutboxKind, Store};
use crate::supervisor::AccountHandles;

/// The running daemon, as the API sees it.
pub struct DaemonControl {
    /// The store.
    pub store: Store,
    /// The plugin host (provider adapters for the account test).
    pub plugins: Arc<PluginHost>,
    /// The running accounts.
    pub handles: AccountHandles,
    /// Wakes the outbox loop.
    pub outbox: Arc<Notify>,
}

impl Control for DaemonControl {
    fn sync_now(&self, account: &str) -> bool {
        self.handles.sync_now(account)
    }

    fn changes_pending(&self, account: &str) {
        self.handles.wake(account);
    }

    fn outbox_changed(&self) {
        self.outbox.notify_one();
    }

    fn test_account(&self, account: String) -> BoxFuture<'static, Result<Vec<TestStep>, String>> {
        let (store, plugins, found) = (self.store.clone(), Arc::clone(&self.plugins), self.handles.account(&account));
        async move {
            let account = found.ok_or_else(|| format!("account `{account}` is not running (see its state)"))?;
            let steps = crate::probe::run(&store, plugins, &account).await;
            Ok(steps.into_iter().map(|s| TestStep { step: s.step, ok: s.ok, detail: s.detail }).collect())
        }
        .boxed()
    }

    fn fetch_body(&self, account: String, message: i64) -> BoxFuture<'static, Result<(), String>> {
        let (store, plugins, found) = (self.store.clone(), Arc::clone(&self.plugins), self.handles.account(&account));
        async move {
            let account = found.ok_or_else(|| {
                format!("message {message} is stored header-only and its account `{account}` is not running")
            })?;
            crate::bodies::ensure(&store, &account, Some(&plugins), crate::model::MessageId(message))
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        .boxed()
    }

    fn compose(&self, request: SendRequest) -> BoxFuture<'static, Result<NewOutboxEntry, ComposeFailure>> {
        let (store, handles, plugins) = (self.store.clone(), self.handles.clone(), Arc::clone(&self.plugins));
        async move {
            // A reply quotes and a forward attaches the original: its body must be here.
            for original in [request.reply_to_local_id, request.forward_local_id].into_iter().flatten() {
                let id = crate::model::MessageId(original);
                let owner = store.account_of(id).await.map_err(|e| ComposeFailure::Unavailable(e.to_string()))?;
                if let Some(account) = owner.and_then(|a| handles.account(&a)) {
                    crate::bodies::ensure(&store, &account, Some(&plugins), id)
                        .await
                        .map_err(|e| ComposeFailure::Unavailable(e.to_string()))?;
                }
            }
            let named = request.account.clone();
            let kind = if request.draft { OutboxKind::Draft } else { OutboxKind::Send };
            let (draft, original) = drafts::build(&store, request).await.map_err(|e| match e {
                DraftError::UnknownMessage(_) => ComposeFailure::NotFound(e.to_string()),
                DraftError::Store(e) => ComposeFailure::Unavailable(e.to_string()),
                other => ComposeFailure::Invalid(other.to_string()),
            })?;
            let account = match named.or(original) {
                Some(id) => handles
                    .account(&id)
                    .ok_or_else(|| ComposeFailure::Refused(format!("account `{id}` is not running (see its state)")))?,
                None => {
                    let defaults: Vec<_> = handles.accounts().into_iter().filter(|a| a.file.default).collect();
                    match defaults.as_slice() {
                        [one] => one.clone(),
                        _ => {
                            return Err(ComposeFailure::Invalid(
                                "no account given and none has default = true; name one in `account`".into(),
                            ));
                        }
                    }
                }
            };
            outbox::prepare(&account, &draft, kind).map_err(|e| match e {
                SendError::Compose(c) => ComposeFailure::Invalid(c.to_string()),
                SendError::Store(s) => ComposeFailure::Unavailable(s.to_string()),
                other => ComposeFailure::Refused(other.to_string()),
            })
        }
        .boxed()
    }
}
