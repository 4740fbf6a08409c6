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

/// Dovecot's `delay-newmail` workaround (as some providers behave): new mail is announced
/// only in answer to NOOP and CHECK, never during IDLE. The IDLE renewal
/// (`idle_renew_secs`) is where the daemon looks again, so mail still arrives.
#[test]
fn d08_delayed_new_mail_notifications() {
    let config = DovecotConfig::default().settings("imap_client_workarounds = delay-newmail");
    let (dv, proxy, mut c) = three_messages_behind_a_relay(config, None, USER);
    let env = Env::new();
    env.write_account(
        "mm",
        &account_toml_via(&dv, USER, proxy.port, "[sync]\ninterval_secs = 3600\nidle_renew_secs = 10\n"),
    );
    let daemon = env.daemon();
    daemon.wait_for("the first pass", WAIT, || (env.messages("mm").len() == 3).then_some(()));
    daemon.wait_for("IDLE", WAIT, || crate::support::idle_connections(&proxy).ge(&1).then_some(()));
    let sent = std::time::Instant::now();
    c.append("INBOX", &[], None, &Mail::new(4, "Nachricht 4").to_bytes()).unwrap();
    daemon.wait_for("the new message", WAIT, || message_by_subject(&env, "mm", "Nachricht 4"));
    assert!(sent.elapsed() < WAIT);
    record(
        "D8",
        "new mail arrives; a server that stays silent during IDLE is asked again at each renewal (idle_renew_secs)",
    );
}

/// The Sent copy's APPEND refused for quota (`NO [OVERQUOTA]`): the message goes out once,
/// the outbox says why the copy is missing in the server's words, and the copy is made
/// once space is freed.
#[test]
fn d11_over_quota_append_of_the_sent_copy() {
    const BOB: &str = "bob@kanzlei.test";
    let config = DovecotConfig::default().mailbox(MailboxSpec::special("Gesendet", "\\Sent")).settings(
        "mail_plugins = $mail_plugins quota\nplugin {\n  quota = maildir:User quota\n  quota_rule = *:storage=3M\n}",
    );
    let dv = crate::support::dovecot(config, &[USER, BOB]);
    let pf = postfach_test_harness::Postfix::start(&dv).unwrap();
    // 2.5 MB of Anna's 3 MB are taken.
    let filler =
        Mail::new(9, "Großer Plan").body(&"Lageplan Baufeld Nord, Blatt 3 von 7.\r\n".repeat(68_000)).to_bytes();
    dv.client(USER).unwrap().append("INBOX", &[], None, &filler).unwrap();
    let env = Env::new();
    let smtp = format!(
        "[smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"starttls\"\nretry_initial_secs = 1\nretry_max_secs = 2\n",
        pf.submission_port
    );
    env.write_account("mm", &crate::support::account_toml(&dv, USER, &smtp));
    let daemon = env.daemon();
    daemon.wait_for("idle", WAIT, || (env.account("mm")["state"] == "idle").then_some(()));
    let attach = env.path().join("plan.pdf");
    std::fs::write(&attach, (0..600 * 1024).map(|i| (i % 251) as u8).collect::<Vec<u8>>()).unwrap();
    let out = env.run(&[
        "send",
        "mm",
        "--to",
        BOB,
        "--subject",
        "Pläne",
        "--body",
        "Anbei.",
        "--attach",
        &attach.display().to_string(),
        "--json",
    ]);
    let sent: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = sent["id"].as_i64().unwrap();
    let entry = || env.json(&["outbox"]).as_array().unwrap().iter().find(|e| e["id"] == id).cloned().unwrap();
    let copy = daemon.wait_for("the refused copy", WAIT, || {
        let e = entry();
        (e["state"] == "sent")
            .then(|| e["copy"].as_str().map(str::to_owned))
            .flatten()
            .filter(|c| c.starts_with("error:"))
    });
    assert!(copy.contains("OVERQUOTA") || copy.contains("Quota exceeded"), "{copy}");
    let message_id = sent["message_id"].as_str().unwrap().to_owned();
    let count = |user: &str, folder: &str| {
        let mut c = dv.client(user).unwrap();
        c.select(folder).unwrap();
        c.uid_search(&format!("HEADER Message-ID {message_id}")).unwrap().len()
    };
    daemon.wait_for("delivery to Bob", WAIT, || (count(BOB, "INBOX") == 1).then_some(()));
    // Space is freed: the copy is made, once.
    let mut c = dv.client(USER).unwrap();
    c.select("INBOX").unwrap();
    c.uid_store("1:*", "+FLAGS (\\Deleted)").unwrap();
    c.expunge().unwrap();
    daemon.wait_for("the copy", WAIT, || (count(USER, "Gesendet") == 1).then_some(()));
    assert_eq!(count(BOB, "INBOX"), 1);
    record("D11", &format!("sent once; the outbox said \"{}\"; the copy made once space was freed", steady(&copy)));
}

