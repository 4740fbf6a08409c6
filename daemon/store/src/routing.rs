//! Routing data: which messages to route, their current assignments, and applying a
//! routing run (assignments, traces for `route explain`, and `routed` / `unrouted` /
//! `reassigned` events, each written only when something changed).

use std::collections::{HashMap, HashSet};

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::events::EventKind;
use super::messages::event;
use super::{StoreError, parse_list};
use postfach_model::MessageId;
use postfach_model::Timestamp;
use postfach_model::now_unix;

/// A message as the routing chain needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteInput {
    /// Local id of the message (`messages.id`).
    pub local_id: MessageId,
    /// Id of the account the message belongs to.
    pub account: String,
    /// The folder routers see: a folder of the account's own (not inbox, sent, …) if the
    /// message is in one, else the inbox, else any folder it is in.
    pub folder: String,
    /// That folder's path without the namespace prefix.
    pub folder_path: Vec<String>,
    /// IMAP flags of the message in `folder`.
    pub flags: Vec<String>,
    /// Message-ID without angle brackets; `None` when the message has none.
    pub message_id: Option<String>,
    /// Decoded Subject header.
    pub subject: Option<String>,
    /// From addresses (`Name <addr>` or `addr`).
    pub from: Vec<String>,
    /// To addresses, in the same form as `from`.
    pub to: Vec<String>,
    /// Cc addresses, in the same form as `from`.
    pub cc: Vec<String>,
    /// In-Reply-To without angle brackets: the parent's Message-ID.
    pub in_reply_to: Option<String>,
    /// References without angle brackets, oldest first.
    pub references: Vec<String>,
    /// The Date header as Unix time; `None` when missing or unreadable.
    pub date: Option<i64>,
    /// The raw message's size in bytes, as stored.
    pub size: u64,
}

/// What kind of answer a router gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Answer {
    /// It assigned a project.
    Project,
    /// It had no opinion.
    Skip,
    /// The call failed (or the project is not in the project list).
    Error,
}

impl Answer {
    /// The name in traces and `--json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Answer::Project => "project",
            Answer::Skip => "skip",
            Answer::Error => "error",
        }
    }
}

/// What one router answered for one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Id of the router plugin that answered.
    pub plugin: String,
    /// Whether it assigned a project, skipped, or failed.
    pub answer: Answer,
    /// The project it named: set for `project`, and for an `error` naming an unlisted project.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// The router's reason, or the error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The outcome of routing one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteResult {
    /// Local id of the routed message.
    pub local_id: MessageId,
    /// The folder the routers saw.
    pub folder: String,
    /// Every router's answer, in chain order (routers after the winner did not run).
    pub steps: Vec<Step>,
    /// The winning assignment: `(project, plugin, reason)`.
    pub winner: Option<(String, String, String)>,
}

/// What applying a run changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyStats {
    /// Messages that got a project where they had none (`routed` events).
    pub routed: u64,
    /// Messages that lost their project (`unrouted` events).
    pub unrouted: u64,
    /// Messages moved to another project (`reassigned` events).
    pub reassigned: u64,
}

impl std::ops::AddAssign for ApplyStats {
    fn add_assign(&mut self, other: ApplyStats) {
        self.routed += other.routed;
        self.unrouted += other.unrouted;
        self.reassigned += other.reassigned;
    }
}

