//! The store's behaviour on a temporary database: identity and locations, flags and
//! removals with their events, the outbox state machine, local changes. The tests of
//! behaviour both backends have run twice, on SQLite and on a real PostgreSQL started
//! for the test ([`on_both_backends!`]).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use postfach_model::{AccountState, FetchedMessage, Headers, Link, ListedFolder, MessageId, Role, Timestamp};

use super::*;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("postfach.sqlite3")).unwrap();
    (dir, store)
}

/// What keeps a test's database alive: a temporary directory, or a PostgreSQL server.
enum Keep {
    #[allow(dead_code, reason = "held for its Drop")]
    Dir(tempfile::TempDir),
    #[allow(dead_code, reason = "held for its Drop")]
    Server(postfach_test_harness::postgres::Postgres),
}

/// A new store on `backend` ("sqlite" or "postgres").
async fn store_on(backend: &str) -> (Keep, Store) {
    if backend == "sqlite" {
        let (dir, store) = store();
        return (Keep::Dir(dir), store);
    }
    use postfach_test_harness::postgres::{PASSWORD, Postgres as Server};
    let server = Server::start().unwrap();
    let url = server.database().unwrap();
    let pg = crate::postgres::Postgres::connect(&url, Some(PASSWORD)).await.unwrap();
    (Keep::Server(server), Store::on_postgres(pg, None))
}

/// Runs each `async fn name(store: Store)` as two tests, `sqlite::name` and
/// `postgres::name`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let (_keep, store) = super::store_on("sqlite").await;
                    super::$name(store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let (_keep, store) = super::store_on("postgres").await;
                    super::$name(store).await;
                }
            )*
        }
    };
}

on_both_backends!(
    the_same_message_id_is_one_message_with_two_locations,
    a_uidvalidity_change_relinks_what_is_found_again_and_drops_the_rest,
    flag_updates_change_only_what_differs_and_record_an_event,
    local_changes_are_pending_until_finished,
    a_manual_assignment_is_kept_by_routing_runs,
    account_states_report_problems_once_and_a_start_clears_only_running_states,
    events_are_numbered_without_gaps_in_commit_order,
    replies_join_their_parents_thread_whichever_folder_they_are_in,
    the_outbox_moves_through_its_states_and_is_claimed_once,
    tokens_audit_and_search_work_the_same,
    a_header_only_message_gets_its_body_later_and_oauth_grants_are_kept,
);

fn folder(name: &str, role: Option<Role>) -> ListedFolder {
    ListedFolder {
        name: name.into(),
        raw: name.into(),
        delimiter: Some("/".into()),
        path: vec![name.into()],
        attributes: Vec::new(),
        role,
        role_source: None,
        selectable: true,
    }
}

fn message(uid: u32, message_id: Option<&str>, body: &str) -> FetchedMessage {
    let raw = format!("Subject: {body}\r\n\r\n{body}\r\n").into_bytes();
    FetchedMessage {
        uid,
        flags: vec!["\\Seen".into()],
        modseq: None,
        internal_date: Some(1_700_000_000),
        hash: blake3_hex(&raw),
        headers: Headers {
            message_id: message_id.map(str::to_owned),
            subject: Some(body.into()),
            ..Headers::default()
        },
        gmail_thread: None,
        header_only: None,
        raw,
    }
}

fn blake3_hex(raw: &[u8]) -> String {
    // The store keys blobs by whatever hash the sync computed; any stable hex will do here.
    raw.iter().fold(String::new(), |mut s, b| {
        s.push_str(&format!("{b:02x}"));
        s
    })
}

async fn event_kinds(store: &Store, account: &str) -> Vec<String> {
    let query = EventQuery { after: 0, limit: 1000, accounts: Some(vec![account.to_owned()]) };
    store.events(query).await.unwrap().into_iter().map(|e| e.kind).collect()
}