/// A message Dovecot cannot read (its maildir file replaced by a directory, as a damaged
/// file system would leave it) with `imap_fetch_failure = no-after`: the other messages
/// come, then a tagged NO. The rest of the folder is stored, the broken message is named
/// in the status with Dovecot's words, and it is fetched once it can be read again.
#[test]
fn d10_fetch_failures() {
    let config = DovecotConfig::default().settings("imap_fetch_failure = no-after");
    let (dv, _proxy, _c) = three_messages_behind_a_relay(config, None, USER);
    let maildir = dv.dir().join("mail").join(USER).join("Maildir");
    let file = ["cur", "new"]
        .iter()
        .flat_map(|d| std::fs::read_dir(maildir.join(d)).unwrap().flatten())
        .map(|e| e.path())
        .find(|p| std::fs::read(p).is_ok_and(|b| String::from_utf8_lossy(&b).contains("msg-2@fixture.postfach.test")))
        .expect("the maildir file of message 2");
    let content = std::fs::read(&file).unwrap();
    std::fs::remove_file(&file).unwrap();
    // Not empty, or Dovecot removes it as an unwanted directory (and the message with it).
    std::fs::create_dir(&file).unwrap();
    std::fs::write(file.join("kaputt"), b"x").unwrap();
    let env = Env::new();
    env.write_account("mm", &crate::support::account_toml(&dv, USER, ""));
    let out = env.run(&["sync", "mm", "--once"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(env.subjects("mm", None), ["Nachricht 1", "Nachricht 3"]);
    let note = env.account("mm")["last_error"].as_str().unwrap_or_default().to_owned();
    assert!(note.contains("INBOX: 1 message not fetched (UID 2: "), "{note}");
    assert!(note.contains("tried again at the next pass"), "{note}");
    // Dovecot may have moved the entry from new/ to cur/ (and added flags to its name).
    let base = file.file_name().unwrap().to_string_lossy().split(':').next().unwrap().to_owned();
    let now = ["cur", "new"]
        .iter()
        .flat_map(|d| std::fs::read_dir(maildir.join(d)).unwrap().flatten())
        .map(|e| e.path())
        .find(|p| p.is_dir() && p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&base)))
        .unwrap_or_else(|| {
            let listing: Vec<String> = walk(&maildir);
            panic!("the directory standing for message 2 ({base}) is gone:\n{}\n{}", listing.join("\n"), dv.full_log())
        });
    std::fs::remove_dir_all(&now).unwrap();
    std::fs::write(&now, &content).unwrap();
    env.ok(&["sync", "mm", "--once"]);
    assert_eq!(env.subjects("mm", None), ["Nachricht 1", "Nachricht 2", "Nachricht 3"]);
    let words =
        steady(note.split("UID 2: ").nth(1).unwrap_or_default().split("); tried again").next().unwrap_or_default());
    record(
        "D10",
        &format!(
            "the rest stored; the broken message named (\"{words}\"), never asked for twice in a session, fetched once readable"
        ),
    );
}

/// A connection cap below what the account would use (`mail_max_userip_connections = 2`:
/// another client and the main session, so neither watcher of the two `idle_folders`
/// fits — a cap Dovecot enforces exactly only for logins that do not race each other):
/// the refused watchers are not retried in a loop, the account says which folders are
/// not watched and why, and mail in every folder still arrives (by the full passes).
#[test]
fn d09_connection_cap_below_what_the_account_would_use() {
    // The test's own client and the main session.
    let config = DovecotConfig::default()
        .mailbox(MailboxSpec::new("ProjektA"))
        .mailbox(MailboxSpec::new("ProjektB"))
        .settings("mail_max_userip_connections = 2");
    let (dv, proxy, mut c) = three_messages_behind_a_relay(config, None, USER);
    let env = Env::new();
    let sync = "[sync]\ninterval_secs = 4\nidle_folders = [\"Projekt*\"]\n";
    env.write_account("mm", &account_toml_via(&dv, USER, proxy.port, sync));
    let daemon = env.daemon();
    let note = daemon.wait_for("the note", WAIT, || {
        let a = env.account("mm");
        let note = a["last_error"].as_str().unwrap_or_default().to_owned();
        (a["state"] == "idle" && note.contains("2 of 2 folders not watched")).then_some(note)
    });
    assert!(note.contains("idle_folders: 2 of 2 folders not watched, the server allows no more connections"), "{note}");
    assert!(note.contains("Maximum number of connections"), "the server's words are missing: {note}");
    for (n, folder) in [(4, "INBOX"), (5, "ProjektA"), (6, "ProjektB")] {
        c.append(folder, &[], None, &Mail::new(n, &format!("Nachricht {n}")).to_bytes()).unwrap();
    }
    for n in 4..=6 {
        let subject = format!("Nachricht {n}");
        daemon.wait_for(&subject, WAIT, || message_by_subject(&env, "mm", &subject));
    }
    let refusals = dv.full_log().matches("Maximum number of connections").count();
    assert_eq!(refusals, 2, "a refused watcher was tried again");
    record(
        "D9",
        "the refused watchers are not retried; the account names the folders not watched with the server's words; mail in all three folders arrives by the full passes",
    );
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        out.push(p.display().to_string());
        if p.is_dir() {
            out.extend(walk(&p));
        }
    }
    out
}

/// The server's words without what changes from run to run (Dovecot's timing and time
/// stamps, a literal's length), so `CONFORMANCE.md` only changes when behaviour does.
fn steady(text: &str) -> String {
    let mut t = text.trim();
    for cut in [" Refer to server log", " (0."] {
        if let Some(at) = t.find(cut) {
            t = &t[..at];
        }
    }
    let mut out = String::new();
    let mut rest = t;
    while let Some(open) = rest.find('{') {
        match rest[open..].find('}').map(|c| open + c) {
            Some(close) if close > open + 1 && rest[open + 1..close].chars().all(|c| c.is_ascii_digit()) => {
                out.push_str(&rest[..open]);
                out.push_str("{…}");
                rest = &rest[close + 1..];
            }
            _ => {
                out.push_str(&rest[..=open]);
                rest = &rest[open + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}