/// Messages of an account to route, by id (ascending): those touched in the last pass,
/// plus every message not routed with this chain. The account remembers up to which id
/// every message was routed with which chain (`routed_upto`, `routed_chain`); with the
/// same chain only messages above that id are looked at, so a pass over a large account
/// does not read all of it. Also returns the highest id at this moment, for
/// [`mark_routed`] once they are routed.
pub(crate) fn candidates(
    conn: &Connection,
    account: &str,
    chain: &str,
    touched: &[i64],
) -> rusqlite::Result<(Vec<i64>, i64)> {
    let (routed_chain, routed_upto): (Option<String>, i64) = conn
        .prepare_cached("SELECT routed_chain, routed_upto FROM accounts WHERE id = ?1")?
        .query_row([account], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .unwrap_or((None, 0));
    let from = if routed_chain.as_deref() == Some(chain) { routed_upto } else { 0 };
    let upto: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(id), 0) FROM messages WHERE account = ?1")?
        .query_row([account], |r| r.get(0))?;
    // Above the mark, the ids' range is the narrow side (`+` keeps SQLite from choosing
    // the account's index instead); from the start, the account's index is.
    let sql = if from > 0 {
        "SELECT m.id FROM messages m LEFT JOIN route_traces t ON t.message = m.id
         WHERE m.id > ?3 AND +m.account = ?1 AND (t.message IS NULL OR t.chain <> ?2)"
    } else {
        "SELECT m.id FROM messages m LEFT JOIN route_traces t ON t.message = m.id
         WHERE m.account = ?1 AND m.id > ?3 AND (t.message IS NULL OR t.chain <> ?2)"
    };
    let mut ids: Vec<i64> = {
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params![account, chain, from], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    ids.extend_from_slice(touched);
    ids.sort_unstable();
    ids.dedup();
    Ok((ids, upto))
}

/// Records that every message of the account up to `upto` is routed with `chain`.
pub(crate) fn mark_routed(conn: &Connection, account: &str, chain: &str, upto: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE accounts SET routed_chain = ?2, routed_upto = ?3 WHERE id = ?1")?
        .execute(params![account, chain, upto])?;
    Ok(())
}

/// Routing inputs of these messages (those still on the server), oldest first; one scan
/// of the ids' range where that is cheaper than a lookup per message.
pub(crate) fn inputs_of(conn: &Connection, account: &str, ids: &[i64]) -> rusqlite::Result<Vec<RouteInput>> {
    match (ids.first(), ids.last()) {
        (Some(&lo), Some(&hi)) if ids.len() > SCAN_ABOVE => {
            let wanted: HashSet<i64> = ids.iter().copied().collect();
            scan(conn, account, (lo, hi), Some(&wanted))
        }
        _ => load(conn, ids),
    }
}

/// Above this many messages one scan of their id range beats a lookup per message.
const SCAN_ABOVE: usize = 200;

/// One pass over an account's messages with ids in `range` (inclusive) and their
/// locations, keeping the folder routers should see (the same preference as [`load`]).
/// Ranges, not the whole account: batches of a large account are routed one by one.
fn scan(
    conn: &Connection,
    account: &str,
    (lo, hi): (i64, i64),
    wanted: Option<&HashSet<i64>>,
) -> rusqlite::Result<Vec<RouteInput>> {
    // `+` keeps SQLite on the id range rather than the account's index.
    let mut stmt = conn.prepare_cached(
        "SELECT m.id, m.message_id, m.subject, m.from_addr, m.to_addrs, m.cc_addrs, m.in_reply_to, m.refs, m.date,
                m.size, f.name, f.path, l.flags
         FROM messages m JOIN locations l ON l.message = m.id AND l.on_server = 1 JOIN folders f ON f.id = l.folder
         WHERE m.id BETWEEN ?2 AND ?3 AND +m.account = ?1
         ORDER BY m.id, (f.role IS NULL) DESC, (f.role = 'inbox') DESC, f.name",
    )?;
    let mut rows = stmt.query(params![account, lo, hi])?;
    let mut out: Vec<RouteInput> = Vec::new();
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        if out.last().is_some_and(|m| m.local_id.0 == id) || wanted.is_some_and(|w| !w.contains(&id)) {
            continue;
        }
        let location = (r.get(10)?, r.get::<_, String>(11)?, r.get::<_, String>(12)?);
        out.push(input(r, id, account.to_owned(), location)?);
    }
    out.sort_by_key(|m| (m.date.unwrap_or(i64::MIN), m.local_id));
    Ok(out)
}

/// Every message of an account still on the server (for dry runs).
pub(crate) fn all_inputs(conn: &Connection, account: &str) -> rusqlite::Result<Vec<RouteInput>> {
    scan(conn, account, (i64::MIN, i64::MAX), None)
}