async fn the_same_message_id_is_one_message_with_two_locations(store: Store) {
    let rows =
        store.replace_listing("mm", vec![folder("INBOX", Some(Role::Inbox)), folder("Ablage", None)]).await.unwrap();
    let (inbox, ablage) = (rows[1].id, rows[0].id);
    assert_eq!(rows[1].folder.name, "INBOX", "{rows:?}");
    let first = store.commit_batch("mm", inbox, 7, vec![message(1, Some("a@x"), "eins")], Vec::new()).await.unwrap();
    assert_eq!((first.new_messages, first.linked), (1, 0));
    // The same mail found in another folder (copied there) is linked, not stored again.
    let again = store.commit_batch("mm", ablage, 9, vec![message(4, Some("a@x"), "eins")], Vec::new()).await.unwrap();
    assert_eq!((again.new_messages, again.linked), (0, 1));
    let local = first.touched[0];
    let places = store.places(local).await.unwrap();
    let mut found: Vec<(&str, u32)> = places.iter().map(|p| (p.folder.folder.name.as_str(), p.uid)).collect();
    found.sort_unstable();
    assert_eq!(found, [("Ablage", 4), ("INBOX", 1)]);
    assert_eq!(store.known_uids(inbox, 7).await.unwrap().into_iter().collect::<Vec<_>>(), [1]);
    assert!(store.known_uids(inbox, 8).await.unwrap().is_empty(), "another UIDVALIDITY knows nothing");
    // Gone from one folder: not `removed`, it is still in the other.
    store.mark_removed(ablage, 9, vec![4]).await.unwrap();
    assert_eq!(store.emit_removed("mm", vec![local]).await.unwrap(), 0);
    // Gone from the last one: `removed`, and the store keeps the message.
    store.mark_removed(inbox, 7, vec![1]).await.unwrap();
    assert_eq!(store.emit_removed("mm", vec![local]).await.unwrap(), 1);
    assert!(store.raw_message(local).await.unwrap().is_some());
    assert_eq!(event_kinds(&store, "mm").await, ["new-message", "removed"]);
}

async fn a_uidvalidity_change_relinks_what_is_found_again_and_drops_the_rest(store: Store) {
    let rows = store.replace_listing("mm", vec![folder("INBOX", Some(Role::Inbox))]).await.unwrap();
    let inbox = rows[0].id;
    let batch = vec![message(1, Some("a@x"), "eins"), message(2, Some("b@x"), "zwei")];
    let stats = store.commit_batch("mm", inbox, 100, batch, Vec::new()).await.unwrap();
    assert_eq!(store.stale_locations(inbox, 200).await.unwrap(), 2);
    // Renumbered: only a@x is found again, as UID 11.
    let link = Link { uid: 11, message: stats.touched[0], flags: Vec::new(), modseq: None };
    let relinked = store.commit_batch("mm", inbox, 200, Vec::new(), vec![link]).await.unwrap();
    assert_eq!(relinked.relinked, 1);
    let gone = store.finish_pass(inbox, 200).await.unwrap();
    assert_eq!(gone.removed, 1);
    assert_eq!(gone.touched, [stats.touched[1]]);
    assert_eq!(store.known_uids(inbox, 200).await.unwrap().into_iter().collect::<Vec<_>>(), [11]);
}

async fn flag_updates_change_only_what_differs_and_record_an_event(store: Store) {
    let rows = store.replace_listing("mm", vec![folder("INBOX", Some(Role::Inbox))]).await.unwrap();
    let inbox = rows[0].id;
    store.commit_batch("mm", inbox, 1, vec![message(1, Some("a@x"), "eins")], Vec::new()).await.unwrap();
    let same = store.update_flags(inbox, 1, vec![(1, vec!["\\Seen".into()], None)]).await.unwrap();
    assert!(same.is_empty(), "unchanged flags are no change");
    let changed = store.update_flags(inbox, 1, vec![(1, vec!["\\Flagged".into(), "\\Seen".into()], Some(5))]).await;
    assert_eq!(changed.unwrap().len(), 1);
    assert_eq!(event_kinds(&store, "mm").await, ["new-message", "flags"]);
}

