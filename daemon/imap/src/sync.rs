//! Syncing one folder from the server into the store.
//!
//! 1. SELECT; compare UIDVALIDITY and UIDNEXT with the stored checkpoint. Unchanged
//!    UIDNEXT under the same UIDVALIDITY means nothing new: done.
//! 2. UID SEARCH (SINCE the window start, if any) and subtract the UIDs already stored:
//!    what remains is new. This is correct after a crash, a widened window or a
//!    half-finished pass, because the store itself is the checkpoint.
//! 3. Pre-pass (only when the account already has mail, or after a UIDVALIDITY change):
//!    fetch just Message-ID and size of the new UIDs; those that are already stored
//!    (moved or copied mail, a renumbered folder) are linked without downloading them.
//! 4. Fetch the rest with `BODY.PEEK[]` in chunks, commit in batches (one transaction
//!    each) while the next batch is already streaming in.
//! 5. Flags of stored messages: with CONDSTORE only those changed since the last pass
//!    (`CHANGEDSINCE`), otherwise all of them, compared with the store.
//! 6. Removals: after a UIDVALIDITY change, locations not found again are gone; with
//!    QRESYNC the server names expunged UIDs (`VANISHED`); otherwise the stored UIDs
//!    missing from the search are. Then the checkpoint is saved.
//!
//! With QRESYNC and an unchanged UIDVALIDITY, step 2 searches only `UID <uidnext>:*`, so
//! a pass over a large, quiet folder costs a few short commands.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use async_imap::imap_proto::{MailboxDatum, Response};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::answer::Fetched;
use super::error::ImapError;
use super::headers;
use super::session::{ChangeTracking, Session};
use crate::store::{MailStore, StoreFailure};
use postfach_model::{
    BatchStats, Checkpoint, FetchedMessage, FolderId, FolderRow, Link, MessageId, PassOutcome, identity_of,
};

/// UIDs per `UID FETCH` of full bodies; the Message-ID pre-pass and the removal check use four times as many.
const FETCH_CHUNK: usize = 1000;
/// Messages per store transaction; a batch commits at this count or at [`BATCH_BYTES`], whichever comes first.
const BATCH_MESSAGES: usize = 250;
/// Bytes per store transaction (large attachments commit sooner).
const BATCH_BYTES: usize = 16 << 20;

/// Options for one [`sync_folder`] call; the daemon sets them differently for full and quick passes.
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    /// Only mail whose INTERNALDATE is within this many days.
    pub window_days: Option<u32>,
    /// Search even when UIDNEXT is unchanged (first pass after start, config change).
    pub full_check: bool,
    /// After the pass, apply `after_window` and `server_retention_days` on the server.
    pub housekeeping: bool,
    /// On a server without CONDSTORE, read every flag even when UIDNEXT and EXISTS are
    /// unchanged: nothing else tells whether another client changed a flag. Off only
    /// for a pass right after one that just did so.
    pub flag_scan: bool,
    /// Messages larger than this are left on the server (`[sync] max_message_mib`); 0
    /// means [`MAX_MESSAGE_BYTES`], which is also the most this can be.
    pub max_message_bytes: u64,
    /// Store new messages' header sections only (`[sync] bodies = "on-demand"`); their
    /// bodies are fetched with [`fetch_body`] when first asked for.
    pub headers_only: bool,
}

/// What one [`sync_folder`] call did, for the daemon's logs, routing and the account's report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FolderReport {
    /// The folder's decoded full name (`INBOX.Entwürfe`, not the wire form); the daemon matches rows by it.
    pub folder: String,
    /// Nothing could have changed (UIDNEXT unchanged); the folder was not searched.
    pub unchanged: bool,
    /// Store counters summed over all batches: new, linked and re-linked messages, and every local id touched.
    pub stats: BatchStats,
    /// Locations marked gone from the server: expunged, moved away, or not found again after a UIDVALIDITY change.
    pub removed: u64,
    /// Bytes of message content downloaded.
    pub bytes: u64,
    /// The UIDVALIDITY changed since the last pass.
    pub uidvalidity_changed: bool,
    /// Stored messages whose flags changed on the server.
    pub flags_changed: u64,
    /// Messages that lost their location here (expunged, or moved to another folder).
    pub gone: Vec<MessageId>,
    /// New messages left on the server in this pass, with the reason.
    pub skipped: Vec<Skipped>,
}