/// A routing input from a row whose columns 1 to 9 are `message_id, subject, from_addr,
/// to_addrs, cc_addrs, in_reply_to, refs, date, size`, and the chosen location's folder
/// name, path and flags.
fn input(
    r: &rusqlite::Row<'_>,
    local_id: i64,
    account: String,
    (folder, path, flags): (String, String, String),
) -> rusqlite::Result<RouteInput> {
    Ok(RouteInput {
        local_id: MessageId(local_id),
        account,
        folder,
        folder_path: parse_list(&path),
        flags: flags.split_whitespace().map(str::to_owned).collect(),
        message_id: r.get(1)?,
        subject: r.get(2)?,
        from: parse_list(&r.get::<_, String>(3)?),
        to: parse_list(&r.get::<_, String>(4)?),
        cc: parse_list(&r.get::<_, String>(5)?),
        in_reply_to: r.get(6)?,
        references: parse_list(&r.get::<_, String>(7)?),
        date: r.get(8)?,
        size: r.get::<_, i64>(9)? as u64,
    })
}

fn load(conn: &Connection, ids: &[i64]) -> rusqlite::Result<Vec<RouteInput>> {
    let mut message = conn.prepare_cached(
        "SELECT account, message_id, subject, from_addr, to_addrs, cc_addrs, in_reply_to, refs, date, size
         FROM messages WHERE id = ?1",
    )?;
    // Own folders (no role) first, then the inbox, then the rest; by name for stability.
    let mut location = conn.prepare_cached(
        "SELECT f.name, f.path, l.flags FROM locations l JOIN folders f ON f.id = l.folder
         WHERE l.message = ?1 AND l.on_server = 1
         ORDER BY (f.role IS NULL) DESC, (f.role = 'inbox') DESC, f.name LIMIT 1",
    )?;
    let mut out = Vec::with_capacity(ids.len());
    for &id in ids {
        let Some((folder, path, flags)) = location
            .query_row([id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))
            .optional()?
        else {
            // Gone from the server: keep whatever it was assigned to.
            continue;
        };
        out.push(message.query_row([id], |r| input(r, id, r.get(0)?, (folder, path, flags)))?);
    }
    out.sort_by_key(|m| (m.date.unwrap_or(i64::MIN), m.local_id));
    Ok(out)
}

/// Current assignments `(project, plugin)` of some messages.
pub(crate) fn assignments(conn: &Connection, ids: &[i64]) -> rusqlite::Result<HashMap<i64, (String, String)>> {
    let mut stmt = conn.prepare_cached("SELECT project, plugin FROM assignments WHERE message = ?1")?;
    let mut out = HashMap::new();
    for &id in ids {
        if let Some(a) = stmt.query_row([id], |r| Ok((r.get(0)?, r.get(1)?))).optional()? {
            out.insert(id, a);
        }
    }
    Ok(out)
}

/// Writes a routing run in one transaction.
pub(crate) fn apply(
    conn: &mut Connection,
    account: &str,
    chain: &str,
    results: &[RouteResult],
) -> rusqlite::Result<ApplyStats> {
    let tx = conn.transaction()?;
    let now = now_unix();
    let mut stats = ApplyStats::default();
    // Looked up per message rather than read for the whole account: routing runs after
    // every batch of a download, and a large account would be read once per batch.
    let mut current_of = tx.prepare_cached(
        "SELECT a.project, EXISTS(SELECT 1 FROM manual_assignments x WHERE x.message = ?1)
         FROM (SELECT ?1 AS message) q LEFT JOIN assignments a ON a.message = q.message",
    )?;
    for r in results {
        let local_id = r.local_id.0;
        let steps = serde_json::to_string(&r.steps).unwrap_or_else(|_| "[]".into());
        tx.prepare_cached(
            "INSERT INTO route_traces (message, chain, at, folder, steps) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(message) DO UPDATE SET chain = ?2, at = ?3, folder = ?4, steps = ?5",
        )?
        .execute(params![local_id, chain, now, r.folder, steps])?;
        let (current, manual): (Option<String>, bool) =
            current_of.query_row([local_id], |q| Ok((q.get(0)?, q.get(1)?)))?;
        // A person's decision stands; the trace still records what the routers said.
        if manual {
            continue;
        }
        match (&current, &r.winner) {
            (None, None) => {}
            (Some(_), None) => {
                tx.prepare_cached("DELETE FROM assignments WHERE message = ?1")?.execute([local_id])?;
                let detail = serde_json::json!({ "previous": current }).to_string();
                event(&tx, account, EventKind::Unrouted, Some(local_id), Some(&detail), now)?;
                stats.unrouted += 1;
            }
            (old, Some((project, plugin, reason))) => {
                tx.prepare_cached(
                    "INSERT INTO assignments (message, project, plugin, reason, at) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT(message) DO UPDATE SET project = ?2, plugin = ?3, reason = ?4, at = ?5",
                )?
                .execute(params![local_id, project, plugin, reason, now])?;
                match old {
                    None => {
                        let detail = serde_json::json!({ "project": project, "plugin": plugin }).to_string();
                        event(&tx, account, EventKind::Routed, Some(local_id), Some(&detail), now)?;
                        stats.routed += 1;
                    }
                    Some(previous) if previous != project => {
                        let detail = serde_json::json!({ "project": project, "previous": previous, "plugin": plugin })
                            .to_string();
                        event(&tx, account, EventKind::Reassigned, Some(local_id), Some(&detail), now)?;
                        stats.reassigned += 1;
                    }
                    Some(_) => {}
                }
            }
        }
    }
    drop(current_of);
    tx.commit()?;
    Ok(stats)
}

