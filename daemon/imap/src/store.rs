//! What a folder pass needs from the store, as a trait. This crate knows no SQL and no
//! store crate: the daemon implements [`MailStore`] for its store and hands it in, the
//! way grep-searcher takes a `Sink`. Every method is one transaction on the other side.

use std::collections::{HashMap, HashSet};
use std::future::Future;

use postfach_model::{BatchStats, Checkpoint, FetchedMessage, FolderId, Link, MessageId, PassOutcome, StoredIdentity};

/// A store failure, as the store worded it.
pub type StoreFailure = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The store operations a folder pass and server housekeeping use.
pub trait MailStore: Clone + Send + Sync + 'static {
    /// UIDs already stored for a folder under this UIDVALIDITY.
    fn known_uids(
        &self,
        folder: FolderId,
        uidvalidity: u32,
    ) -> impl Future<Output = Result<HashSet<u32>, StoreFailure>> + Send;

    /// How many locations of the folder are still on the server under another UIDVALIDITY.
    fn stale_locations(
        &self,
        folder: FolderId,
        uidvalidity: u32,
    ) -> impl Future<Output = Result<u64, StoreFailure>> + Send;

    /// Whether the account has any stored message (then new UIDs may be known mail).
    fn account_has_messages(&self, account: &str) -> impl Future<Output = Result<bool, StoreFailure>> + Send;

    /// The stored messages among these identities.
    fn lookup(
        &self,
        account: &str,
        identities: Vec<String>,
    ) -> impl Future<Output = Result<HashMap<String, StoredIdentity>, StoreFailure>> + Send;

    /// Stores fetched messages and links known ones to their UIDs, in one transaction.
    fn commit_batch(
        &self,
        account: &str,
        folder: FolderId,
        uidvalidity: u32,
        fetched: Vec<FetchedMessage>,
        links: Vec<Link>,
    ) -> impl Future<Output = Result<BatchStats, StoreFailure>> + Send;

    /// [`MailStore::commit_batch`] of downloaded messages whose transaction must not
    /// begin before `turn` completes (the previous batch's commit), so that batches are
    /// written in the order they were fetched. A store that prepares messages before
    /// writing them (parsing, indexing) does that before waiting, so the preparation of
    /// one batch overlaps the write of the one before. The default waits, then commits.
    fn commit_batch_after(
        &self,
        account: &str,
        folder: FolderId,
        uidvalidity: u32,
        fetched: Vec<FetchedMessage>,
        turn: impl Future<Output = ()> + Send + 'static,
    ) -> impl Future<Output = Result<BatchStats, StoreFailure>> + Send {
        async move {
            turn.await;
            self.commit_batch(account, folder, uidvalidity, fetched, Vec::new()).await
        }
    }

    /// Records the server's flags `(uid, flags, modseq)`; returns the messages that changed.
    fn update_flags(
        &self,
        folder: FolderId,
        uidvalidity: u32,
        changes: Vec<(u32, Vec<String>, Option<u64>)>,
    ) -> impl Future<Output = Result<Vec<MessageId>, StoreFailure>> + Send;

    /// UIDs of the folder the store has on the server.
    fn on_server_uids(
        &self,
        folder: FolderId,
        uidvalidity: u32,
    ) -> impl Future<Output = Result<Vec<u32>, StoreFailure>> + Send;

    /// Marks UIDs gone from the server.
    fn mark_removed(
        &self,
        folder: FolderId,
        uidvalidity: u32,
        uids: Vec<u32>,
    ) -> impl Future<Output = Result<PassOutcome, StoreFailure>> + Send;

    /// Ends a pass after a UIDVALIDITY change: locations not found again are gone.
    fn finish_pass(
        &self,
        folder: FolderId,
        uidvalidity: u32,
    ) -> impl Future<Output = Result<PassOutcome, StoreFailure>> + Send;

    /// Saves where the folder pass left off.
    fn set_checkpoint(&self, folder: FolderId, at: Checkpoint)
    -> impl Future<Output = Result<(), StoreFailure>> + Send;
}