/// A new message that was not fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Its UID in the folder.
    pub uid: u32,
    /// Why, in words for the account's status: the server's refusal, or its size.
    pub why: String,
    /// Tried again at the next pass (the server refused it); false for a message over
    /// the size limit, which stays on the server.
    pub again: bool,
}

/// Syncs one folder. The session is left with the folder selected.
pub async fn sync_folder<S: MailStore>(
    session: &mut Session,
    store: &S,
    account: &str,
    folder: &FolderRow,
    opts: &SyncOptions,
) -> Result<FolderReport, ImapError> {
    let raw = folder.folder.raw.clone();
    let t = session.timeout;
    let mut report = FolderReport { folder: folder.folder.name.clone(), ..Default::default() };

    let mailbox = timed(t, format!("SELECT {raw}"), session.inner.select(&raw))
        .await?
        .map_err(|e| ImapError::command(format!("SELECT \"{raw}\""), e))?;
    let uidvalidity = mailbox.uid_validity.ok_or_else(|| {
        ImapError::Server(format!("the server reports no UIDVALIDITY for \"{}\"; cannot sync it", folder.folder.name))
    })?;
    report.uidvalidity_changed = folder.uidvalidity.is_some_and(|v| v != uidvalidity);
    // Unchanged UIDNEXT means nothing arrived; unchanged EXISTS, that nothing left; an
    // unchanged HIGHESTMODSEQ, that no flag changed. Without CONDSTORE only reading the
    // flags tells the last.
    let flags_unchanged = match (folder.highestmodseq, mailbox.highest_modseq) {
        (Some(ours), Some(theirs)) => ours == theirs,
        _ => !opts.flag_scan,
    };
    if !opts.full_check
        && folder.uidvalidity == Some(uidvalidity)
        && mailbox.uid_next.is_some()
        && folder.uidnext == mailbox.uid_next
        && folder.exists == Some(mailbox.exists)
        && flags_unchanged
    {
        report.unchanged = true;
        return Ok(report);
    }

    let since = opts.window_days.map(since_date);
    // QRESYNC reports expunged UIDs itself, so only UIDs above the checkpoint need a search.
    let incremental = match (session.changes, folder.uidnext, folder.highestmodseq, mailbox.highest_modseq) {
        (ChangeTracking::Qresync, Some(uidnext), Some(_), Some(_)) => {
            (!opts.full_check && since.is_none() && folder.uidvalidity == Some(uidvalidity)).then_some(uidnext)
        }
        _ => None,
    };
    let window_uids: HashSet<u32> = if mailbox.exists == 0 {
        HashSet::new()
    } else if let Some(uidnext) = incremental {
        // `n:*` always includes the highest UID, even below n.
        search(session, &format!("UID {uidnext}:*")).await?.into_iter().filter(|u| *u >= uidnext).collect()
    } else {
        let query = since.as_ref().map_or_else(|| "ALL".to_owned(), |d| format!("SINCE {d}"));
        search(session, &query).await?
    };

    let folder_id = folder.id;
    let known = store.known_uids(folder_id, uidvalidity).await?;
    let stale = store.stale_locations(folder_id, uidvalidity).await? > 0;
    let has_mail = store.account_has_messages(account).await?;

    let mut todo: Vec<u32> = window_uids.iter().copied().filter(|u| !known.contains(u)).collect();
    todo.sort_unstable();

    // Pre-pass: link mail the store already has instead of downloading it again. After a
    // UIDVALIDITY change this covers the whole folder, not only the window, so mail older
    // than the window is re-linked rather than reported gone.
    if stale || has_mail {
        let mut candidates: Vec<u32> = if stale && since.is_some() && mailbox.exists > 0 {
            search(session, "ALL").await?.into_iter().filter(|u| !known.contains(u)).collect()
        } else {
            todo.clone()
        };
        candidates.sort_unstable();
        if !candidates.is_empty() {
            let links = find_stored(session, store, account, &candidates).await?;
            let linked: HashSet<u32> = links.iter().map(|l| l.uid).collect();
            todo.retain(|u| !linked.contains(u));
            for chunk in links.chunks(BATCH_MESSAGES * 4) {
                report.stats += store.commit_batch(account, folder_id, uidvalidity, Vec::new(), chunk.to_vec()).await?;
            }
        }
    }

    fetch_and_store(session, store, account, folder_id, uidvalidity, &todo, opts, &mut report).await?;

    let since_modseq = folder.highestmodseq.filter(|_| folder.uidvalidity == Some(uidvalidity));
    let expunged = if known.is_empty() {
        Vec::new()
    } else {
        sync_flags(session, store, folder_id, uidvalidity, since_modseq, mailbox.highest_modseq, &known, &mut report)
            .await?
    };

    let gone = if stale {
        store.finish_pass(folder_id, uidvalidity).await?
    } else if incremental.is_some() {
        if expunged.is_empty() {
            PassOutcome::default()
        } else {
            store.mark_removed(folder_id, uidvalidity, expunged).await?
        }
    } else {
        let missing = vanished(session, store, folder_id, uidvalidity, &window_uids, since.is_some()).await?;
        if missing.is_empty() {
            PassOutcome::default()
        } else {
            store.mark_removed(folder_id, uidvalidity, missing).await?
        }
    };
    report.removed = gone.removed;
    report.gone = gone.touched.clone();
    report.stats.touched.extend(gone.touched);
    let (mut uidnext, modseq, exists) = (mailbox.uid_next, mailbox.highest_modseq, mailbox.exists);
    // A message skipped for now keeps the checkpoint below it: the next pass finds the
    // folder changed and the message still new, and tries it again.
    if let Some(first) = report.skipped.iter().filter(|s| s.again).map(|s| s.uid).min() {
        uidnext = Some(uidnext.map_or(first, |n| n.min(first)));
    }
    store.set_checkpoint(folder_id, Checkpoint { uidvalidity, uidnext, highestmodseq: modseq, exists }).await?;
    Ok(report)
}

