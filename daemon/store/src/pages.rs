//! Messages as the API lists and shows them: filtered pages with a cursor (newest
//! first, in the order they were stored), and one message with its raw content.
//!
//! Paging is by local id (keyset), so a page costs the same on the millionth message as
//! on the first, and messages stored while a client pages through never shift a page.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params_from_iter};

use super::{StoreError, parse_list};
use postfach_model::MessageId;

/// Where the next page starts: below this local id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor(pub i64);

/// Which messages to list.
#[derive(Debug, Clone, Default)]
pub struct MessageQuery {
    /// Only these accounts (the caller's visible ones); `None` for every account.
    pub visible: Option<Vec<String>>,
    /// Only this account.
    pub account: Option<String>,
    /// Only messages on the server in this folder (decoded full name).
    pub folder: Option<String>,
    /// Only messages assigned to this project.
    pub project: Option<String>,
    /// Only this thread.
    pub thread: Option<String>,
    /// `Some(true)`: only messages without `\Seen`; `Some(false)`: only read ones.
    pub unread: Option<bool>,
    /// Only messages dated at or after this Unix time.
    pub since: Option<i64>,
    /// Page size.
    pub limit: usize,
    /// Continue below this cursor.
    pub cursor: Option<Cursor>,
    /// By Date, oldest first (a thread), instead of newest stored first; no cursor.
    pub oldest_first: bool,
}

/// One message in a list.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageSummary {
    /// Local id.
    pub local_id: MessageId,
    /// Account id.
    pub account: String,
    /// The folder shown: the filtered one, else the inbox, else any it is in.
    pub folder: Option<String>,
    /// UID in that folder.
    pub uid: Option<u32>,
    /// Message-ID without angle brackets.
    pub message_id: Option<String>,
    /// Decoded Subject.
    pub subject: Option<String>,
    /// From addresses.
    pub from: Vec<String>,
    /// To addresses.
    pub to: Vec<String>,
    /// Cc addresses.
    pub cc: Vec<String>,
    /// Date header, Unix time.
    pub date: Option<i64>,
    /// Flags in the folder shown.
    pub flags: Vec<String>,
    /// Project, if assigned.
    pub project: Option<String>,
    /// Whether any server copy remains.
    pub on_server: bool,
    /// Every folder it is in on the server.
    pub folders: Vec<String>,
    /// Size of the raw message in bytes.
    pub size: u64,
    /// Its thread.
    pub thread_id: Option<String>,
    /// Whether it has an attachment that is not an embedded image.
    pub has_attachments: bool,
    /// The first words of its text.
    pub snippet: String,
}

/// A page of messages.
#[derive(Debug, Clone, PartialEq)]
pub struct MessagePage {
    /// The messages.
    pub items: Vec<MessageSummary>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<Cursor>,
}

/// One message with what the list leaves out.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageDetail {
    /// The list fields.
    pub summary: MessageSummary,
    /// In-Reply-To.
    pub in_reply_to: Option<String>,
    /// References, oldest first.
    pub references: Vec<String>,
    /// The raw RFC 5322 bytes.
    pub raw: Vec<u8>,
}

pub(crate) const SELECT: &str =
    "SELECT m.id, m.account, m.message_id, m.subject, m.from_addr, m.to_addrs, m.cc_addrs, m.date,
        a.project, m.size, m.thread_id, m.has_attachments, COALESCE(m.snippet, '')
     FROM messages m LEFT JOIN assignments a ON a.message = m.id";

pub(crate) fn summary(r: &rusqlite::Row<'_>) -> rusqlite::Result<MessageSummary> {
    Ok(MessageSummary {
        local_id: MessageId(r.get(0)?),
        account: r.get(1)?,
        message_id: r.get(2)?,
        subject: r.get(3)?,
        from: parse_list(&r.get::<_, String>(4)?),
        to: parse_list(&r.get::<_, String>(5)?),
        cc: parse_list(&r.get::<_, String>(6)?),
        date: r.get(7)?,
        project: r.get(8)?,
        size: r.get::<_, i64>(9)? as u64,
        thread_id: r.get(10)?,
        has_attachments: r.get(11)?,
        snippet: r.get(12)?,
        folder: None,
        uid: None,
        flags: Vec::new(),
        on_server: false,
        folders: Vec::new(),
    })
}

