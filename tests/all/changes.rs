//! Two-way changes against real Dovecot: flags from other clients into the store (with
//! QRESYNC, with CONDSTORE only, with neither), `mark`, `delete` and `spam` onto the
//! server, MOVE and its fallback, and creating missing system folders.

use std::time::Duration;

use postfach_test_harness::mail::Mail;
use postfach_test_harness::{Dovecot, DovecotConfig, Layout, MailboxSpec, RecordingProxy};
use serde_json::Value;

use crate::support::{
    Env, account_toml, account_toml_via, caps_without, dovecot, flags, message_by_subject,
    three_messages_behind_a_relay,
};

const USER: &str = "mm@muster-architekten.de";
const WAIT: Duration = Duration::from_secs(15);

fn with_system_folders() -> DovecotConfig {
    DovecotConfig::default()
        .mailbox(MailboxSpec::special("Papierkorb", "\\Trash"))
        .mailbox(MailboxSpec::special("Spam", "\\Junk"))
}

/// The server's flags of the message with this Message-ID in `folder`.
fn server_flags(dv: &Dovecot, folder: &str, message_id: &str) -> Vec<String> {
    let mut c = dv.client(USER).unwrap();
    c.select(folder).unwrap();
    let uid = c.uid_search(&format!("HEADER Message-ID {message_id}")).unwrap()[0];
    c.flags(uid).unwrap()
}

fn count_in(dv: &Dovecot, folder: &str, message_id: &str) -> usize {
    let mut c = dv.client(USER).unwrap();
    c.select(folder).unwrap();
    c.uid_search(&format!("HEADER Message-ID {message_id}")).unwrap().len()
}

/// Flags set by another client show up in the store while the daemon runs; `mark` sets
/// flags on the server while that client changes other flags of the same message.
fn flags_both_ways(caps: Option<&str>, expect_on_wire: &[&str], never_on_wire: &[&str]) {
    let (dv, proxy, mut c) = three_messages_behind_a_relay(DovecotConfig::default(), caps, USER);
    let env = Env::new();
    env.write_account("mm", &account_toml_via(&dv, USER, proxy.port, "[sync]\ninterval_secs = 2\n"));
    let daemon = env.daemon();
    daemon.wait_for("the first pass", WAIT, || (env.messages("mm").len() == 3).then_some(()));

    // Another client flags message 1 and deletes message 3.
    c.select("INBOX").unwrap();
    let uid1 = c.uid_search("HEADER Message-ID msg-1@fixture.postfach.test").unwrap()[0];
    let uid3 = c.uid_search("HEADER Message-ID msg-3@fixture.postfach.test").unwrap()[0];
    c.uid_store(&uid1.to_string(), "+FLAGS (\\Flagged)").unwrap();
    c.uid_store(&uid3.to_string(), "+FLAGS (\\Deleted)").unwrap();
    c.command(&format!("UID EXPUNGE {uid3}")).unwrap();
    daemon.wait_for("the flag in the store", WAIT, || {
        message_by_subject(&env, "mm", "Nachricht 1").filter(|m| flags(m).contains(&"\\Flagged".to_owned()))
    });
    let gone = daemon.wait_for("the expunge in the store", WAIT, || {
        message_by_subject(&env, "mm", "Nachricht 3").filter(|m| m["on_server"] == false)
    });
    assert_eq!(gone["subject"], "Nachricht 3", "the store keeps it");

    // `mark --read` while the other client sets a keyword on the same message.
    let id = message_by_subject(&env, "mm", "Nachricht 1").unwrap()["local_id"].as_i64().unwrap().to_string();
    let other = std::thread::spawn(move || {
        c.uid_store(&uid1.to_string(), "+FLAGS ($Projekt)").unwrap();
        c
    });
    let out = env.ok(&["mark", &id, "--read"]);
    assert!(out.contains("+\\Seen in INBOX"), "{out}");
    let _c = other.join().unwrap();
    let on_server = server_flags(&dv, "INBOX", "msg-1@fixture.postfach.test");
    for f in ["\\Seen", "\\Flagged", "$Projekt"] {
        assert!(on_server.iter().any(|s| s == f), "{f} missing on the server: {on_server:?}");
    }
    daemon.wait_for("all three flags in the store", WAIT, || {
        let f = flags(&message_by_subject(&env, "mm", "Nachricht 1")?);
        ["\\Seen", "\\Flagged", "$Projekt"].iter().all(|x| f.iter().any(|s| s == x)).then_some(())
    });
    env.ok(&["mark", &id, "--unread", "--unflag"]);
    let on_server = server_flags(&dv, "INBOX", "msg-1@fixture.postfach.test");
    assert!(!on_server.iter().any(|s| s == "\\Seen" || s == "\\Flagged"), "{on_server:?}");
    assert!(on_server.iter().any(|s| s == "$Projekt"), "other flags stay: {on_server:?}");

    let wire = proxy.client_text();
    for w in expect_on_wire {
        assert!(wire.contains(w), "{w:?} not on the wire");
    }
    for w in never_on_wire {
        assert!(!wire.contains(w), "{w:?} on the wire");
    }
}

