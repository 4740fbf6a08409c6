//! Crash safety: kill -9 in the middle of a large initial sync, restart, and the store
//! holds exactly the server's messages: none missing, none twice.

use std::collections::BTreeSet;
use std::time::Duration;

use postfach_test_harness::DovecotConfig;
use postfach_test_harness::mail::numbered;

use crate::support::{Env, account_toml, dovecot};

const USER: &str = "mm@example.de";
const COUNT: usize = 4000;

fn stored(env: &Env) -> i64 {
    let db = env.path().join("data/postfach.sqlite3");
    let Ok(conn) = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY) else {
        return 0;
    };
    conn.query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0)).unwrap_or(0)
}

#[test]
fn kill_9_mid_sync_then_restart_ends_with_exactly_the_servers_messages() {
    let dv = dovecot(DovecotConfig::default(), &[USER]);
    let mut c = dv.client(USER).unwrap();
    c.append_many("INBOX", &numbered(COUNT, 6000)).unwrap();

    let env = Env::new();
    env.write_account("mm", &account_toml(&dv, USER, ""));
    let mut daemon = env.daemon();
    let partial = daemon.wait_for("a partial sync", Duration::from_secs(60), || {
        let n = stored(&env);
        (n > 0).then_some(n)
    });
    daemon.kill9();
    let after_kill = stored(&env);
    assert!(after_kill < COUNT as i64, "the sync finished before the kill ({partial} seen, {after_kill} stored)");

    let daemon = env.daemon();
    daemon.wait_for("complete sync after restart", Duration::from_secs(120), || {
        (env.account("mm")["state"] == "idle" && stored(&env) == COUNT as i64).then_some(())
    });
    let msgs = env.messages("mm");
    let ids: Vec<String> = msgs.iter().map(|m| m["message_id"].as_str().unwrap().to_owned()).collect();
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), COUNT, "messages stored twice");
    assert_eq!(unique.len(), COUNT);
    let expected: BTreeSet<String> = (1..=COUNT).map(|n| format!("msg-{n}@fixture.postfach.test")).collect();
    assert_eq!(unique.into_iter().cloned().collect::<BTreeSet<_>>(), expected);
    let folders = env.json(&["folders", "mm"]);
    assert_eq!(folders[0]["messages"], COUNT as u64, "one location per message");
}