/// Where a message is on the server, as lists show it.
#[derive(Debug, Default)]
pub(crate) struct Placement {
    /// The folder shown: the wanted one if the message is there, else the inbox, else
    /// any folder it is in (or was in last).
    pub folder: Option<(String, u32, Vec<String>)>,
    /// Whether any server copy remains.
    pub on_server: bool,
    /// Every folder it is in on the server.
    pub folders: Vec<String>,
}

/// Reads where a message is on the server; `wanted` is a folder filter, if any.
pub(crate) fn placement(conn: &Connection, message: i64, wanted: Option<&str>) -> rusqlite::Result<Placement> {
    let mut stmt = conn.prepare_cached(
        "SELECT f.name, l.uid, l.flags, l.on_server FROM locations l JOIN folders f ON f.id = l.folder
         WHERE l.message = ?1 ORDER BY l.on_server DESC, (f.role = 'inbox') DESC, f.name",
    )?;
    let locs: Vec<(String, u32, String, bool)> = stmt
        .query_map([message], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let shown = match wanted {
        Some(f) => locs.iter().find(|l| l.0 == f && l.3),
        None => locs.first(),
    };
    Ok(Placement {
        folder: shown
            .map(|(name, uid, flags, _)| (name.clone(), *uid, flags.split_whitespace().map(str::to_owned).collect())),
        on_server: locs.iter().any(|l| l.3),
        folders: locs.iter().filter(|l| l.3).map(|l| l.0.clone()).collect(),
    })
}

/// Fills in where each message is on the server.
pub(crate) fn locate(conn: &Connection, rows: &mut [MessageSummary], folder: Option<&str>) -> rusqlite::Result<()> {
    for row in rows {
        let p = placement(conn, row.local_id.0, folder)?;
        row.on_server = p.on_server;
        row.folders = p.folders;
        if let Some((name, uid, flags)) = p.folder {
            row.folder = Some(name);
            row.uid = Some(uid);
            row.flags = flags;
        }
    }
    Ok(())
}

/// Appends `clause` with its argument, numbering the placeholder.
fn and(sql: &mut String, args: &mut Vec<Value>, clause: &str, value: Value) {
    args.push(value);
    sql.push_str(" AND ");
    sql.push_str(&clause.replace("?#", &format!("?{}", args.len())));
}

pub(crate) fn page(conn: &Connection, q: &MessageQuery) -> rusqlite::Result<MessagePage> {
    let mut sql = format!("{SELECT} WHERE 1 = 1");
    let mut args: Vec<Value> = Vec::new();
    if let Some(visible) = &q.visible {
        let list = serde_json::to_string(visible).unwrap_or_else(|_| "[]".to_owned());
        and(&mut sql, &mut args, "m.account IN (SELECT value FROM json_each(?#))", Value::Text(list));
    }
    if let Some(account) = &q.account {
        and(&mut sql, &mut args, "m.account = ?#", Value::Text(account.clone()));
    }
    if let Some(project) = &q.project {
        and(&mut sql, &mut args, "a.project = ?#", Value::Text(project.clone()));
    }
    if let Some(thread) = &q.thread {
        and(&mut sql, &mut args, "m.thread_id = ?#", Value::Text(thread.clone()));
    }
    if let Some(since) = q.since {
        and(&mut sql, &mut args, "m.date >= ?#", Value::Integer(since));
    }
    if let Some(folder) = &q.folder {
        and(
            &mut sql,
            &mut args,
            "EXISTS (SELECT 1 FROM locations l JOIN folders f ON f.id = l.folder
                     WHERE l.message = m.id AND f.name = ?# AND l.on_server = 1)",
            Value::Text(folder.clone()),
        );
    }
    if let Some(unread) = q.unread {
        let seen = "EXISTS (SELECT 1 FROM locations l WHERE l.message = m.id AND l.on_server = 1
                    AND (' ' || l.flags || ' ') LIKE '% \\Seen %')";
        sql.push_str(if unread { " AND NOT " } else { " AND " });
        sql.push_str(seen);
    }
    if let Some(Cursor(id)) = q.cursor.filter(|_| !q.oldest_first) {
        and(&mut sql, &mut args, "m.id < ?#", Value::Integer(id));
    }
    // One more than asked tells whether there is a next page.
    args.push(Value::Integer(q.limit as i64 + 1));
    // Threads read in conversation order (by Date); lists in storage order, newest first.
    let order = if q.oldest_first { "COALESCE(m.date, 0), m.id" } else { "m.id DESC" };
    sql.push_str(&format!(" ORDER BY {order} LIMIT ?{}", args.len()));
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut items: Vec<MessageSummary> =
        stmt.query_map(params_from_iter(args.iter()), summary)?.collect::<rusqlite::Result<_>>()?;
    let next = if items.len() > q.limit {
        items.truncate(q.limit);
        items.last().map(|m| Cursor(m.local_id.0))
    } else {
        None
    };
    locate(conn, &mut items, q.folder.as_deref())?;
    Ok(MessagePage { items, next })
}

