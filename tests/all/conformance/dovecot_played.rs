//! The cases real Dovecot plays by configuration: each capability taken away on its own,
//! delayed new-mail notifications, a connection cap below what the account would use,
//! FETCH failures and an over-quota APPEND of the Sent copy. Each runs the daemon the way
//! an admin would and checks the end state on both sides.

use std::time::Duration;

use postfach_test_harness::mail::Mail;
use postfach_test_harness::{DovecotConfig, MailboxSpec};

use super::table::record;
use crate::support::{Env, account_toml_via, caps_without, flags, message_by_subject, three_messages_behind_a_relay};

const USER: &str = "mm@muster-architekten.de";
const WAIT: Duration = Duration::from_secs(30);

/// The whole round with the capabilities `drop` missing: the first pass, another client's
/// flag, expunge and new mail arriving while the daemon runs, and `spam` moving a message
/// to Junk on the server; none of `never_sent` may appear in what the daemon sent.
/// Returns what it used instead.
fn round_without(drop: &[&str], never_sent: &[&str]) -> String {
    let config = DovecotConfig::default()
        .mailbox(MailboxSpec::special("Spam", "\\Junk"))
        .mailbox(MailboxSpec::special("Papierkorb", "\\Trash"));
    let caps = caps_without(drop);
    let (dv, proxy, mut c) = three_messages_behind_a_relay(config, Some(&caps), USER);
    let env = Env::new();
    env.write_account("mm", &account_toml_via(&dv, USER, proxy.port, "[sync]\ninterval_secs = 1\n"));
    let daemon = env.daemon();
    daemon.wait_for("the first pass", WAIT, || (env.messages("mm").len() == 3).then_some(()));

    c.select("INBOX").unwrap();
    let uid = |c: &mut postfach_test_harness::ImapClient, n: u32| {
        c.uid_search(&format!("HEADER Message-ID msg-{n}@fixture.postfach.test")).unwrap()[0]
    };
    let (uid1, uid2) = (uid(&mut c, 1), uid(&mut c, 2));
    c.uid_store(&uid1.to_string(), "+FLAGS (\\Flagged)").unwrap();
    c.uid_store(&uid2.to_string(), "+FLAGS (\\Deleted)").unwrap();
    c.command(&format!("UID EXPUNGE {uid2}")).unwrap();
    c.append("INBOX", &[], None, &Mail::new(4, "Nachricht 4").to_bytes()).unwrap();
    daemon.wait_for("the other client's changes", WAIT, || {
        let flagged =
            message_by_subject(&env, "mm", "Nachricht 1").is_some_and(|m| flags(&m).contains(&"\\Flagged".to_owned()));
        let gone = message_by_subject(&env, "mm", "Nachricht 2").is_some_and(|m| m["on_server"] == false);
        let new = message_by_subject(&env, "mm", "Nachricht 4").is_some();
        (flagged && gone && new).then_some(())
    });

    let three = message_by_subject(&env, "mm", "Nachricht 3").unwrap();
    env.ok(&["spam", &three["local_id"].as_i64().unwrap().to_string()]);
    let mut check = dv.client(USER).unwrap();
    daemon.wait_for("the message in Spam on the server", WAIT, || {
        check.select("Spam").unwrap();
        (!check.uid_search("HEADER Message-ID msg-3@fixture.postfach.test").unwrap().is_empty()).then_some(())
    });
    check.select("INBOX").unwrap();
    let left = check.uid_search("HEADER Message-ID msg-3@fixture.postfach.test NOT DELETED").unwrap();
    assert!(left.is_empty(), "still in INBOX without \\Deleted");
    daemon.wait_for("the store following the move", WAIT, || {
        message_by_subject(&env, "mm", "Nachricht 3").filter(|m| m["folder"] == "Spam")
    });
    let wire = proxy.client_text();
    for word in never_sent {
        assert!(!wire.contains(word), "`{word}` was sent to a server without {drop:?}");
    }
    let mut used = Vec::new();
    for (marker, what) in [
        ("UID MOVE", "UID MOVE"),
        ("UID COPY", "UID COPY + STORE \\Deleted"),
        ("UID EXPUNGE", "UID EXPUNGE"),
        ("CHANGEDSINCE", "CHANGEDSINCE"),
        ("VANISHED", "VANISHED"),
        ("IDLE", "IDLE"),
    ] {
        if wire.contains(marker) && !used.contains(&what) {
            used.push(what);
        }
    }
    format!("flags, expunge, new mail and a move to Spam in step on both sides; used {}", used.join(", "))
}