/// Brings the stored flags of a folder's known UIDs in line with the server's; returns
/// the UIDs the server reported expunged (QRESYNC `VANISHED (EARLIER)`).
#[allow(clippy::too_many_arguments)]
async fn sync_flags<S: MailStore>(
    session: &mut Session,
    store: &S,
    folder_id: FolderId,
    uidvalidity: u32,
    since_modseq: Option<u64>,
    server_modseq: Option<u64>,
    known: &HashSet<u32>,
    report: &mut FolderReport,
) -> Result<Vec<u32>, ImapError> {
    let items = match (session.changes, since_modseq, server_modseq) {
        (ChangeTracking::None, _, _) | (_, None, _) | (_, _, None) => "(UID FLAGS)".to_owned(),
        (_, Some(ours), Some(theirs)) if ours == theirs => return Ok(Vec::new()),
        (ChangeTracking::Qresync, Some(ours), _) => format!("(UID FLAGS) (CHANGEDSINCE {ours} VANISHED)"),
        (ChangeTracking::Condstore, Some(ours), _) => format!("(UID FLAGS) (CHANGEDSINCE {ours})"),
    };
    let mut changes: Vec<(u32, Vec<String>, Option<u64>)> = Vec::new();
    let mut expunged = Vec::new();
    let mut answer = session.send(&format!("UID FETCH 1:* {items}")).await?;
    let mut read = |r: &Response<'_>| {
        if let Response::Vanished { uids, .. } = r {
            for range in uids {
                expunged.extend(range.clone().filter(|u| known.contains(u)));
            }
        } else if let Some(fetch) = Fetched::of(r)
            && let Some(uid) = fetch.uid().filter(|u| known.contains(u))
        {
            changes.push((uid, fetch.flags(), fetch.modseq()));
        }
    };
    while answer.next(&mut read).await?.is_some() {}
    if !changes.is_empty() {
        let changed = store.update_flags(folder_id, uidvalidity, changes).await?;
        report.flags_changed += changed.len() as u64;
    }
    Ok(expunged)
}