#[test]
fn flags_both_ways_with_qresync() {
    flags_both_ways(None, &["ENABLE QRESYNC", "(CHANGEDSINCE ", " VANISHED)", "UID STORE"], &[]);
}

#[test]
fn flags_both_ways_with_condstore_only() {
    let caps = caps_without(&["QRESYNC"]);
    flags_both_ways(Some(&caps), &["ENABLE CONDSTORE", "(CHANGEDSINCE "], &["VANISHED"]);
}

#[test]
fn flags_both_ways_without_condstore() {
    let caps = caps_without(&["QRESYNC", "CONDSTORE"]);
    flags_both_ways(Some(&caps), &["UID FETCH 1:* (UID FLAGS)"], &["CHANGEDSINCE", "ENABLE"]);
}

#[test]
fn delete_goes_to_the_trash_then_for_good() {
    let dv = dovecot(with_system_folders(), &[USER]);
    dv.client(USER).unwrap().append("INBOX", &[], None, &Mail::new(1, "Alte Rechnung").to_bytes()).unwrap();
    let env = Env::new();
    env.write_account("mm", &account_toml(&dv, USER, ""));
    env.ok(&["sync", "--once"]);
    let id = message_by_subject(&env, "mm", "Alte Rechnung").unwrap()["local_id"].as_i64().unwrap().to_string();
    let out = env.ok(&["delete", &id]);
    assert!(out.contains("moved from INBOX to Papierkorb"), "{out}");
    assert_eq!(count_in(&dv, "INBOX", "msg-1@fixture.postfach.test"), 0);
    assert_eq!(count_in(&dv, "Papierkorb", "msg-1@fixture.postfach.test"), 1);
    env.ok(&["sync", "--once"]);
    let m = message_by_subject(&env, "mm", "Alte Rechnung").unwrap();
    assert_eq!(m["folder"], "Papierkorb", "the same message, found in the trash: {m}");
    assert_eq!(m["local_id"].as_i64().unwrap().to_string(), id);
    // Deleting from the trash removes it from the server; the store keeps it.
    let out = env.ok(&["delete", &id]);
    assert!(out.contains("deleted from Papierkorb"), "{out}");
    assert_eq!(count_in(&dv, "Papierkorb", "msg-1@fixture.postfach.test"), 0);
    env.ok(&["sync", "--once"]);
    let m = message_by_subject(&env, "mm", "Alte Rechnung").unwrap();
    assert_eq!(m["on_server"], false);
    // Nothing left on the server to change.
    let out = env.run(&["mark", &id, "--read"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no longer on the server"));
}

#[test]
fn spam_and_back_with_the_move_fallback() {
    // A server without MOVE: COPY, \Deleted and UID EXPUNGE of exactly that UID.
    let dv = dovecot(with_system_folders().capability(&caps_without(&["MOVE"])), &[USER]);
    let proxy = RecordingProxy::start(([127, 0, 0, 1], dv.imap_port).into()).unwrap();
    let mut c = dv.client(USER).unwrap();
    c.append("INBOX", &[], None, &Mail::new(1, "Gewinnspiel").to_bytes()).unwrap();
    c.append("INBOX", &[], None, &Mail::new(2, "Bleibt").to_bytes()).unwrap();
    // Another client marked message 2 \Deleted without expunging: it must survive.
    c.select("INBOX").unwrap();
    let uid2 = c.uid_search("HEADER Message-ID msg-2@fixture.postfach.test").unwrap()[0];
    c.uid_store(&uid2.to_string(), "+FLAGS (\\Deleted)").unwrap();
    let env = Env::new();
    env.write_account("mm", &account_toml_via(&dv, USER, proxy.port, ""));
    env.ok(&["sync", "--once"]);
    let id = message_by_subject(&env, "mm", "Gewinnspiel").unwrap()["local_id"].as_i64().unwrap().to_string();
    let out = env.ok(&["spam", &id]);
    assert!(out.contains("moved from INBOX to Spam"), "{out}");
    assert_eq!(count_in(&dv, "INBOX", "msg-1@fixture.postfach.test"), 0);
    assert_eq!(count_in(&dv, "Spam", "msg-1@fixture.postfach.test"), 1);
    assert_eq!(count_in(&dv, "INBOX", "msg-2@fixture.postfach.test"), 1, "a bare EXPUNGE would have removed it");
    let wire = proxy.client_text();
    assert!(wire.contains("UID COPY") && wire.contains("UID EXPUNGE"), "{wire}");
    assert!(!wire.contains("UID MOVE"));
    assert!(!wire.lines().any(|l| l.split_whitespace().nth(1) == Some("EXPUNGE")), "a bare EXPUNGE was sent");

    // Not spam after all: back to the inbox.
    env.ok(&["sync", "--once"]);
    assert_eq!(message_by_subject(&env, "mm", "Gewinnspiel").unwrap()["folder"], "Spam");
    let out = env.ok(&["spam", &id, "--not-spam"]);
    assert!(out.contains("moved from Spam to INBOX"), "{out}");
    assert_eq!(count_in(&dv, "INBOX", "msg-1@fixture.postfach.test"), 1);
    assert_eq!(count_in(&dv, "Spam", "msg-1@fixture.postfach.test"), 0);
    env.ok(&["sync", "--once"]);
    let m = message_by_subject(&env, "mm", "Gewinnspiel").unwrap();
    assert_eq!((m["folder"].as_str(), m["local_id"].as_i64().unwrap().to_string()), (Some("INBOX"), id));
    let out = env.run(&["spam", &m["local_id"].to_string(), "--not-spam"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not in the junk folder"));
}

#[test]
fn changes_made_while_the_daemon_runs_are_applied_by_it() {
    let dv = dovecot(with_system_folders(), &[USER]);
    dv.client(USER).unwrap().append("INBOX", &[], None, &Mail::new(1, "Werbung").to_bytes()).unwrap();
    let env = Env::new();
    env.write_account("mm", &account_toml(&dv, USER, "[sync]\ninterval_secs = 3600\n"));
    let daemon = env.daemon();
    daemon.wait_for("the first pass", WAIT, || (env.account("mm")["state"] == "idle").then_some(()));
    let id = message_by_subject(&env, "mm", "Werbung").unwrap()["local_id"].as_i64().unwrap().to_string();
    let r: Value = serde_json::from_str(&env.ok(&["spam", &id, "--json"])).unwrap();
    assert_eq!(r["state"], "done", "{r}");
    assert_eq!(count_in(&dv, "Spam", "msg-1@fixture.postfach.test"), 1);
    assert!(daemon.log().contains("local change applied on the server"), "the daemon did it:\n{}", daemon.log());
}

#[test]
fn missing_system_folders_are_created_on_a_dot_separated_server() {
    let dv = dovecot(DovecotConfig::default().layout(Layout::InboxDot), &[USER]);
    let env = Env::new();
    env.write_account("mm", &account_toml(&dv, USER, ""));
    let folders = env.json(&["folders", "mm", "--refresh"]);
    assert!(folders.as_array().unwrap().iter().all(|f| f["role"].is_null() || f["role"] == "inbox"), "{folders}");
    let out = env.run(&["folders", "mm", "--create-missing", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("created INBOX.Gesendet (sent)"), "{stderr}");
    let folders: Value = serde_json::from_slice(&out.stdout).unwrap();
    let role = |r: &str| folders.as_array().unwrap().iter().find(|f| f["role"] == r).map(|f| f["name"].clone());
    assert_eq!(role("sent"), Some("INBOX.Gesendet".into()));
    assert_eq!(role("drafts"), Some("INBOX.Entwürfe".into()));
    assert_eq!(role("trash"), Some("INBOX.Papierkorb".into()));
    assert_eq!(role("junk"), Some("INBOX.Spam".into()));
    assert_eq!(role("archive"), Some("INBOX.Archiv".into()));
    let raw = folders.as_array().unwrap().iter().find(|f| f["name"] == "INBOX.Entwürfe").unwrap()["raw"].clone();
    assert_eq!(raw, "INBOX.Entw&APw-rfe");
    // Nothing to do the second time.
    let out = env.run(&["folders", "mm", "--create-missing"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("every system folder exists already"));
}

#[test]
fn created_folders_take_the_providers_names() {
    // iCloud's names on an iCloud-shaped server; Gmail creates nothing (it makes its own).
    let dv = dovecot(DovecotConfig::default(), &["max@icloud.com", "max@gmail.com"]);
    let env = Env::new();
    env.write_account(
        "icloud",
        &account_toml(&dv, "max@icloud.com", "").replace("[identity]", "provider = \"icloud\"\n\n[identity]"),
    );
    let out = env.run(&["folders", "icloud", "--create-missing", "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for line in
        ["Sent Messages (sent)", "Drafts (drafts)", "Deleted Messages (trash)", "Junk (junk)", "Archive (archive)"]
    {
        assert!(stderr.contains(&format!("created {line}")), "{line}: {stderr}");
    }
    let folders: Value = serde_json::from_slice(&out.stdout).unwrap();
    let trash = folders.as_array().unwrap().iter().find(|f| f["role"] == "trash").unwrap();
    assert_eq!((trash["name"].as_str(), trash["role_source"].as_str()), (Some("Deleted Messages"), Some("adapter")));

    env.write_account(
        "gmail",
        &account_toml(&dv, "max@gmail.com", "").replace("[identity]", "provider = \"gmail\"\n\n[identity]"),
    );
    let out = env.run(&["folders", "gmail", "--create-missing"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not created: sent, drafts, trash, junk, archive"), "{stderr}");
    assert!(!stderr.contains("created "), "{stderr}");
}

#[test]
fn an_adapter_built_for_plugin_api_0_1_keeps_working() {
    let dv = dovecot(DovecotConfig::default().mailbox(MailboxSpec::new("Ablage")), &[USER]);
    let env = Env::new();
    std::fs::copy(crate::support::test_plugin("legacy-adapter"), env.plugin_dir().join("legacy.wasm")).unwrap();
    env.write_account("mm", &account_toml(&dv, USER, "").replace("[identity]", "provider = \"legacy\"\n\n[identity]"));
    let plugins = env.json(&["plugins"]);
    let legacy = plugins.as_array().unwrap().iter().find(|p| p["id"] == "legacy").unwrap();
    assert_eq!((legacy["state"].as_str(), legacy["api_version"].as_str()), (Some("ok"), Some("0.1.0")), "{legacy}");
    let bundled = plugins.as_array().unwrap().iter().find(|p| p["id"] == "generic").unwrap();
    assert_eq!(bundled["api_version"], "0.3.0");
    // Its role table works; folder names it cannot give (0.1 has no `folder-names`), so the
    // host's German names are used.
    let out = env.run(&["folders", "mm", "--create-missing", "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("created Gesendet (sent)"), "{stderr}");
    assert!(!stderr.contains("(archive)"), "Ablage is the archive already: {stderr}");
    let folders: Value = serde_json::from_slice(&out.stdout).unwrap();
    let archive = folders.as_array().unwrap().iter().find(|f| f["role"] == "archive").unwrap();
    assert_eq!((archive["name"].as_str(), archive["role_source"].as_str()), (Some("Ablage"), Some("adapter")));
}

/// `delete` and `spam` know the message's new folder at once (no pass in between), so a
/// second `delete` empties it from the trash and `spam --not-spam` undoes `spam`; the
/// delete for good records `removed`. Without a daemon, then with one running.
#[test]
fn moved_mail_is_found_in_its_new_folder_at_once() {
    let dv = dovecot(with_system_folders(), &[USER]);
    let mut c = dv.client(USER).unwrap();
    for n in 1..=2 {
        c.append("INBOX", &[], None, &Mail::new(n, &format!("Post {n}")).to_bytes()).unwrap();
    }
    let env = Env::new();
    env.write_account("mm", &account_toml(&dv, USER, "[sync]\ninterval_secs = 3600\n"));
    env.ok(&["sync", "--once"]);
    let id_of = |s: &str| message_by_subject(&env, "mm", s).unwrap()["local_id"].as_i64().unwrap();
    let (one, two) = (id_of("Post 1"), id_of("Post 2"));

    let check = |id: i64, daemon: Option<&crate::support::Daemon>| {
        let id_s = id.to_string();
        let subject = format!("Post {}", if id == one { 1 } else { 2 });
        let where_is = || message_by_subject(&env, "mm", &subject).unwrap();
        assert!(env.ok(&["spam", &id_s]).contains("moved from INBOX to Spam"));
        let m = where_is();
        assert_eq!((m["folder"].as_str(), &m["on_server"]), (Some("Spam"), &Value::Bool(true)), "{m}");
        assert!(env.ok(&["spam", &id_s, "--not-spam"]).contains("moved from Spam to INBOX"));
        assert_eq!(where_is()["folder"], "INBOX");
        assert!(env.ok(&["delete", &id_s]).contains("moved from INBOX to Papierkorb"));
        assert_eq!(where_is()["folder"], "Papierkorb");
        assert!(env.ok(&["delete", &id_s]).contains("deleted from Papierkorb"));
        let m = where_is();
        assert_eq!(m["on_server"], false, "{m}");
        assert_eq!(m["local_id"].as_i64(), Some(id), "the store keeps the same message");
        let removed = crate::support::events(&env, "mm").iter().filter(|(k, m)| k == "removed" && *m == id).count();
        assert_eq!(removed, 1, "exactly one removed event");
        if let Some(d) = daemon {
            assert!(d.log().contains("local change applied on the server"), "the daemon applied them");
        }
    };
    check(one, None);
    assert_eq!(count_in(&dv, "Papierkorb", "msg-1@fixture.postfach.test"), 0);
    let daemon = env.daemon();
    daemon.wait_for("the first pass", WAIT, || (env.account("mm")["state"] == "idle").then_some(()));
    check(two, Some(&daemon));
    assert_eq!(count_in(&dv, "INBOX", "msg-2@fixture.postfach.test"), 0);
    // A later full pass agrees with what the moves recorded: nothing duplicated.
    drop(daemon);
    env.ok(&["sync", "--once"]);
    assert_eq!(env.messages("mm").len(), 2);
}
