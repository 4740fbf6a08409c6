//! One sync pass over an account: open a session (through the provider adapter's
//! defaults), refresh the folder list (roles from the adapter), sync every folder in the
//! sync set, apply retention, record removals. The daemon's account task and `sync
//! --once` both run it; the IMAP crate does the protocol, this module brings the
//! provider adapter and the store to it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use postfach_imap::{self as imap, FolderReport, ImapError, MailStore, RoleHints, Session, StoreFailure, SyncOptions};
use postfach_model::{
    BatchStats, Checkpoint, FetchedMessage, FolderId, Link, ListedFolder, MessageId, PassOutcome, StoredIdentity,
};
use tracing::{debug, info, warn};

use crate::config::Account;
use crate::plugins::PluginHost;
use crate::provider::{self, AdapterRef, Chosen};
use crate::store::{ApplyStats, FolderRow, Store, StoreError};

/// Why an account pass failed: the server (or the connection), or the store.
#[derive(Debug, thiserror::Error)]
pub enum PassError {
    /// IMAP: connection, login, a command, the server's data.
    #[error(transparent)]
    Imap(#[from] ImapError),
    /// The store could not record what the pass found.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No OAuth2 access token (not authorized, refused, provider down).
    #[error(transparent)]
    OAuth(#[from] crate::oauth::TokenError),
    /// A blocking task (resolving a secret, a plugin call) failed: a bug.
    #[error("internal error: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl PassError {
    /// A short name of the kind of failure, for the `postfach_imap_errors_total` metric.
    pub fn kind(&self) -> &'static str {
        match self {
            PassError::Imap(e) => e.kind(),
            PassError::Store(_) => "store",
            PassError::OAuth(e) if e.is_auth() => "auth",
            PassError::OAuth(_) => "oauth",
            PassError::Task(_) => "internal",
        }
    }

    /// The delay the server asked for (Exchange Online's throttling), if any.
    pub fn suggested_backoff(&self) -> Option<std::time::Duration> {
        match self {
            PassError::Imap(e) => e.suggested_backoff(),
            _ => None,
        }
    }

    /// Whether the server refused the credentials (the account shows `auth-failed`).
    pub fn is_auth(&self) -> bool {
        match self {
            PassError::Imap(e) => e.is_auth(),
            PassError::OAuth(e) => e.is_auth(),
            _ => false,
        }
    }
}

/// The daemon's store, as the IMAP crate's folder pass sees it; with a feed, the ids of
/// every committed batch also go to the pass's [`crate::routing::BatchRouter`].
#[derive(Clone)]
pub struct SyncStore {
    store: Store,
    feed: Option<tokio::sync::mpsc::UnboundedSender<Vec<MessageId>>>,
}

impl SyncStore {
    /// The store, without routing during the pass.
    pub fn new(store: Store) -> SyncStore {
        SyncStore { store, feed: None }
    }

    /// Counts a committed batch of `bytes` downloaded and hands its messages to the router.
    fn committed(&self, bytes: usize, stats: BatchStats) -> BatchStats {
        metrics::counter!("postfach_bytes_fetched_total").increment(bytes as u64);
        metrics::counter!("postfach_messages_stored_total").increment(stats.new_messages);
        if let Some(feed) = &self.feed
            && !stats.touched.is_empty()
        {
            // A router that is gone has failed; the pass routes everything it touched.
            let _ = feed.send(stats.touched.clone());
        }
        stats
    }
}

fn failure(e: StoreError) -> StoreFailure {
    Box::new(e)
}

impl MailStore for SyncStore {
    async fn known_uids(&self, folder: FolderId, uidvalidity: u32) -> Result<HashSet<u32>, StoreFailure> {
        self.store.known_uids(folder, uidvalidity).await.map_err(failure)
    }

    async fn stale_locations(&self, folder: FolderId, uidvalidity: u32) -> Result<u64, StoreFailure> {
        self.store.stale_locations(folder, uidvalidity).await.map_err(failure)
    }

    async fn account_has_messages(&self, account: &str) -> Result<bool, StoreFailure> {
        self.store.account_has_messages(account).await.map_err(failure)
    }