async fn the_outbox_moves_through_its_states_and_is_claimed_once(store: Store) {
    let entry = NewOutboxEntry {
        account: "mm".into(),
        kind: OutboxKind::Send,
        message_id: "m1@x".into(),
        subject: Some("Hallo".into()),
        envelope_from: "mm@x.de".into(),
        recipients: vec!["b@y.de".into()],
        raw: b"Subject: Hallo\r\n\r\nx\r\n".to_vec(),
    };
    let id = store.enqueue_outbox(entry).await.unwrap();
    let state = |e: Option<OutboxEntry>| e.map(|e| e.state);
    assert_eq!(state(store.outbox_entry(id).await.unwrap()), Some(OutboxState::Queued));
    assert!(store.claim_outbox(id).await.unwrap());
    assert!(!store.claim_outbox(id).await.unwrap(), "a second process cannot claim it too");
    // A temporary failure waits for its time; a crash while sending queues it again.
    store.mark_deferred(id, "450 Mailbox voll", Timestamp(i64::MAX)).await.unwrap();
    assert!(store.outbox_due(Timestamp::now()).await.unwrap().is_empty());
    assert!(store.retry_outbox(id).await.unwrap());
    assert!(store.claim_outbox(id).await.unwrap());
    assert_eq!(store.recover_outbox().await.unwrap(), 1);
    assert_eq!(state(store.outbox_entry(id).await.unwrap()), Some(OutboxState::Queued));
    assert!(store.claim_outbox(id).await.unwrap());
    store.mark_sent(id, "mm", OutboxState::Sent, "250 Ok").await.unwrap();
    let sent = store.outbox_entry(id).await.unwrap().unwrap();
    assert_eq!((sent.state, sent.server_reply.as_deref(), sent.attempts), (OutboxState::Sent, Some("250 Ok"), 3));
    assert!(!store.retry_outbox(id).await.unwrap(), "a sent message is not sent again");
    assert_eq!(event_kinds(&store, "mm").await, ["sent"]);
}

#[tokio::test]
async fn account_states_and_the_auto_disable_marker_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("postfach.sqlite3");
    {
        let store = Store::open(&path).unwrap();
        store.upsert_account_meta("mm", "Kanzlei", "auto", true).await.unwrap();
        let status = AccountStatus { state: AccountState::Disabled, last_error: Some("503".into()), failures: 5 };
        store.set_account_status("mm", status).await.unwrap();
        store.set_disabled_digest("mm", Some("abc")).await.unwrap();
    }
    let store = Store::open(&path).unwrap();
    let row = store.account("mm").await.unwrap().unwrap();
    assert_eq!((row.state, row.failures, row.disabled_digest.as_deref()), (AccountState::Disabled, 5, Some("abc")));
    // A daemon start clears what ran, not what an admin has to see.
    store.set_account_status("other", AccountStatus::clean(AccountState::Idle)).await.unwrap();
    store.mark_all_stopped().await.unwrap();
    assert_eq!(store.account("other").await.unwrap().unwrap().state, AccountState::Stopped);
    assert_eq!(store.account("mm").await.unwrap().unwrap().state, AccountState::Disabled);
}

async fn local_changes_are_pending_until_finished(store: Store) {
    let rows = store.replace_listing("mm", vec![folder("INBOX", Some(Role::Inbox))]).await.unwrap();
    let stats = store.commit_batch("mm", rows[0].id, 1, vec![message(1, Some("a@x"), "eins")], Vec::new()).await;
    let local = stats.unwrap().touched[0];
    let id = store.enqueue_change("mm", local, Op::Flags, &["\\Seen".into()], &[]).await.unwrap();
    assert_eq!(store.pending_changes("mm").await.unwrap().len(), 1);
    store.finish_change(id, ChangeState::Done, "+\\Seen in INBOX").await.unwrap();
    assert!(store.pending_changes("mm").await.unwrap().is_empty());
    let c = store.change(id).await.unwrap().unwrap();
    assert_eq!((c.state, c.attempts, c.result.as_deref()), (ChangeState::Done, 1, Some("+\\Seen in INBOX")));
}