pub(crate) fn detail(conn: &Connection, id: i64) -> rusqlite::Result<Option<MessageDetail>> {
    let found = conn.prepare_cached(&format!("{SELECT} WHERE m.id = ?1"))?.query_row([id], summary).optional()?;
    let Some(mut summary) = found else { return Ok(None) };
    locate(conn, std::slice::from_mut(&mut summary), None)?;
    let (in_reply_to, refs, raw): (Option<String>, String, Vec<u8>) = conn.query_row(
        &format!(
            "SELECT m.in_reply_to, m.refs, {} FROM messages m JOIN blobs b ON b.hash = m.blob WHERE m.id = ?1",
            super::blobs::COLUMNS
        ),
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, super::blobs::raw_from(r, 2)?)),
    )?;
    Ok(Some(MessageDetail { summary, in_reply_to, references: parse_list(&refs), raw }))
}

impl super::Store {
    /// A page of messages.
    pub async fn message_page(&self, query: MessageQuery) -> Result<MessagePage, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.message_page(&query).await;
        }
        self.read(move |c| page(c, &query)).await
    }

    /// One message with its raw content; `None` if there is no such message.
    pub async fn message_detail(&self, id: MessageId) -> Result<Option<MessageDetail>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.message_detail(id.0).await;
        }
        self.read(move |c| detail(c, id.0)).await
    }

    /// How many messages the store holds for an account.
    pub async fn message_count(&self, account: &str) -> Result<u64, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.message_count(account).await;
        }
        let account = account.to_owned();
        self.read(move |c| {
            c.prepare_cached("SELECT COUNT(*) FROM messages WHERE account = ?1")?
                .query_row([account], |r| r.get::<_, i64>(0).map(|n| n as u64))
        })
        .await
    }

    /// List fields of some messages, in the order given (unknown ids are left out).
    pub async fn message_summaries(&self, ids: Vec<MessageId>) -> Result<Vec<MessageSummary>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.message_summaries(&ids).await;
        }
        self.read(move |c| summaries(c, &ids)).await
    }
}

pub(crate) fn summaries(conn: &Connection, ids: &[MessageId]) -> rusqlite::Result<Vec<MessageSummary>> {
    let mut stmt = conn.prepare_cached(&format!("{SELECT} WHERE m.id = ?1"))?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(s) = stmt.query_row([id.0], summary).optional()? {
            out.push(s);
        }
    }
    locate(conn, &mut out, None)?;
    Ok(out)
}