    async fn lookup(
        &self,
        account: &str,
        identities: Vec<String>,
    ) -> Result<HashMap<String, StoredIdentity>, StoreFailure> {
        self.store.lookup(account, identities).await.map_err(failure)
    }

    async fn commit_batch(
        &self,
        account: &str,
        folder: FolderId,
        uidvalidity: u32,
        fetched: Vec<FetchedMessage>,
        links: Vec<Link>,
    ) -> Result<BatchStats, StoreFailure> {
        let bytes: usize = fetched.iter().map(|m| m.raw.len()).sum();
        let stats = self.store.commit_batch(account, folder, uidvalidity, fetched, links).await.map_err(failure)?;
        Ok(self.committed(bytes, stats))
    }

    async fn commit_batch_after(
        &self,
        account: &str,
        folder: FolderId,
        uidvalidity: u32,
        fetched: Vec<FetchedMessage>,
        turn: impl Future<Output = ()> + Send + 'static,
    ) -> Result<BatchStats, StoreFailure> {
        let bytes: usize = fetched.iter().map(|m| m.raw.len()).sum();
        let stats = self
            .store
            .commit_batch_after(account, folder, uidvalidity, fetched, Vec::new(), turn)
            .await
            .map_err(failure)?;
        Ok(self.committed(bytes, stats))
    }

    async fn update_flags(
        &self,
        folder: FolderId,
        uidvalidity: u32,
        changes: Vec<(u32, Vec<String>, Option<u64>)>,
    ) -> Result<Vec<MessageId>, StoreFailure> {
        self.store.update_flags(folder, uidvalidity, changes).await.map_err(failure)
    }

    async fn on_server_uids(&self, folder: FolderId, uidvalidity: u32) -> Result<Vec<u32>, StoreFailure> {
        self.store.on_server_uids(folder, uidvalidity).await.map_err(failure)
    }

    async fn mark_removed(
        &self,
        folder: FolderId,
        uidvalidity: u32,
        uids: Vec<u32>,
    ) -> Result<PassOutcome, StoreFailure> {
        self.store.mark_removed(folder, uidvalidity, uids).await.map_err(failure)
    }

    async fn finish_pass(&self, folder: FolderId, uidvalidity: u32) -> Result<PassOutcome, StoreFailure> {
        self.store.finish_pass(folder, uidvalidity).await.map_err(failure)
    }

    async fn set_checkpoint(&self, folder: FolderId, at: Checkpoint) -> Result<(), StoreFailure> {
        self.store.set_checkpoint(folder, at).await.map_err(failure)
    }
}

/// What [`sync_with_session`] did across the account's folders.
#[derive(Debug, Clone, Default)]
pub struct AccountReport {
    /// One report per folder synced, INBOX first; folders the server refused are in `folder_errors`.
    pub folders: Vec<FolderReport>,
    /// Folders the server refused (e.g. deleted between LIST and SELECT), with its words.
    pub folder_errors: Vec<(String, String)>,
    /// The provider adapter's failure, when roles fell back to attributes.
    pub adapter_error: Option<String>,
    /// What retention did on the server: `(folder, what)`.
    pub retention: Vec<(String, String)>,
    /// Messages that lost a location through retention.
    pub retention_touched: Vec<MessageId>,
}

impl AccountReport {
    /// New messages stored in this pass.
    pub fn new_messages(&self) -> u64 {
        self.folders.iter().map(|f| f.stats.new_messages).sum()
    }