#[tokio::test]
async fn a_store_from_before_the_search_index_is_indexed_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("postfach.sqlite3");
    {
        // A store as version 4 left it: one message, no thread, no index row.
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        let tx = conn.transaction().unwrap();
        for m in &schema::MIGRATIONS[..4] {
            tx.execute_batch(m).unwrap();
        }
        tx.pragma_update(None, "user_version", 4).unwrap();
        let raw = "Message-ID: <alt@x>\r\nSubject: Straßenbau\r\nFrom: Jürgen Müller <jm@x>\r\n\r\nDie Bewehrungspläne kommen.\r\n";
        tx.execute(
            "INSERT INTO blobs (hash, size, data) VALUES ('h', ?1, ?2)",
            rusqlite::params![raw.len(), raw.as_bytes()],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO messages (account, identity, message_id, subject, blob, size, created_at)
             VALUES ('a', 'mid:alt@x', 'alt@x', 'Straßenbau', 'h', ?1, 0)",
            [raw.len()],
        )
        .unwrap();
        tx.commit().unwrap();
    }
    let store = Store::open(&path).unwrap();
    let found = |q: &str| {
        let store = store.clone();
        let q = q.to_owned();
        async move {
            store
                .search(SearchQuery { text: q, limit: 10, ..SearchQuery::default() })
                .await
                .unwrap()
                .into_iter()
                .map(|m| m.message_id.unwrap_or_default())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(found("strassenbau").await, ["alt@x"]);
    assert_eq!(found("Mueller").await, ["alt@x"]);
    assert_eq!(found("Bewehrungsplaene").await, ["alt@x"]);
    let page = store.message_page(MessageQuery { limit: 10, ..MessageQuery::default() }).await.unwrap();
    assert!(page.items[0].thread_id.as_deref().is_some_and(|t| t.starts_with('t')));
    assert_eq!(page.items[0].snippet, "Die Bewehrungspläne kommen.");
    // Opening again finds nothing left to index (and indexes nothing twice).
    drop(store);
    let store = Store::open(&path).unwrap();
    let rows: i64 = store.run(|c| c.query_row("SELECT COUNT(*) FROM search", [], |r| r.get(0))).await.unwrap();
    assert_eq!(rows, 1);
}

#[tokio::test]
async fn a_webhook_endpoint_is_failing_after_the_failing_time_and_ok_after_a_success() {
    let (_dir, store) = store();
    let cursor = store.webhook_cursor("http://crm/hook").await.unwrap();
    assert_eq!((cursor.state.as_str(), cursor.delivered_seq), ("ok", 0));
    store.webhook_failed("http://crm/hook", "500", 3600).await.unwrap();
    assert_eq!(store.webhook_cursor("http://crm/hook").await.unwrap().state, "retrying");
    // With no time allowed, the next failure makes it `failing`; the cursor stays.
    store.webhook_failed("http://crm/hook", "timeout", 0).await.unwrap();
    let c = store.webhook_cursor("http://crm/hook").await.unwrap();
    assert_eq!(
        (c.state.as_str(), c.attempts, c.last_error.as_deref(), c.delivered_seq),
        ("failing", 2, Some("timeout"), 0)
    );
    store.webhook_delivered("http://crm/hook", 5, true).await.unwrap();
    let c = store.webhook_cursor("http://crm/hook").await.unwrap();
    assert_eq!((c.state.as_str(), c.attempts, c.last_error, c.delivered_seq), ("ok", 0, None, 5));
    assert!(c.failing_since.is_none());
}

async fn a_manual_assignment_is_kept_by_routing_runs(store: Store) {
    let f = store.replace_listing("a", vec![folder("INBOX", Some(Role::Inbox))]).await.unwrap();
    let inbox = f[0].id;
    store.commit_batch("a", inbox, 1, vec![message(1, Some("m1@x"), "eins")], vec![]).await.unwrap();
    let id = MessageId(1);
    let route = |project: Option<&str>| RouteResult {
        local_id: id,
        folder: "INBOX".into(),
        steps: Vec::new(),
        winner: project.map(|p| (p.to_owned(), "subject-tag".to_owned(), String::new())),
    };
    store.apply_routes("a", "chain1", vec![route(Some("210-01"))]).await.unwrap();
    assert_eq!(store.set_manual_project(id, Some("211-07".into()), "mm").await.unwrap(), Some(EventKind::Reassigned));
    store.apply_routes("a", "chain2", vec![route(Some("210-01"))]).await.unwrap();
    store.apply_routes("a", "chain3", vec![route(None)]).await.unwrap();
    let a = store.assignments(vec![id]).await.unwrap();
    assert_eq!(a[&id], ("211-07".to_owned(), MANUAL.to_owned()));
    let trace = store.trace(id).await.unwrap().unwrap();
    assert_eq!(trace.manual.unwrap().user, "mm");
    assert_eq!(store.set_manual_project(id, None, "mm").await.unwrap(), Some(EventKind::Unrouted));
    store.apply_routes("a", "chain4", vec![route(Some("210-01"))]).await.unwrap();
    assert!(store.assignments(vec![id]).await.unwrap().is_empty(), "a manual `no project` stands too");
}

/// A store of an older schema (the first five migrations), as a previous postfachd left it.
fn old_store(path: &std::path::Path) {
    let conn = Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    for (i, m) in schema::MIGRATIONS[..5].iter().enumerate() {
        conn.execute_batch(m).unwrap();
        conn.pragma_update(None, "user_version", i as i64 + 1).unwrap();
    }
    conn.execute("INSERT INTO accounts (id) VALUES ('alt')", []).unwrap();
}

#[test]
fn a_migration_keeps_a_checked_copy_of_the_old_version_and_only_the_newest_three() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("postfach.sqlite3");
    for round in 1..=4 {
        let _ = std::fs::remove_file(&path);
        old_store(&path);
        drop(Store::open(&path).unwrap());
        let backups: Vec<_> =
            std::fs::read_dir(dir.path().join("backups")).unwrap().flatten().map(|e| e.path()).collect();
        assert_eq!(backups.len(), round.min(MIGRATION_BACKUPS_KEPT), "{backups:?}");
        // Distinct names: the time in them is in milliseconds.
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let backups: Vec<_> = std::fs::read_dir(dir.path().join("backups")).unwrap().flatten().map(|e| e.path()).collect();
    for b in &backups {
        assert!(b.file_name().unwrap().to_string_lossy().starts_with("postfach-v5-"), "{b:?}");
        let report = verify(b).unwrap();
        assert_eq!(report.schema, 5);
        let conn = Connection::open(b).unwrap();
        let id: String = conn.query_row("SELECT id FROM accounts", [], |r| r.get(0)).unwrap();
        assert_eq!(id, "alt");
    }
    // The migrated store itself is current.
    let conn = Connection::open(&path).unwrap();
    let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
    assert_eq!(v, schema::MIGRATIONS.len() as i64);
}

#[test]
fn a_new_store_needs_no_migration_backup() {
    let (dir, _store) = store();
    assert!(!dir.path().join("backups").exists());
}

#[tokio::test]
async fn message_sources_are_stored_compressed_and_read_back_byte_for_byte() {
    let (dir, store) = store();
    let body = "Sehr geehrte Frau Schmidt, anbei die Unterlagen zum Bauvorhaben. ".repeat(60);
    let mut m = message(1, Some("big@x"), &body);
    // `store verify` checks sources against their BLAKE3 hash, as the sync computes it.
    m.hash = blake3::hash(&m.raw).to_hex().to_string();
    let raw = m.raw.clone();
    let folders = store.replace_listing("a", vec![folder("INBOX", Some(Role::Inbox))]).await.unwrap();
    store.commit_batch("a", folders[0].id, 1, vec![m], Vec::new()).await.unwrap();
    let (codec, stored): (i64, i64) = store
        .run(|c| c.query_row("SELECT codec, length(data) FROM blobs", [], |r| Ok((r.get(0)?, r.get(1)?))))
        .await
        .unwrap();
    assert_eq!(codec, 1);
    assert!((stored as usize) < raw.len() / 4, "{stored} bytes stored for {}", raw.len());
    let id = store.message_page(MessageQuery { limit: 1, ..MessageQuery::default() }).await.unwrap().items[0].local_id;
    assert_eq!(store.raw_message(id).await.unwrap().unwrap(), raw);
    assert_eq!(store.message_detail(id).await.unwrap().unwrap().raw, raw);
    drop(store);
    assert_eq!(backup::verify(&dir.path().join("postfach.sqlite3")).unwrap().blobs, 1);
}

#[tokio::test]
async fn a_store_from_before_compression_is_compressed_when_opened_and_reads_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("postfach.sqlite3");
    let raw = format!("Message-ID: <alt@x>\r\nSubject: Akte\r\n\r\n{}", "Schriftsatz vom 3. Mai. ".repeat(80));
    let hash = blake3::hash(raw.as_bytes()).to_hex().to_string();
    {
        // A store as version 7 left it: one raw blob.
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        let tx = conn.transaction().unwrap();
        for m in &schema::MIGRATIONS[..7] {
            tx.execute_batch(m).unwrap();
        }
        tx.pragma_update(None, "user_version", 7).unwrap();
        tx.execute(
            "INSERT INTO blobs (hash, size, data) VALUES (?1, ?2, ?3)",
            rusqlite::params![hash, raw.len(), raw.as_bytes()],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO messages (account, identity, message_id, subject, blob, size, created_at)
             VALUES ('a', 'mid:alt@x', 'alt@x', 'Akte', ?1, ?2, 0)",
            rusqlite::params![hash, raw.len()],
        )
        .unwrap();
        tx.commit().unwrap();
    }
    // A backup of the old store verifies before it is migrated …
    assert_eq!(backup::verify(&path).unwrap().blobs, 1);
    let store = Store::open(&path).unwrap();
    let (codec, stored): (i64, i64) = store
        .run(|c| c.query_row("SELECT codec, length(data) FROM blobs", [], |r| Ok((r.get(0)?, r.get(1)?))))
        .await
        .unwrap();
    assert_eq!(codec, 1);
    assert!((stored as usize) < raw.len() / 4);
    let id = store.message_page(MessageQuery { limit: 1, ..MessageQuery::default() }).await.unwrap().items[0].local_id;
    assert_eq!(store.raw_message(id).await.unwrap().unwrap(), raw.as_bytes());
    // … and after (the hash is the raw bytes' either way).
    drop(store);
    assert_eq!(backup::verify(&path).unwrap().blobs, 1);
}