#[test]
fn d01_without_condstore() {
    record("D1", &round_without(&["CONDSTORE", "QRESYNC"], &["CHANGEDSINCE", "ENABLE", "MODSEQ"]));
}

#[test]
fn d02_without_qresync() {
    record("D2", &round_without(&["QRESYNC"], &["QRESYNC", "VANISHED"]));
}

#[test]
fn d03_without_move() {
    let result = round_without(&["MOVE"], &["UID MOVE"]);
    assert!(result.contains("UID COPY"), "{result}");
    record("D3", &result);
}

#[test]
fn d04_without_idle() {
    record("D4", &round_without(&["IDLE"], &[" IDLE"]));
}

#[test]
fn d05_without_id() {
    record("D5", &round_without(&["ID"], &[" ID ("]));
}

#[test]
fn d06_without_special_use() {
    record("D6", &round_without(&["SPECIAL-USE"], &["SPECIAL-USE"]));
}

#[test]
fn d07_without_uidplus() {
    // Without MOVE either, so the fallback has to leave the source marked \Deleted.
    record("D7", &round_without(&["UIDPLUS", "MOVE"], &["UID EXPUNGE", "UID MOVE"]));
}

/// Gmail: every message is also in All Mail (archived mail only there), and X-GM-THRID
/// names the conversation. Dovecot holds the folders; the harness's Gmail relay adds
/// `X-GM-EXT-1` and the thread ids.
#[test]
fn q26_gmail_all_mail_and_thread_ids() {
    use std::sync::Arc;
    const ALL: &str = "[Google Mail]/Alle Nachrichten";
    let dv = crate::support::dovecot(DovecotConfig::default().mailbox(MailboxSpec::special(ALL, "\\All")), &[USER]);
    let mut c = dv.client(USER).unwrap();
    let mails: Vec<Vec<u8>> = (1..=4).map(|n| Mail::new(n, &format!("Nachricht {n}")).to_bytes()).collect();
    for m in &mails[..3] {
        c.append("INBOX", &[], None, m).unwrap();
    }
    // All Mail: the three inbox messages and one archived message, in the same order.
    for m in &mails {
        c.append(ALL, &[], None, m).unwrap();
    }
    let gmail = postfach_test_harness::GmailProxy::start(
        ([127, 0, 0, 1], dv.imap_port).into(),
        Arc::new(|uid| if uid == 2 { 0x2222 } else { 0x1111 }),
    )
    .unwrap();
    let env = Env::new();
    let file = format!("provider = \"gmail\"\n{}", account_toml_via(&dv, USER, gmail.port, ""));
    env.write_account("mm", &file);
    env.ok(&["sync", "--once"]);
    env.ok(&["sync", "--once"]);
    let messages = env.messages("mm");
    assert_eq!(messages.len(), 4, "{messages:#?}");
    for m in &messages {
        let folders = m["folders"].as_array().unwrap();
        let want = if m["subject"] == "Nachricht 4" { 1 } else { 2 };
        assert_eq!(folders.len(), want, "{m}");
    }
    let db = rusqlite::Connection::open(env.path().join("data/postfach.sqlite3")).unwrap();
    let thread = |n: u32| -> String {
        db.query_row(
            "SELECT thread_id FROM messages WHERE message_id = ?1",
            [format!("msg-{n}@fixture.postfach.test")],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!([thread(1), thread(2), thread(3), thread(4)], ["g1111", "g2222", "g1111", "g1111"]);
    let all = env.json(&["folders", "mm"]);
    let role = all.as_array().unwrap().iter().find(|f| f["name"] == ALL).map(|f| f["role"].clone());
    assert_eq!(role, Some(serde_json::json!("all")));
    record(
        "Q26",
        "each message stored once with its INBOX and All Mail locations; archived mail too; X-GM-THRID as thread id",
    );
}
