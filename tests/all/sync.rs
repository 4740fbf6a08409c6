//! IMAP → store sync against a real Dovecot: initial and incremental sync, folder names
//! with umlauts and `&`, the `INBOX.` dot layout, the sync window, UIDVALIDITY resets.

use postfach_test_harness::mail::{Mail, numbered};
use postfach_test_harness::{DovecotConfig, Layout};
use serde_json::Value;

use crate::support::{Env, account_toml, dovecot};

const USER: &str = "mm@example.de";

fn folder<'a>(folders: &'a Value, name: &str) -> &'a Value {
    folders
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no folder {name} in {folders:#}"))
}

#[test]
fn initial_then_incremental_sync_fetches_only_new_mail() {
    let dv = dovecot(DovecotConfig::default(), &[USER]);
    let mut c = dv.client(USER).unwrap();
    c.create("Entw&APw-rfe").unwrap();
    c.append_many("INBOX", &numbered(5, 2000)).unwrap();
    c.append("Entw&APw-rfe", &["\\Draft"], None, &Mail::new(100, "Entwurf A").to_bytes()).unwrap();
    c.append("Entw&APw-rfe", &[], None, &Mail::new(101, "Entwurf B").to_bytes()).unwrap();

    let env = Env::new();
    env.write_account("mm", &account_toml(&dv, USER, ""));
    let out = env.ok(&["sync", "--once"]);
    assert!(out.contains("mm: 7 new"), "{out}");
    assert_eq!(env.messages("mm").len(), 7);
    assert_eq!(env.subjects("mm", Some("Entwürfe")), ["Entwurf A", "Entwurf B"]);

    // A message's stored fields come from its headers and the server.
    let msgs = env.json(&["messages", "mm", "--folder", "Entwürfe"]);
    let a = msgs.as_array().unwrap().iter().find(|m| m["subject"] == "Entwurf A").unwrap();
    assert_eq!(a["message_id"], "msg-100@fixture.postfach.test");
    assert_eq!(a["from"], "Anna Architektin <anna@example.de>");
    assert_eq!(a["flags"], serde_json::json!(["\\Draft"]));
    assert_eq!(a["on_server"], true);
    assert_eq!(a["date"], "2026-11-23T08:00:00Z");

    // The raw bytes are stored exactly as the server has them.
    let sel = c.select("INBOX").unwrap();
    assert_eq!(sel.exists, 5);

    // Nothing new: nothing fetched.
    let out = env.ok(&["sync", "--once"]);
    assert!(out.contains("mm: 0 new"), "{out}");

    // Three more arrive; only those are fetched.
    c.append_many("INBOX", &(6..=8).map(|n| Mail::new(n, &format!("Nachricht {n}")).to_bytes()).collect::<Vec<_>>())
        .unwrap();
    let json = env.json(&["sync", "--once"]);
    assert_eq!(json[0]["new_messages"], 3, "{json:#}");
    assert_eq!(env.messages("mm").len(), 10);

    let folders = env.json(&["folders", "mm"]);
    assert_eq!(folder(&folders, "INBOX")["messages"], 8);
    assert_eq!(folder(&folders, "INBOX")["role"], "inbox");
    assert_eq!(folder(&folders, "Entwürfe")["messages"], 2);
}

#[test]
fn stored_bytes_equal_the_servers() {
    let dv = dovecot(DovecotConfig::default(), &[USER]);
    let mut c = dv.client(USER).unwrap();
    let original = Mail::new(1, "Grüße aus Süd – Übergabe").size(50_000).to_bytes();
    c.append("INBOX", &[], None, &original).unwrap();
    let env = Env::new();
    env.write_account("mm", &account_toml(&dv, USER, ""));
    env.ok(&["sync", "--once"]);
    let msgs = env.messages("mm");
    assert_eq!(msgs[0]["subject"], "Grüße aus Süd – Übergabe");
    let id = msgs[0]["local_id"].as_i64().unwrap();
    let store = postfach::store::Store::open(&env.path().join("data/postfach.sqlite3")).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let raw = runtime.block_on(store.raw_message(postfach::model::MessageId(id))).unwrap().unwrap();
    assert_eq!(raw, original);
}