async fn account_states_report_problems_once_and_a_start_clears_only_running_states(store: Store) {
    store.upsert_account_meta("mm", "Kanzlei", "auto", true).await.unwrap();
    let failed = AccountStatus {
        state: AccountState::AuthFailed,
        last_error: Some("NO [AUTHENTICATIONFAILED]".into()),
        failures: 1,
    };
    store.set_account_status("mm", failed.clone()).await.unwrap();
    store.set_account_status("mm", AccountStatus { failures: 2, ..failed }).await.unwrap();
    store.set_account_state("mm", AccountState::Connecting).await.unwrap();
    store.set_account_status("mm", AccountStatus::clean(AccountState::Idle)).await.unwrap();
    // Into the problem once, and back to idle once; the routine states are not news.
    assert_eq!(event_kinds(&store, "mm").await, ["account-state", "account-state"]);
    let row = store.account("mm").await.unwrap().unwrap();
    assert_eq!((row.description.as_str(), row.state, row.last_error), ("Kanzlei", AccountState::Idle, None));
    store.set_account_status("off", AccountStatus::clean(AccountState::Disabled)).await.unwrap();
    store.set_disabled_digest("off", Some("abc")).await.unwrap();
    store.mark_all_stopped().await.unwrap();
    let states: Vec<(String, AccountState, Option<String>)> =
        store.accounts().await.unwrap().into_iter().map(|a| (a.id, a.state, a.disabled_digest)).collect();
    assert_eq!(
        states,
        [
            ("mm".to_owned(), AccountState::Stopped, None),
            ("off".to_owned(), AccountState::Disabled, Some("abc".to_owned()))
        ]
    );
}

