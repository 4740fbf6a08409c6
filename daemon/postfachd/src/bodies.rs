//! Bodies on demand: an account with `[sync] bodies = "on-demand"` stores new mail
//! header-only; the first time the CLI or the API asks for such a message's content, its
//! body is fetched here over a short connection of its own (EXAMINE, so nothing changes
//! on the server) and stored. From then on it is read from the store like any other.

use std::sync::Arc;

use postfach_imap as imap;
use tracing::info;

use crate::config::Account;
use crate::model::MessageId;
use crate::pass::PassError;
use crate::plugins::PluginHost;
use crate::store::{BodyError, Store, StoreError};

/// Why a message's body could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Connecting, logging in or the FETCH failed, in the server's words.
    #[error("the body of message {id} is not stored yet and could not be fetched from the server: {source}")]
    Server {
        /// The message.
        id: i64,
        /// What went wrong.
        source: PassError,
    },
    /// The server no longer has the message where the store last saw it.
    #[error(
        "the body of message {id} is not stored yet and the server no longer has the message \
         (last seen in {folder}); only its header is kept"
    )]
    Gone {
        /// The message.
        id: i64,
        /// The folder it was last seen in, or `no folder`.
        folder: String,
    },
    /// The server's message at that UID is not the stored one.
    #[error("message {id}: {source}")]
    Mismatch {
        /// The message.
        id: i64,
        /// The check that failed.
        source: BodyError,
    },
}

/// Makes sure the body of message `id` (of `account`) is stored, fetching it from the
/// server if it was stored header-only. Returns true when it was fetched now.
pub async fn ensure(
    store: &Store,
    account: &Account,
    plugins: Option<&Arc<PluginHost>>,
    id: MessageId,
) -> Result<bool, FetchError> {
    if !store.body_missing(id).await? {
        return Ok(false);
    }
    let Some(source) = store.body_source(id).await? else {
        return Err(FetchError::Gone { id: id.0, folder: "no folder".into() });
    };
    let server = |e: PassError| FetchError::Server { id: id.0, source: e };
    let crate::pass::Connected { mut session, .. } =
        crate::pass::connect(account, plugins, store).await.map_err(server)?;
    let max = account.file.sync.max_message_mib << 20;
    let fetched = imap::fetch_body(&mut session, &source.folder_raw, source.uidvalidity, source.uid, max).await;
    session.logout().await;
    let Some(raw) = fetched.map_err(|e| server(e.into()))? else {
        return Err(FetchError::Gone { id: id.0, folder: source.folder });
    };
    let message_id = imap::parse_headers(&raw).message_id;
    let bytes = raw.len();
    let stored = store.complete_body(id, raw, message_id).await.map_err(|e| match e {
        BodyError::Store(e) => FetchError::Store(e),
        mismatch => FetchError::Mismatch { id: id.0, source: mismatch },
    })?;
    if stored {
        info!(account = %account.id, message = id.0, folder = %source.folder, uid = source.uid, bytes,
            "body fetched on demand");
    }
    Ok(stored)
}