/// The project of a stored message by Message-ID, in any account.
pub(crate) fn project_of(conn: &Connection, message_id: &str) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached(
        "SELECT a.project FROM messages m JOIN assignments a ON a.message = m.id
         WHERE m.message_id = ?1 ORDER BY a.at LIMIT 1",
    )?
    .query_row([message_id], |r| r.get(0))
    .optional()
}

/// How a message was last routed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// Id of the account the message belongs to.
    pub account: String,
    /// The folder the routers saw.
    pub folder: Option<String>,
    /// When the routing run was applied, Unix time.
    pub at: Timestamp,
    /// Each router's answer in chain order, up to the one that decided.
    pub steps: Vec<Step>,
    /// A person's assignment, which wins over the routers' answers.
    pub manual: Option<super::manual::ManualAssignment>,
}

/// The trace of a message's last routing, with its manual assignment if any (a message
/// assigned by hand before any routing run has a trace with no steps).
pub(crate) fn trace(conn: &Connection, local_id: i64) -> rusqlite::Result<Option<Trace>> {
    let manual = super::manual::get(conn, local_id)?;
    let found = conn
        .query_row(
            "SELECT m.account, t.folder, t.at, t.steps FROM route_traces t JOIN messages m ON m.id = t.message
             WHERE t.message = ?1",
            [local_id],
            |r| {
                let steps: String = r.get(3)?;
                Ok(Trace {
                    account: r.get(0)?,
                    folder: r.get(1)?,
                    at: Timestamp(r.get(2)?),
                    steps: serde_json::from_str(&steps).unwrap_or_default(),
                    manual: None,
                })
            },
        )
        .optional()?;
    match (found, manual) {
        (Some(trace), manual) => Ok(Some(Trace { manual, ..trace })),
        (None, Some(manual)) => {
            let account: String =
                conn.query_row("SELECT account FROM messages WHERE id = ?1", [local_id], |r| r.get(0))?;
            Ok(Some(Trace { account, folder: None, at: manual.at, steps: Vec::new(), manual: Some(manual) }))
        }
        (None, None) => Ok(None),
    }
}