async fn events_are_numbered_without_gaps_in_commit_order(store: Store) {
    let inbox = store.replace_listing("a", vec![folder("INBOX", Some(Role::Inbox))]).await.unwrap()[0].id;
    // Writers at the same time: each batch's events are numbered in the order the batches
    // commit, and the feed has no gap.
    let writers: Vec<_> = (0..8u32)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let batch = (0..5).map(|i| message(w * 10 + i + 1, Some(&format!("m{w}-{i}@x")), "x")).collect();
                store.commit_batch("a", inbox, 1, batch, Vec::new()).await.unwrap();
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    let events = store.events(EventQuery { after: 0, limit: 100, accounts: None }).await.unwrap();
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=40).collect::<Vec<_>>());
    assert_eq!(store.last_event_seq().await.unwrap(), 40);
    // A batch's five messages are five consecutive events.
    for chunk in events.chunks(5) {
        let mut writers = Vec::new();
        for e in chunk {
            let id = store.message_id_of(e.message.unwrap()).await.unwrap().unwrap();
            writers.push(id.split('-').next().unwrap().to_owned());
        }
        writers.dedup();
        assert_eq!(writers.len(), 1, "{writers:?}");
    }
    let later = store.events(EventQuery { after: 38, limit: 100, accounts: Some(vec!["a".into()]) }).await.unwrap();
    assert_eq!(later.iter().map(|e| e.seq).collect::<Vec<_>>(), [39, 40]);
    assert!(
        store.events(EventQuery { after: 0, limit: 10, accounts: Some(vec!["b".into()]) }).await.unwrap().is_empty()
    );
}