/// Stored UIDs no longer on the server (moved away or expunged by another client).
/// Without a window `on_server` already is every UID; with one, UIDs outside it are
/// checked with a `UID SEARCH UID <set>` of just those.
async fn vanished<S: MailStore>(
    session: &mut Session,
    store: &S,
    folder_id: FolderId,
    uidvalidity: u32,
    on_server: &HashSet<u32>,
    windowed: bool,
) -> Result<Vec<u32>, ImapError> {
    let stored = store.on_server_uids(folder_id, uidvalidity).await?;
    let mut candidates: Vec<u32> = stored.into_iter().filter(|u| !on_server.contains(u)).collect();
    candidates.sort_unstable();
    if candidates.is_empty() || !windowed {
        return Ok(candidates);
    }
    let mut still_there = HashSet::new();
    for chunk in candidates.chunks(FETCH_CHUNK * 4) {
        still_there.extend(search(session, &format!("UID {}", sequence_set(chunk))).await?);
    }
    Ok(candidates.into_iter().filter(|u| !still_there.contains(u)).collect())
}

/// Downloads `uids` in chunks and commits them in batches, overlapping the store write of
/// one batch with the download of the next. Messages over the size limit are left on the
/// server; a message the server refuses to hand out is skipped (and tried again at the
/// next pass) so that it does not hold up the rest of the folder. No message is asked for
/// twice in a session.
#[allow(clippy::too_many_arguments)]
async fn fetch_and_store<S: MailStore>(
    session: &mut Session,
    store: &S,
    account: &str,
    folder_id: FolderId,
    uidvalidity: u32,
    uids: &[u32],
    opts: &SyncOptions,
    report: &mut FolderReport,
) -> Result<(), ImapError> {
    let limit = match opts.max_message_bytes {
        0 => MAX_MESSAGE_BYTES,
        n => n.min(MAX_MESSAGE_BYTES),
    };
    let mut download = Download {
        store,
        account,
        folder_id,
        uidvalidity,
        batch: Vec::new(),
        batch_bytes: 0,
        pending: VecDeque::new(),
        last_written: None,
        headers_only: opts.headers_only,
    };
    for chunk in uids.chunks(FETCH_CHUNK) {
        // A header section is small whatever the message's size: the limit applies when
        // the body is asked for.
        let mut wanted =
            if opts.headers_only { chunk.to_vec() } else { within_limit(session, chunk, limit, report).await? };
        // FETCHes in a row that ended in NO and brought nothing.
        let mut fruitless = 0;
        while !wanted.is_empty() {
            let mut got = HashSet::new();
            let refused = match download.bodies(session, &wanted, &mut got, report).await {
                Ok(()) => {
                    // An OK without some of the messages (Exchange 2010 does this for
                    // messages it cannot read; another client may have expunged one).
                    report.skipped.extend(wanted.iter().filter(|u| !got.contains(u)).map(|&uid| Skipped {
                        uid,
                        why: "the server answered the FETCH without the message".into(),
                        again: true,
                    }));
                    break;
                }
                Err(e) if e.is_no() => e,
                Err(e) => return Err(e),
            };
            let missing: Vec<u32> = wanted.iter().copied().filter(|u| !got.contains(u)).collect();
            let Some(&first) = missing.first() else { break };
            fruitless = if got.is_empty() { fruitless + 1 } else { 0 };
            if fruitless >= FRUITLESS_REFUSALS {
                // Not one message: the server refuses the folder for now.
                return Err(refused);
            }
            let why = refused.to_string();
            if got.iter().any(|u| *u > first) {
                // The server went on past what it could not read (Dovecot's
                // `imap_fetch_failure = no-after`): every missing one is such a message.
                // Asking again in this session would make Dovecot disconnect.
                report.skipped.extend(missing.iter().map(|&uid| Skipped { uid, why: why.clone(), again: true }));
                break;
            }
            // The server stopped at `first`: leave that one, ask again for the rest.
            report.skipped.push(Skipped { uid: first, why, again: true });
            wanted = missing[1..].to_vec();
        }
    }
    download.finish(report).await
}

/// FETCHes in a row refused without bringing a single message, after which the folder
/// is taken as refused for now (skipped with the server's words, tried at the next pass)
/// rather than asked message by message.
const FRUITLESS_REFUSALS: usize = 10;

/// The largest message Postfach fetches: async-imap holds one response in a buffer of at
/// most 512 MiB, and the store keeps a message as one value.
pub const MAX_MESSAGE_BYTES: u64 = 500 << 20;