/// Messages per project and account.
pub(crate) fn projects(conn: &Connection) -> rusqlite::Result<Vec<(String, String, u64)>> {
    let mut stmt = conn.prepare(
        "SELECT a.project, m.account, COUNT(*) FROM assignments a JOIN messages m ON m.id = a.message
         GROUP BY a.project, m.account ORDER BY a.project, m.account",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64)))?;
    rows.collect()
}

impl super::Store {
    /// Messages of an account to route with the chain `chain` (its key), ascending: those
    /// touched in the last pass, plus every message not yet routed with this chain. The
    /// second value goes to [`Store::mark_routed`] once they are all routed.
    pub async fn route_candidates(
        &self,
        account: &str,
        chain: &str,
        touched: Vec<MessageId>,
    ) -> Result<(Vec<MessageId>, i64), StoreError> {
        let (account, chain) = (account.to_owned(), chain.to_owned());
        let touched: Vec<i64> = touched.iter().map(|m| m.0).collect();
        if let Some(pg) = self.pg() {
            let (ids, upto) = pg.route_candidates(&account, &chain, &touched).await?;
            return Ok((ids.into_iter().map(MessageId).collect(), upto));
        }
        let (ids, upto) = self.read(move |c| candidates(c, &account, &chain, &touched)).await?;
        Ok((ids.into_iter().map(MessageId).collect(), upto))
    }

    /// Records that every message of `account` up to id `upto` is routed with `chain`:
    /// later passes with the same chain look only above it.
    pub async fn mark_routed(&self, account: &str, chain: &str, upto: i64) -> Result<(), StoreError> {
        if let Some(pg) = self.pg() {
            return pg.mark_routed(account, chain, upto).await;
        }
        let (account, chain) = (account.to_owned(), chain.to_owned());
        self.run(move |c| mark_routed(c, &account, &chain, upto)).await
    }

    /// Routing inputs of exactly these messages of `account` (those still on the server),
    /// oldest first.
    pub async fn route_inputs_of(&self, account: &str, ids: Vec<MessageId>) -> Result<Vec<RouteInput>, StoreError> {
        let account = account.to_owned();
        let mut ids: Vec<i64> = ids.iter().map(|m| m.0).collect();
        ids.sort_unstable();
        ids.dedup();
        if let Some(pg) = self.pg() {
            return pg.route_inputs_of(&account, &ids).await;
        }
        self.read(move |c| inputs_of(c, &account, &ids)).await
    }

    /// Every message of an account still on the server, as routers see it.
    pub async fn all_route_inputs(&self, account: &str) -> Result<Vec<RouteInput>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.all_route_inputs(account).await;
        }
        let account = account.to_owned();
        self.run(move |c| all_inputs(c, &account)).await
    }

    /// Current assignments `(project, plugin)` of these messages.
    pub async fn assignments(&self, ids: Vec<MessageId>) -> Result<HashMap<MessageId, (String, String)>, StoreError> {
        let ids: Vec<i64> = ids.iter().map(|m| m.0).collect();
        let found = match self.pg() {
            Some(pg) => pg.assignments(&ids).await?,
            None => self.run(move |c| assignments(c, &ids)).await?,
        };
        Ok(found.into_iter().map(|(id, a)| (MessageId(id), a)).collect())
    }

    /// Records a routing run: assignments, traces and events where something changed.
    pub async fn apply_routes(
        &self,
        account: &str,
        chain: &str,
        results: Vec<RouteResult>,
    ) -> Result<ApplyStats, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.apply_routes(account, chain, &results).await;
        }
        let (account, chain) = (account.to_owned(), chain.to_owned());
        self.run(move |c| apply(c, &account, &chain, &results)).await
    }

    /// The project of the message with this Message-ID, if routed. Blocking: routers ask
    /// through the plugin host while their call runs.
    pub fn project_of(&self, message_id: &str) -> Result<Option<String>, StoreError> {
        if let Some(pg) = self.pg() {
            let (pg, message_id) = (pg.clone(), message_id.to_owned());
            return crate::postgres::block_on(async move { pg.project_of(&message_id).await });
        }
        self.with(|c| project_of(c, message_id))
    }

    /// How a message was routed, for `route explain`.
    pub async fn trace(&self, local_id: MessageId) -> Result<Option<Trace>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.trace(local_id.0).await;
        }
        self.run(move |c| trace(c, local_id.0)).await
    }

    /// Forgets which chain routed an account's messages, so the next run routes every
    /// one of them again (as after a change of the chain); assignments stay until then.
    pub async fn forget_routing(&self, account: &str) -> Result<(), StoreError> {
        if let Some(pg) = self.pg() {
            return pg.forget_routing(account).await;
        }
        let account = account.to_owned();
        self.run(move |c| {
            c.execute(
                "DELETE FROM route_traces WHERE message IN (SELECT id FROM messages WHERE account = ?1)",
                [&account],
            )
            .map(drop)
        })
        .await
    }

    /// Messages per `(project, account)`.
    pub async fn projects(&self) -> Result<Vec<(String, String, u64)>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.projects().await;
        }
        self.run(|c| projects(c)).await
    }
}