    /// Messages whose locations changed in this pass (to be routed).
    pub fn touched(&self) -> Vec<MessageId> {
        self.folders
            .iter()
            .flat_map(|f| f.stats.touched.iter().copied())
            .chain(self.retention_touched.iter().copied())
            .collect()
    }
}

/// An open session and the provider adapter serving the account.
pub struct Connected {
    /// The logged-in IMAP session (CONDSTORE/QRESYNC enabled where offered); the caller logs it out.
    pub session: Session,
    /// The provider adapter to ask for roles; `None` without a plugin host or when no adapter matched.
    pub adapter: Option<AdapterRef>,
    /// Which adapter serves the account and how (`configured`, `detected (score N)`); `None` when none does.
    pub chosen: Option<Chosen>,
    /// `host:port` as connected to.
    pub address: String,
    /// The login name sent: `imap.username`, else the address (or its local part, if the adapter says so).
    pub user: String,
}

/// Resolves the endpoint (password, adapter defaults) off the async runtime, connects,
/// logs in and, with `provider = "auto"`, asks the server's `ID` to confirm the adapter.
/// With `auth = "oauth2"` the password is a valid access token from [`crate::oauth`].
pub async fn connect(
    account: &Account,
    plugins: Option<&Arc<PluginHost>>,
    store: &Store,
) -> Result<Connected, PassError> {
    let (acct, host) = (account.clone(), plugins.cloned());
    let (mut ep, mut chosen) =
        tokio::task::spawn_blocking(move || provider::imap_endpoint(host.as_deref(), &acct)).await??;
    if ep.auth == crate::config::AuthMechanism::Oauth2 {
        ep.password = Some(crate::oauth::access_token(store, account, plugins).await?);
    }
    crate::logins::wait(&format!("{}:{}", ep.host, ep.port)).await;
    let mut session = match imap::open(&ep).await {
        Ok(s) => s,
        Err(e) if e.is_auth() && ep.auth == crate::config::AuthMechanism::Oauth2 => {
            // A token refused before its time (revoked at the provider): the next attempt
            // gets a new one instead of presenting this one until it expires.
            if let Err(forget) = store.forget_oauth_access(&account.id).await {
                warn!(error = %forget, "cannot forget the refused access token");
            }
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };
    // ID goes out wherever the server offers it: some servers (163.com: "NO SELECT Unsafe
    // Login") refuse everything else to a client that has not said who it is. A refused ID
    // (Exchange, GMX reject some forms) changes nothing.
    let server_id = if session.has("ID") { session.server_id().await } else { None };
    if let Some(host) = plugins
        && account.file.provider == "auto"
        && let Some(server_id) = server_id
    {
        let (host, acct) = (Arc::clone(host), account.clone());
        if let Ok(Ok(Some(better))) =
            tokio::task::spawn_blocking(move || provider::choose(&host, &acct, &server_id)).await
        {
            chosen = Some(better);
        }
    }
    let adapter = match (plugins, &chosen) {
        (Some(host), Some(c)) => Some(AdapterRef { host: Arc::clone(host), id: c.id.clone() }),
        _ => None,
    };
    let address = format!("{}:{}", ep.host, ep.port);
    Ok(Connected { session, adapter, chosen, address, user: ep.username.clone() })
}

/// LISTs the folders, decides roles (adapter, else attributes; `[folders]` wins), and
/// records them in the store. Returns the rows and the adapter's failure, if any.
pub async fn refresh_folders(
    session: &mut Session,
    store: &Store,
    account: &Account,
    adapter: Option<&AdapterRef>,
) -> Result<(Vec<FolderRow>, Option<String>), PassError> {
    let entries = imap::list_folders(session).await?;
    let separator = account.file.imap.hierarchy_separator.as_ref().and_then(|s| s.chars().next());
    let mut listing = imap::decode_listing(&entries, separator);
    let (hints, adapter_error) = match adapter {
        Some(a) => {
            let (host, id, snapshot) = (Arc::clone(&a.host), a.id.clone(), listing.clone());
            match tokio::task::spawn_blocking(move || provider::roles(&host, &id, &snapshot)).await {
                Ok(answer) => answer,
                Err(e) => {
                    warn!(error = %e, "provider adapter task failed");
                    (RoleHints::default(), None)
                }
            }
        }
        None => (RoleHints::default(), None),
    };
    let adapter_error = adapter_error.map(|e| format!("{e}; folder roles from SPECIAL-USE attributes instead"));
    if let Some(e) = &adapter_error {
        warn!(error = %e, "provider adapter failed");
    }
    imap::assign_roles(&mut listing, &hints, &account.file.folders);
    warn_unknown_overrides(account, &listing);
    let rows = store.replace_listing(&account.id, listing).await?;
    Ok((rows, adapter_error))
}

fn warn_unknown_overrides(account: &Account, listing: &[ListedFolder]) {
    for (role, name) in account.file.folders.overrides() {
        if let Some(name) = name
            && !listing.iter().any(|l| imap::same_folder_name(name, l))
        {
            warn!(folder = %name, "folders.{role} names a folder the server does not list");
        }
    }
}

/// What a full pass did: the sync, and the routing of what it touched.
#[derive(Debug, Default)]
pub struct PassSummary {
    /// The sync itself: per-folder reports, refused folders, the adapter's failure and retention.
    pub report: AccountReport,
    /// What routing changed (none without plugins).
    pub routed: ApplyStats,
    /// Why routing failed, if it did (the sync itself is recorded regardless).
    pub routing_error: Option<String>,
}

impl PassSummary {
    /// Notes for the account's status: the adapter's failure, routing, refused folders.
    pub fn notes(&self) -> Vec<String> {
        self.report
            .adapter_error
            .iter()
            .cloned()
            .chain(self.routing_error.iter().map(|e| format!("routing: {e}")))
            .chain(self.report.folder_errors.iter().map(|(f, e)| format!("{f}: {e}")))
            .chain(self.report.folders.iter().filter_map(skipped_note))
            .collect()
    }
}

/// One note per folder with messages left on the server in this pass: how many, and the
/// first few with their reason.
fn skipped_note(r: &FolderReport) -> Option<String> {
    const SHOWN: usize = 3;
    let first = r.skipped.first()?;
    let list: Vec<String> = r.skipped.iter().take(SHOWN).map(|s| format!("UID {}: {}", s.uid, s.why)).collect();
    let more = r.skipped.len().saturating_sub(SHOWN);
    let again = if first.again { "; tried again at the next pass" } else { "" };
    Some(match (r.skipped.len(), more) {
        (1, _) => format!("{}: 1 message not fetched ({}){again}", r.folder, list.join("")),
        (n, 0) => format!("{}: {n} messages not fetched ({}){again}", r.folder, list.join("; ")),
        (n, more) => format!("{}: {n} messages not fetched ({}; and {more} more){again}", r.folder, list.join("; ")),
    })
}

/// The account pass, on an open session: the folder list and roles, every folder of the
/// sync set, retention, removals, routing of what changed, and the time of the pass.
/// The daemon's account task and `sync --once` both run exactly this; the caller owns
/// the session, the schedule and the account's state.
#[allow(clippy::too_many_arguments)]
pub async fn full_pass(
    session: &mut Session,
    account: &Account,
    store: &Store,
    plugins: Option<&Arc<PluginHost>>,
    adapter: Option<&AdapterRef>,
    projects: Option<Arc<HashSet<String>>>,
    opts: &SyncOptions,
) -> Result<PassSummary, PassError> {
    let started = std::time::Instant::now();
    // New mail is routed batch by batch while the download goes on.
    let router = plugins.map(|host| crate::routing::BatchRouter::start(store, host, account, projects.clone()));
    let mut sync_store = SyncStore::new(store.clone());
    sync_store.feed = router.as_ref().map(crate::routing::BatchRouter::feed);
    let synced = sync_with_session(session, account, &sync_store, adapter, opts).await;
    drop(sync_store);
    let early = match router {
        Some(r) => Some(r.finish().await),
        None => None,
    };
    let report = synced?;
    metrics::histogram!("postfach_pass_duration_seconds").record(started.elapsed().as_secs_f64());
    let mut summary = PassSummary { report, ..PassSummary::default() };
    if let Some(host) = plugins {
        // Then what the batches did not settle: replies no router decided on (a parent
        // stored later in the pass may decide them now), removals, retention, and
        // everything not yet routed by this chain. If batch routing failed, all of it.
        let mut touched = summary.report.touched();
        if let Some(early) = &early
            && early.error.is_none()
        {
            let later: HashSet<MessageId> = summary
                .report
                .folders
                .iter()
                .flat_map(|f| f.gone.iter().copied())
                .chain(summary.report.retention_touched.iter().copied())
                .collect();
            touched.retain(|id| !early.settled.contains(id) || later.contains(id));
        }
        match crate::routing::route_account(store, host, account, projects, touched).await {
            Ok(stats) => summary.routed = stats,
            Err(e) => summary.routing_error = Some(e.to_string()),
        }
        if let Some(early) = early {
            summary.routed += early.stats;
            if let Some(e) = early.error {
                warn!(error = %e, "routing during the pass failed; routed after it instead");
            }
        }
    }
    store.record_sync(&account.id, postfach_model::Timestamp::now()).await?;
    Ok(summary)
}

/// Connects, applies pending local changes, runs the [`full_pass`], logs out (for `sync
/// --once`, which has no session of its own).
pub async fn pass_once(
    account: &Account,
    store: &Store,
    plugins: Option<&Arc<PluginHost>>,
    projects: Option<Arc<HashSet<String>>>,
    opts: &SyncOptions,
) -> Result<(PassSummary, Option<Chosen>), PassError> {
    let Connected { mut session, adapter, chosen, .. } = connect(account, plugins, store).await?;
    store.set_adapter(&account.id, chosen.as_ref().map(|c| c.id.as_str())).await?;
    // Local changes first, so the server's state read next already includes them.
    if let Err(e) = crate::changes::apply_pending(&mut session, store, &account.id).await {
        session.logout().await;
        return Err(e);
    }
    let result = full_pass(&mut session, account, store, plugins, adapter.as_ref(), projects, opts).await;
    session.logout().await;
    result.map(|r| (r, chosen))
}

/// The sync part of [`full_pass`]: folder list and roles, every folder of the sync set, retention when
/// `opts.housekeeping`, and removals emitted; no routing.
pub async fn sync_with_session(
    session: &mut Session,
    account: &Account,
    sync_store: &SyncStore,
    adapter: Option<&AdapterRef>,
    opts: &SyncOptions,
) -> Result<AccountReport, PassError> {
    let store = &sync_store.store;
    let (rows, adapter_error) = refresh_folders(session, store, account, adapter).await?;
    let listing: Vec<ListedFolder> = rows.iter().filter(|r| r.present).map(|r| r.folder.clone()).collect();
    let wanted = imap::sync_set(&listing, account.file.folders.sync.as_deref());
    let mut report = AccountReport { adapter_error, ..AccountReport::default() };
    let mut synced: Vec<&FolderRow> = Vec::new();
    for folder in wanted {
        let Some(row) = rows.iter().find(|r| r.folder.raw == folder.raw) else { continue };
        match imap::sync_folder(session, sync_store, &account.id, row, opts).await {
            Ok(r) => {
                if !r.unchanged {
                    debug!(folder = %r.folder, new = r.stats.new_messages, linked = r.stats.linked,
                        relinked = r.stats.relinked, removed = r.removed, bytes = r.bytes, "folder synced");
                }
                for s in &r.skipped {
                    warn!(folder = %r.folder, uid = s.uid, reason = %s.why, "message not fetched");
                }
                if r.uidvalidity_changed {
                    info!(folder = %r.folder, relinked = r.stats.relinked, removed = r.removed,
                        "UIDVALIDITY changed; stored messages re-linked");
                }
                report.folders.push(r);
                synced.push(row);
            }
            Err(e) if e.is_no() => {
                warn!(folder = %row.folder.name, error = %e, "folder skipped");
                report.folder_errors.push((row.folder.name.clone(), e.to_string()));
            }
            Err(e) => return Err(e.into()),
        }
    }
    if opts.housekeeping {
        let done = imap::apply_retention(session, sync_store, account, &synced, &rows).await?;
        report.retention = done.actions;
        report.retention_touched = done.touched;
    }
    let mut touched = report.touched();
    touched.sort_unstable();
    touched.dedup();
    store.emit_removed(&account.id, touched).await?;
    Ok(report)
}
/// [`imap::create_missing`] with the names the account's provider adapter gives (or the
/// host's German defaults when it gives none).
pub async fn create_missing_for(
    session: &mut imap::Session,
    host: &std::sync::Arc<postfach_plugins::PluginHost>,
    adapter: Option<&crate::provider::AdapterRef>,
    rows: &[FolderRow],
) -> Result<imap::Created, PassError> {
    let (host, id) = (std::sync::Arc::clone(host), adapter.map(|a| a.id.clone()));
    let names = tokio::task::spawn_blocking(move || crate::provider::folder_names(&host, id.as_deref())).await?;
    Ok(imap::create_missing(session, rows, &|role| names.get(&role).cloned()).await?)
}