#[test]
fn umlaut_and_ampersand_folder_names_round_trip() {
    let dv = dovecot(DovecotConfig::default(), &[USER]);
    let mut c = dv.client(USER).unwrap();
    for raw in ["M&APw-ller &- S&APY-hne", "ProjektPro", "ProjektPro/211-07 Schule S&APw-d", "Gel&APY-scht"] {
        c.create(raw).unwrap();
    }
    c.append("M&APw-ller &- S&APY-hne", &[], None, &Mail::new(1, "Angebot").to_bytes()).unwrap();
    c.append("ProjektPro/211-07 Schule S&APw-d", &[], None, &Mail::new(2, "Bauantrag").to_bytes()).unwrap();

    let env = Env::new();
    env.write_account("mm", &account_toml(&dv, USER, ""));
    let folders = env.json(&["folders", "mm", "--refresh"]);
    let m = folder(&folders, "Müller & Söhne");
    assert_eq!(m["raw"], "M&APw-ller &- S&APY-hne");
    assert_eq!(m["path"], serde_json::json!(["Müller & Söhne"]));
    let p = folder(&folders, "ProjektPro/211-07 Schule Süd");
    assert_eq!(p["raw"], "ProjektPro/211-07 Schule S&APw-d");
    assert_eq!(p["path"], serde_json::json!(["ProjektPro", "211-07 Schule Süd"]));
    assert_eq!(p["delimiter"], "/");
    assert_eq!(folder(&folders, "Gelöscht")["raw"], "Gel&APY-scht");

    // Syncing SELECTs the folders by their encoded names: the round trip back to the wire.
    env.ok(&["sync", "--once"]);
    assert_eq!(env.subjects("mm", Some("Müller & Söhne")), ["Angebot"]);
    assert_eq!(env.subjects("mm", Some("ProjektPro/211-07 Schule Süd")), ["Bauantrag"]);
}

#[test]
fn dot_separated_inbox_prefix_server() {
    let dv = dovecot(DovecotConfig::default().layout(Layout::InboxDot), &[USER]);
    let mut c = dv.client(USER).unwrap();
    for raw in
        ["INBOX.Entw&APw-rfe", "INBOX.Gesendet", "INBOX.ProjektPro", "INBOX.ProjektPro.210-01 Musterprojekt Wohnanlage"]
    {
        c.create(raw).unwrap();
    }
    c.append("INBOX", &[], None, &Mail::new(1, "Posteingang").to_bytes()).unwrap();
    c.append("INBOX.Gesendet", &[], None, &Mail::new(2, "Gesendet").to_bytes()).unwrap();
    c.append("INBOX.ProjektPro.210-01 Musterprojekt Wohnanlage", &[], None, &Mail::new(3, "Wohnanlage").to_bytes())
        .unwrap();

    let env = Env::new();
    // Role overrides and sync patterns are written without the INBOX. prefix.
    env.write_account(
        "dot",
        &account_toml(
            &dv,
            USER,
            "[folders]\nsent = \"Gesendet\"\nsync = [\"INBOX\", \"Gesendet\", \"ProjektPro.*\"]\n",
        ),
    );
    let folders = env.json(&["folders", "dot", "--refresh"]);
    let drafts = folder(&folders, "INBOX.Entwürfe");
    assert_eq!(drafts["raw"], "INBOX.Entw&APw-rfe");
    assert_eq!(drafts["path"], serde_json::json!(["Entwürfe"]));
    assert_eq!(drafts["delimiter"], ".");
    let project = folder(&folders, "INBOX.ProjektPro.210-01 Musterprojekt Wohnanlage");
    assert_eq!(project["path"], serde_json::json!(["ProjektPro", "210-01 Musterprojekt Wohnanlage"]));
    let sent = folder(&folders, "INBOX.Gesendet");
    assert_eq!(sent["role"], "sent");
    assert_eq!(sent["role_source"], "config");
    assert_eq!(folder(&folders, "INBOX")["path"], serde_json::json!(["INBOX"]));

    env.ok(&["sync", "--once"]);
    assert_eq!(env.subjects("dot", None), ["Gesendet", "Posteingang", "Wohnanlage"]);
    assert_eq!(env.subjects("dot", Some("INBOX.ProjektPro.210-01 Musterprojekt Wohnanlage")), ["Wohnanlage"]);
    // Nothing was created with a doubled prefix.
    let names: Vec<String> = c.list().unwrap().into_iter().map(|l| l.raw).collect();
    assert!(!names.iter().any(|n| n.starts_with("INBOX.INBOX")), "{names:?}");
}