/// `UID FETCH <chunk> (UID RFC822.SIZE)`: the UIDs of `chunk` within `limit` bytes; the
/// others are reported skipped.
async fn within_limit(
    session: &mut Session,
    chunk: &[u32],
    limit: u64,
    report: &mut FolderReport,
) -> Result<Vec<u32>, ImapError> {
    let answer = session.send(&format!("UID FETCH {} (UID RFC822.SIZE)", sequence_set(chunk))).await?;
    let sizes = answer.fetches(|f| Some((f.uid()?, f.size()?))).await?;
    let mut large = HashSet::new();
    for (uid, size) in sizes {
        if u64::from(size) > limit && chunk.binary_search(&uid).is_ok() {
            large.insert(uid);
            report.skipped.push(Skipped {
                uid,
                why: format!(
                    "{} MiB, over the limit of {} MiB ([sync] max_message_mib); left on the server",
                    u64::from(size).div_ceil(1 << 20),
                    limit >> 20
                ),
                again: false,
            });
        }
    }
    Ok(chunk.iter().copied().filter(|u| !large.contains(u)).collect())
}

/// Commits in flight while the next batch downloads: one being prepared (parsed and
/// indexed) while the one before it is written. More would only hold more memory: the
/// writes are serial.
const COMMITS_IN_FLIGHT: usize = 2;

/// Downloading one folder's new messages: the batch being filled and the commits of the
/// previous ones, still running.
struct Download<'a, S: MailStore> {
    store: &'a S,
    account: &'a str,
    folder_id: FolderId,
    uidvalidity: u32,
    batch: Vec<FetchedMessage>,
    batch_bytes: usize,
    /// Commits started, oldest first.
    pending: VecDeque<JoinHandle<Result<BatchStats, StoreFailure>>>,
    /// Completes when the newest commit started has finished (or failed, or was dropped):
    /// the next commit's write waits for it, so batches are written in order.
    last_written: Option<oneshot::Receiver<()>>,
    /// Fetch header sections instead of whole messages.
    headers_only: bool,
}