async fn replies_join_their_parents_thread_whichever_folder_they_are_in(store: Store) {
    store.upsert_account_meta("a", "", "auto", true).await.unwrap();
    let rows =
        store.replace_listing("a", vec![folder("INBOX", Some(Role::Inbox)), folder("Sent", Some(Role::Sent))]).await;
    let rows = rows.unwrap();
    let (inbox, sent) = (
        rows.iter().find(|r| r.folder.name == "INBOX").unwrap().id,
        rows.iter().find(|r| r.folder.name == "Sent").unwrap().id,
    );
    let parent = store.commit_batch("a", inbox, 1, vec![message(1, Some("p@x"), "Angebot")], Vec::new()).await.unwrap();
    let mut reply = message(1, Some("r@x"), "Re: Angebot");
    reply.headers.in_reply_to = Some("p@x".into());
    reply.headers.references = vec!["p@x".into()];
    let reply = store.commit_batch("a", sent, 1, vec![reply], Vec::new()).await.unwrap();
    let (p, r) = (parent.touched[0], reply.touched[0]);
    let inputs = store.route_inputs_of("a", vec![p, r]).await.unwrap();
    assert_eq!(
        inputs.iter().map(|i| (i.folder.as_str(), i.in_reply_to.as_deref())).collect::<Vec<_>>(),
        [("INBOX", None), ("Sent", Some("p@x"))]
    );
    let (candidates, upto) = store.route_candidates("a", "chain", Vec::new()).await.unwrap();
    assert_eq!(candidates, [p, r]);
    store.mark_routed("a", "chain", upto).await.unwrap();
    assert!(store.route_candidates("a", "chain", Vec::new()).await.unwrap().0.is_empty());
    assert_eq!(store.route_candidates("a", "other", vec![r]).await.unwrap().0, [p, r]);
    assert_eq!(store.account_of(r).await.unwrap().as_deref(), Some("a"));
    assert_eq!(store.message_id_of(r).await.unwrap().as_deref(), Some("r@x"));
}

async fn tokens_audit_and_search_work_the_same(store: Store) {
    let token = NewToken {
        id: "tok1".into(),
        hash: "h1".into(),
        user: "mm".into(),
        admin: false,
        scopes: vec!["read".into(), "send".into()],
        accounts: vec!["a".into()],
        expires_at: None,
    };
    store.create_token(token).await.unwrap();
    let found = store.token_by_hash("h1").await.unwrap().unwrap();
    assert_eq!((found.user.as_str(), found.scopes.len(), found.accounts.as_slice()), ("mm", 2, &["a".to_owned()][..]));
    assert!(store.revoke_token("tok1").await.unwrap());
    assert!(store.tokens().await.unwrap()[0].revoked_at.is_some());
    let write = |status| NewAuditEntry {
        user: "mm".into(),
        token: Some("tok1".into()),
        action: "PUT /v1/messages/1/project".into(),
        account: Some("a".into()),
        target: Some("1".into()),
        status,
        detail: None,
    };
    store.record_audit(write(200)).await.unwrap();
    store.record_audit(write(409)).await.unwrap();
    let trail = store.audit(None, 10).await.unwrap();
    assert_eq!(trail.iter().map(|e| e.write.status).collect::<Vec<_>>(), [409, 200], "newest first");

    let inbox = store.replace_listing("a", vec![folder("INBOX", Some(Role::Inbox))]).await.unwrap()[0].id;
    let in_subject = message(1, Some("s@x"), "Angebot Rohbau");
    let mut in_body = message(2, Some("b@x"), "Rückfrage");
    in_body.raw = b"Subject: Rueckfrage\r\n\r\nzum Angebot vom Montag\r\n".to_vec();
    in_body.hash = blake3_hex(&in_body.raw);
    store.commit_batch("a", inbox, 1, vec![in_body, in_subject], Vec::new()).await.unwrap();
    let query = |text: &str, account: Option<&str>| SearchQuery {
        text: text.into(),
        visible: None,
        account: account.map(str::to_owned),
        project: None,
        limit: 10,
    };
    let hits = store.search(query("Angebot", None)).await.unwrap();
    let ids: Vec<Option<&str>> = hits.iter().map(|m| m.message_id.as_deref()).collect();
    assert_eq!(ids, [Some("s@x"), Some("b@x")], "the subject ranks first");
    assert!(store.search(query("Angebot", Some("other"))).await.unwrap().is_empty());
    assert!(store.search(query("Dachdecker", None)).await.unwrap().is_empty());
}