#[test]
fn sync_window_limits_what_is_fetched() {
    let dv = dovecot(DovecotConfig::default(), &[USER]);
    let mut c = dv.client(USER).unwrap();
    let old = (chrono::Utc::now() - chrono::Days::new(100)).format("\"%d-%b-%Y %H:%M:%S +0000\"").to_string();
    for n in 1..=3 {
        c.append("INBOX", &[], Some(&old), &Mail::new(n, &format!("Alt {n}")).to_bytes()).unwrap();
    }
    for n in 4..=5 {
        c.append("INBOX", &[], None, &Mail::new(n, &format!("Neu {n}")).to_bytes()).unwrap();
    }
    let env = Env::new();
    env.write_account("mm", &account_toml(&dv, USER, "[sync]\nwindow_days = 30\n"));
    env.ok(&["sync", "--once"]);
    assert_eq!(env.subjects("mm", None), ["Neu 4", "Neu 5"]);

    // Widening the window fetches the older mail too, without duplicates.
    env.write_account("mm", &account_toml(&dv, USER, "[sync]\nwindow_days = 365\n"));
    env.ok(&["sync", "--once"]);
    assert_eq!(env.subjects("mm", None), ["Alt 1", "Alt 2", "Alt 3", "Neu 4", "Neu 5"]);
}

