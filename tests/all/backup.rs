//! Backup and restore of the store (issue 18): a consistent copy of the live store taken
//! while the daemon syncs, restored into a new config dir message for message, the
//! refusal to restore under a running daemon, and a damaged backup refused before it
//! touches anything.

use std::path::Path;
use std::time::Duration;

use postfach_test_harness::DovecotConfig;
use postfach_test_harness::mail::Mail;
use serde_json::Value;

use crate::support::{Env, account_toml, dovecot};

const USER: &str = "mm@muster-architekten.de";
const WAIT: Duration = Duration::from_secs(120);
const MESSAGES: usize = 1500;

fn db(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()
}

fn count(path: &Path, table: &str) -> i64 {
    db(path).query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0)).unwrap()
}

/// Rows of a query as strings, in order.
fn rows(path: &Path, query: &str) -> Vec<String> {
    let conn = db(path);
    let mut stmt = conn.prepare(query).unwrap();
    let n = stmt.column_count();
    stmt.query_map([], |r| Ok((0..n).map(|i| format!("{:?}", r.get_ref(i).unwrap())).collect::<Vec<_>>().join("|")))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

const MESSAGE_ROWS: &str = "SELECT id, account, identity, blob, size FROM messages ORDER BY id";
const BLOB_ROWS: &str = "SELECT hash, size, length(data) FROM blobs ORDER BY hash";
const EVENT_ROWS: &str = "SELECT seq, at, account, kind, message, detail FROM events ORDER BY seq";

fn json(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_backup_taken_during_an_initial_sync_is_one_moment_of_the_store_and_restores_message_for_message() {
    let dv = dovecot(DovecotConfig::default(), &[USER]);
    let mails: Vec<Vec<u8>> = (1..=MESSAGES)
        .map(|n| Mail::new(n, &format!("Nachricht {n}")).body(&"Baubesprechung. ".repeat(200)).to_bytes())
        .collect();
    dv.seed_inbox(USER, &mails).unwrap();
    let env = Env::new();
    env.write_account("mm", &account_toml(&dv, USER, ""));
    let store = env.path().join("data/postfach.sqlite3");
    let mut daemon = env.daemon();
    daemon.wait_for("the sync under way", WAIT, || (store.exists() && count(&store, "messages") >= 200).then_some(()));
    let file = env.path().join("mitten-im-sync.sqlite3");
    let report = json(&env.run(&["backup", "--to", &file.display().to_string(), "--json"]));
    let taken = report["messages"].as_u64().unwrap();
    assert!(taken >= 200, "{report}");
    assert!(!env.path().join("mitten-im-sync.sqlite3-wal").exists(), "the backup is not one file");
    daemon.wait_for("every message", WAIT, || (count(&store, "messages") == MESSAGES as i64).then_some(()));
    assert!(daemon.stop(), "the daemon did not stop cleanly");

    // One moment of the live store: its messages and events are a prefix of what the
    // store holds now, each message with its source.
    let (then, now) = (rows(&file, MESSAGE_ROWS), rows(&store, MESSAGE_ROWS));
    assert_eq!(then.len() as u64, taken);
    assert!(then.len() < now.len(), "the backup was not taken during the sync");
    assert_eq!(then[..], now[..then.len()]);
    let (events_then, events_now) = (rows(&file, EVENT_ROWS), rows(&store, EVENT_ROWS));
    assert_eq!(events_then[..], events_now[..events_then.len()]);
    assert_eq!(report["events"].as_u64().unwrap(), events_then.len() as u64);

    // Restored into a new config dir: the same messages, sources and events.
    let restored_env = Env::new();
    restored_env.write_account("mm", &account_toml(&dv, USER, ""));
    let restored = json(&restored_env.run(&["restore", "--from", &file.display().to_string(), "--json"]));
    assert_eq!(restored["messages"], report["messages"]);
    let target = restored_env.path().join("data/postfach.sqlite3");
    assert_eq!(rows(&target, MESSAGE_ROWS), then);
    assert_eq!(rows(&target, BLOB_ROWS), rows(&file, BLOB_ROWS));
    assert_eq!(rows(&target, EVENT_ROWS), events_then);
    assert_eq!(restored_env.messages("mm").len() as u64, taken);
    // The restored store goes on where the backup stopped: the rest is fetched, nothing twice.
    let daemon = restored_env.daemon();
    daemon.wait_for("the rest", WAIT, || (count(&target, "messages") == MESSAGES as i64).then_some(()));
    let ids: std::collections::HashSet<String> = rows(&target, "SELECT message_id FROM messages").into_iter().collect();
    assert_eq!(ids.len(), MESSAGES);
}

#[test]
fn restore_refuses_under_a_running_daemon_and_a_damaged_backup_touches_nothing() {
    let dv = dovecot(DovecotConfig::default(), &[USER]);
    let mut c = dv.client(USER).unwrap();
    for n in 1..=3 {
        c.append("INBOX", &[], None, &Mail::new(n, &format!("Nachricht {n}")).to_bytes()).unwrap();
    }
    let env = Env::new();
    env.write_account("mm", &account_toml(&dv, USER, ""));
    let mut daemon = env.daemon();
    daemon.wait_for("the first pass", WAIT, || (env.messages("mm").len() == 3).then_some(()));
    let file = env.path().join("sicherung.sqlite3");
    let path = file.display().to_string();
    json(&env.run(&["backup", "--to", &path, "--json"]));
    // A second backup to the same name is refused: nothing is overwritten.
    let again = env.run(&["backup", "--to", &path]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"), "{again:?}");

    let out = env.run(&["restore", "--from", &path]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("a daemon is running"), "{out:?}");
    assert!(daemon.stop());

    // A damaged copy is refused before the store is touched.
    let damaged = env.path().join("kaputt.sqlite3");
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&damaged, &bytes).unwrap();
    let out = env.run(&["restore", "--from", &damaged.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(stderr.contains("kaputt.sqlite3:"), "{stderr}");
    assert_eq!(env.messages("mm").len(), 3, "the store was touched");

    // The good one: the old store is kept aside.
    let out = env.run(&["restore", "--from", &path]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(said.contains("3 messages"), "{said}");
    let aside = said.split("kept as ").nth(1).unwrap().trim().to_owned();
    assert!(Path::new(&aside).exists(), "{aside}");
    assert_eq!(env.messages("mm").len(), 3);
}