async fn a_header_only_message_gets_its_body_later_and_oauth_grants_are_kept(store: Store) {
    let inbox = store.replace_listing("a", vec![folder("INBOX", Some(Role::Inbox))]).await.unwrap()[0].id;
    let whole = b"Subject: Plan\r\nMessage-ID: <p@x>\r\n\r\nDer Bewehrungsplan liegt bei.\r\n".to_vec();
    let mut head = message(1, Some("p@x"), "Plan");
    head.raw = b"Subject: Plan\r\nMessage-ID: <p@x>\r\n\r\n".to_vec();
    head.hash = blake3_hex(&head.raw);
    head.header_only = Some(whole.len() as u64);
    let id = store.commit_batch("a", inbox, 1, vec![head], Vec::new()).await.unwrap().touched[0];
    assert!(store.body_missing(id).await.unwrap());
    // The body is fetched from a location under the folder's current UIDVALIDITY.
    let at = Checkpoint { uidvalidity: 1, uidnext: Some(2), highestmodseq: None, exists: 1 };
    store.set_checkpoint(inbox, at).await.unwrap();
    let source = store.body_source(id).await.unwrap().unwrap();
    assert_eq!((source.folder.as_str(), source.uid), ("INBOX", 1));
    assert!(matches!(
        store.complete_body(id, b"short".to_vec(), Some("p@x".into())).await,
        Err(BodyError::Mismatch(_))
    ));
    assert!(store.complete_body(id, whole.clone(), Some("p@x".into())).await.unwrap());
    assert!(!store.body_missing(id).await.unwrap());
    assert_eq!(store.raw_message(id).await.unwrap().unwrap(), whole);
    let query = SearchQuery { text: "liegt".into(), limit: 5, ..SearchQuery::default() };
    assert_eq!(store.search(query).await.unwrap().len(), 1, "the body is indexed once it is there");

    let tokens = |access: &str, refresh: Option<&str>| OAuthTokens {
        access_token: access.into(),
        obtained_ms: 1,
        expires_ms: 2,
        refresh_token: refresh.map(str::to_owned),
        seeded_from: None,
    };
    store.save_oauth_tokens("a", tokens("at1", Some("rt1"))).await.unwrap();
    // A refresh without a new refresh token keeps the old one.
    store.save_oauth_tokens("a", tokens("at2", None)).await.unwrap();
    let grant = store.oauth_grant("a").await.unwrap().unwrap();
    assert_eq!((grant.access_token.as_deref(), grant.refresh_token.as_deref()), (Some("at2"), Some("rt1")));
    store.oauth_failed("a", "invalid_grant", true).await.unwrap();
    let grant = store.oauth_grant("a").await.unwrap().unwrap();
    assert_eq!((grant.access_token, grant.last_error.as_deref()), (None, Some("invalid_grant")));
    assert_eq!(store.oauth_grants().await.unwrap().len(), 1);
    assert!(store.forget_oauth("a").await.unwrap());
    assert!(store.oauth_grant("a").await.unwrap().is_none());
}