impl<S: MailStore> Download<'_, S> {
    /// Fetches the bodies of `uids`, adding each UID received to `got`; commits full batches.
    async fn bodies(
        &mut self,
        session: &mut Session,
        uids: &[u32],
        got: &mut HashSet<u32>,
        report: &mut FolderReport,
    ) -> Result<(), ImapError> {
        let set = sequence_set(uids);
        // Gmail says which conversation each message belongs to; that wins over References.
        let threads = if session.has(crate::gmail::CAPABILITY) {
            crate::gmail::thread_ids(session, &set).await?
        } else {
            HashMap::new()
        };
        let (section, build): (&str, fn(Fetched<'_>) -> Option<FetchedMessage>) =
            if self.headers_only { ("BODY.PEEK[HEADER]", header_message) } else { ("BODY.PEEK[]", fetched_message) };
        let mut answer =
            session.send(&format!("UID FETCH {set} (UID FLAGS INTERNALDATE RFC822.SIZE {section})")).await?;
        let read = |r: &Response<'_>| Fetched::of(r).filter(|f| !placeholder(*f)).and_then(build);
        while let Some(item) = answer.next(read).await? {
            // Unsolicited flag updates arrive as FETCH responses without a body.
            let Some(mut message) = item else { continue };
            if uids.binary_search(&message.uid).is_err() {
                continue;
            }
            got.insert(message.uid);
            message.gmail_thread = threads.get(&message.uid).copied();
            report.bytes += message.raw.len() as u64;
            self.batch_bytes += message.raw.len();
            self.batch.push(message);
            if self.batch.len() >= BATCH_MESSAGES || self.batch_bytes >= BATCH_BYTES {
                report.stats += self.commit().await?;
            }
        }
        Ok(())
    }

    /// Starts committing the batch in the background, written after the commits before
    /// it; with [`COMMITS_IN_FLIGHT`] already running, first waits for the oldest and
    /// returns its counters.
    async fn commit(&mut self) -> Result<BatchStats, ImapError> {
        let mut finished = BatchStats::default();
        self.batch_bytes = 0;
        if self.batch.is_empty() {
            return Ok(finished);
        }
        while self.pending.len() >= COMMITS_IN_FLIGHT {
            if let Some(oldest) = self.pending.pop_front() {
                finished += join(oldest).await?;
            }
        }
        let messages = std::mem::take(&mut self.batch);
        let (store, account, folder_id, uidvalidity) =
            (self.store.clone(), self.account.to_owned(), self.folder_id, self.uidvalidity);
        let (written, next_turn) = oneshot::channel::<()>();
        let previous = self.last_written.replace(next_turn);
        // A previous commit that failed or was dropped also ends the wait (its sender is
        // gone); its error reaches the pass through its own handle.
        let turn = async move {
            if let Some(previous) = previous {
                let _ = previous.await;
            }
        };
        self.pending.push_back(tokio::spawn(async move {
            let result = store.commit_batch_after(&account, folder_id, uidvalidity, messages, turn).await;
            drop(written);
            result
        }));
        Ok(finished)
    }

    /// Commits what is left and waits for every commit.
    async fn finish(mut self, report: &mut FolderReport) -> Result<(), ImapError> {
        report.stats += self.commit().await?;
        while let Some(next) = self.pending.pop_front() {
            report.stats += join(next).await?;
        }
        Ok(())
    }
}

async fn join(handle: JoinHandle<Result<BatchStats, StoreFailure>>) -> Result<BatchStats, ImapError> {
    handle.await.map_err(|e| ImapError::Store(e.to_string().into()))?.map_err(ImapError::Store)
}

/// Fetches Message-ID and size of `uids` and returns links for those already stored
/// with the same size.
async fn find_stored<S: MailStore>(
    session: &mut Session,
    store: &S,
    account: &str,
    uids: &[u32],
) -> Result<Vec<Link>, ImapError> {
    struct Seen {
        uid: u32,
        identity: String,
        size: u64,
        flags: Vec<String>,
        modseq: Option<u64>,
    }
    let mut seen: Vec<Seen> = Vec::new();
    for chunk in uids.chunks(FETCH_CHUNK * 4) {
        let set = sequence_set(chunk);
        let items = "(UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])";
        let answer = session.send(&format!("UID FETCH {set} {items}")).await?;
        seen.extend(
            answer
                .fetches(|f| {
                    let id = headers::message_id(f.header()?)?;
                    Some(Seen {
                        uid: f.uid()?,
                        identity: identity_of(Some(&id), ""),
                        size: u64::from(f.size()?),
                        flags: f.flags(),
                        modseq: f.modseq(),
                    })
                })
                .await?,
        );
    }
    if seen.is_empty() {
        return Ok(Vec::new());
    }
    let identities: Vec<String> = seen.iter().map(|s| s.identity.clone()).collect();
    let stored = store.lookup(account, identities).await?;
    Ok(seen
        .into_iter()
        .filter_map(|s| {
            let hit = stored.get(&s.identity)?;
            // Same Message-ID but different size: a different message that reuses the id.
            // Download it so its bytes are kept.
            (hit.size == s.size).then_some(Link { uid: s.uid, message: hit.id, flags: s.flags, modseq: s.modseq })
        })
        .collect())
}

/// Exchange 2010 answers a body FETCH it cannot serve with a made-up message ("Retrieval
/// using the IMAP4 protocol failed for the following message") whose size is not the
/// size it reports for the message: never content to keep.
fn placeholder(fetch: Fetched<'_>) -> bool {
    const WORDS: &[u8] = b"Retrieval using the IMAP4 protocol failed";
    match (fetch.body(), fetch.size()) {
        (Some(body), Some(size)) => {
            body.len() as u64 != u64::from(size) && body.windows(WORDS.len()).take(16 << 10).any(|w| w == WORDS)
        }
        _ => false,
    }
}

fn fetched_message(fetch: Fetched<'_>) -> Option<FetchedMessage> {
    new_message(fetch, fetch.body()?, None)
}

/// A new message of which only the header section was fetched.
fn header_message(fetch: Fetched<'_>) -> Option<FetchedMessage> {
    new_message(fetch, fetch.header()?, Some(u64::from(fetch.size()?)))
}

fn new_message(fetch: Fetched<'_>, raw: &[u8], header_only: Option<u64>) -> Option<FetchedMessage> {
    Some(FetchedMessage {
        uid: fetch.uid()?,
        flags: fetch.flags(),
        modseq: fetch.modseq(),
        internal_date: fetch.internal_date(),
        headers: headers::parse(raw),
        gmail_thread: None,
        header_only,
        hash: blake3::hash(raw).to_hex().to_string(),
        raw: raw.to_vec(),
    })
}

/// Fetches the whole message at `uid` of `folder` (by its wire name), for a message
/// stored header-only: EXAMINE (nothing changes on the server, `\Seen` included), check
/// that the folder's UIDVALIDITY is still `uidvalidity`, `UID FETCH uid BODY.PEEK[]`.
/// `None` when the server no longer has the message there.
pub async fn fetch_body(
    session: &mut Session,
    folder: &str,
    uidvalidity: u32,
    uid: u32,
    max_bytes: u64,
) -> Result<Option<Vec<u8>>, ImapError> {
    let t = session.timeout;
    let mailbox = timed(t, format!("EXAMINE {folder}"), session.inner.examine(folder))
        .await?
        .map_err(|e| ImapError::command(format!("EXAMINE \"{folder}\""), e))?;
    if mailbox.uid_validity != Some(uidvalidity) {
        return Ok(None);
    }
    let limit = if max_bytes == 0 { MAX_MESSAGE_BYTES } else { max_bytes.min(MAX_MESSAGE_BYTES) };
    let answer = session.send(&format!("UID FETCH {uid} (UID RFC822.SIZE)")).await?;
    let sizes = answer.fetches(|f| Some((f.uid()?, f.size()?))).await?;
    match sizes.iter().find(|(u, _)| *u == uid) {
        None => return Ok(None),
        Some((_, size)) if u64::from(*size) > limit => {
            return Err(ImapError::Server(format!(
                "the message is {} MiB, over the limit of {} MiB ([sync] max_message_mib)",
                u64::from(*size).div_ceil(1 << 20),
                limit >> 20
            )));
        }
        Some(_) => {}
    }
    let answer = session.send(&format!("UID FETCH {uid} (UID BODY.PEEK[])")).await?;
    let bodies = answer.fetches(|f| if f.uid()? == uid { f.body().map(<[u8]>::to_vec) } else { None }).await?;
    Ok(bodies.into_iter().next())
}

/// `UID SEARCH <query>` on the selected folder. A refused search is an error, never an
/// empty result: that would make every stored message look expunged.
pub(crate) async fn search(session: &mut Session, query: &str) -> Result<HashSet<u32>, ImapError> {
    let mut answer = session.send(&format!("UID SEARCH {query}")).await?;
    let mut uids = HashSet::new();
    while let Some(found) = answer
        .next(|r| match r {
            Response::MailboxData(MailboxDatum::Search(found)) => found.clone(),
            _ => Vec::new(),
        })
        .await?
    {
        uids.extend(found);
    }
    Ok(uids)
}

/// Runs `fut` within `limit`.
pub(crate) async fn timed<T>(limit: Duration, what: String, fut: impl Future<Output = T>) -> Result<T, ImapError> {
    tokio::time::timeout(limit, fut).await.map_err(|_| ImapError::Timeout { what, secs: limit.as_secs() })
}

/// The IMAP date `window_days` ago (`23-Oct-2026`), for SEARCH SINCE. A window reaching
/// past 1970 (no mail is that old) is cut there instead of overflowing.
pub fn since_date(window_days: u32) -> String {
    let today = chrono::Utc::now().date_naive();
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or(chrono::NaiveDate::MIN);
    let day = today.checked_sub_days(chrono::Days::new(u64::from(window_days))).unwrap_or(epoch).max(epoch);
    day.format("%d-%b-%Y").to_string()
}

/// Compresses sorted UIDs into an IMAP sequence set: `1:3,7,9:12`.
pub fn sequence_set(sorted: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_sets() {
        assert_eq!(sequence_set(&[1, 2, 3, 7, 9, 10, 11, 12]), "1:3,7,9:12");
        assert_eq!(sequence_set(&[5]), "5");
        assert_eq!(sequence_set(&[]), "");
    }

    #[test]
    fn a_window_past_1970_stops_there() {
        assert_eq!(since_date(u32::MAX), "01-Jan-1970");
    }

    #[test]
    fn since_uses_imap_date_format() {
        let d = since_date(0);
        assert_eq!(d.len(), 11, "{d}");
        assert!(d.chars().nth(2) == Some('-') && d.chars().nth(6) == Some('-'), "{d}");
    }
}