#[test]
fn uidvalidity_reset_relinks_instead_of_duplicating() {
    let dv = dovecot(DovecotConfig::default(), &[USER]);
    let mut c = dv.client(USER).unwrap();
    let mut mails: Vec<Vec<u8>> = (1..=4).map(|n| Mail::new(n, &format!("Nachricht {n}")).to_bytes()).collect();
    // One message without a Message-ID: re-linked by its content hash.
    mails.push(Mail::new(5, "Ohne Message-ID").message_id(None).to_bytes());
    c.append_many("INBOX", &mails).unwrap();

    let env = Env::new();
    env.write_account("mm", &account_toml(&dv, USER, ""));
    env.ok(&["sync", "--once"]);
    let before: Vec<(i64, String)> = env
        .messages("mm")
        .iter()
        .map(|m| (m["local_id"].as_i64().unwrap(), m["subject"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(before.len(), 5);
    let old_validity = env.json(&["folders", "mm"])[0]["uidvalidity"].as_u64().unwrap();

    // One message disappears, then the server renumbers the folder.
    c.select("INBOX").unwrap();
    c.uid_store("2", "+FLAGS (\\Deleted)").unwrap();
    c.expunge().unwrap();
    dv.set_uidvalidity(USER, "INBOX", 777).unwrap();

    let json = env.json(&["sync", "--once"]);
    assert_eq!(json[0]["new_messages"], 0, "{json:#}");
    assert_eq!(json[0]["relinked"], 4, "{json:#}");
    assert_eq!(json[0]["removed"], 1, "{json:#}");
    let after = env.messages("mm");
    assert_eq!(after.len(), 5, "nothing duplicated, nothing dropped from the store");
    for (id, subject) in &before {
        let m = after.iter().find(|m| m["local_id"] == *id).unwrap();
        assert_eq!(m["subject"], subject.as_str());
        assert_eq!(m["on_server"], subject != "Nachricht 2", "{m:#}");
    }
    let inbox = &env.json(&["folders", "mm"])[0];
    assert_eq!(inbox["uidvalidity"], 777);
    assert_ne!(old_validity, 777);
    assert_eq!(inbox["messages"], 4);

    // A second pass after the reset changes nothing.
    let json = env.json(&["sync", "--once"]);
    assert_eq!((json[0]["new_messages"].as_u64(), json[0]["relinked"].as_u64()), (Some(0), Some(0)));
}

#[test]
fn copies_and_moves_link_the_same_message() {
    let dv = dovecot(DovecotConfig::default(), &[USER]);
    let mut c = dv.client(USER).unwrap();
    c.create("Archiv").unwrap();
    c.append("INBOX", &[], None, &Mail::new(1, "Vertrag").size(20_000).to_bytes()).unwrap();
    let env = Env::new();
    env.write_account("mm", &account_toml(&dv, USER, ""));
    env.ok(&["sync", "--once"]);

    c.select("INBOX").unwrap();
    c.uid_copy("1", "Archiv").unwrap();
    let json = env.json(&["sync", "--once"]);
    assert_eq!(json[0]["new_messages"], 0);
    assert_eq!(json[0]["linked"], 1);
    assert_eq!(json[0]["bytes"], 0, "a known message is linked, not downloaded again");
    let msgs = env.messages("mm");
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["folders"], serde_json::json!(["INBOX", "Archiv"]));
}

#[test]
fn mail_deleted_by_another_client_is_kept_and_marked_gone_once() {
    let dv = dovecot(DovecotConfig::default(), &[USER]);
    let mut c = dv.client(USER).unwrap();
    c.append_many("INBOX", &numbered(3, 500)).unwrap();
    let env = Env::new();
    env.write_account("mm", &account_toml(&dv, USER, ""));
    env.ok(&["sync", "--once"]);
    c.select("INBOX").unwrap();
    c.uid_store("2", "+FLAGS (\\Deleted)").unwrap();
    c.expunge().unwrap();
    let json = env.json(&["sync", "--once"]);
    assert_eq!(json[0]["removed"], 1, "{json:#}");
    let msgs = env.messages("mm");
    assert_eq!(msgs.len(), 3, "the store keeps it");
    let gone = msgs.iter().find(|m| m["subject"] == "Nachricht 2").unwrap();
    assert_eq!(gone["on_server"], false);
    assert_eq!(gone["folders"], serde_json::json!([]));
    let db = rusqlite::Connection::open(env.path().join("data/postfach.sqlite3")).unwrap();
    let removed: i64 = db.query_row("SELECT COUNT(*) FROM events WHERE kind = 'removed'", [], |r| r.get(0)).unwrap();
    env.ok(&["sync", "--once"]);
    let again: i64 = db.query_row("SELECT COUNT(*) FROM events WHERE kind = 'removed'", [], |r| r.get(0)).unwrap();
    assert_eq!((removed, again), (1, 1));
}

/// Listing mistakes get answers: an unknown folder is named with the known ones, and an
/// unknown account's "known:" list includes removed accounts whose mail is still listed.
#[test]
fn unknown_folders_and_accounts_are_explained() {
    let dv = dovecot(DovecotConfig::default(), &[USER]);
    dv.client(USER).unwrap().append("INBOX", &[], None, &Mail::new(1, "Hallo").to_bytes()).unwrap();
    let env = Env::new();
    env.write_account("mm", &account_toml(&dv, USER, ""));
    env.write_account("alt", &account_toml(&dv, USER, ""));
    env.ok(&["sync", "--once"]);
    let out = env.run(&["messages", "mm", "--folder", "Gibtsnicht"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("account `mm` has no folder `Gibtsnicht` (known: INBOX"), "{stderr}");
    env.remove_account("alt");
    assert_eq!(env.messages("alt").len(), 1, "a removed account's mail stays listable");
    let out = env.run(&["messages", "nosuch"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("known: alt (removed), mm"), "{stderr}");
}
