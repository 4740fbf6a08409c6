//! Writes over the API, applied on the server by the running daemon: flags, moves by
//! name and role, spam and back, delete; manual project assignment that outlives
//! re-routing and dry runs; and bad input that gets a problem document and changes
//! nothing.

use std::time::Duration;

use postfach_test_harness::mail::Mail;
use postfach_test_harness::{Dovecot, DovecotConfig, ImapClient, MailboxSpec};
use reqwest::Method;
use serde_json::json;

use super::client::{Api, token, wait_state};
use crate::support::{Daemon, Env, account_toml, dovecot};

const ANNA: &str = "anna@architekt.test";
const CHAIN: &str = "[routing]\nplugins = [\"subject-tag\"]\n";

fn servers() -> Dovecot {
    let config = DovecotConfig::default()
        .mailbox(MailboxSpec::special("Archiv", "\\Archive"))
        .mailbox(MailboxSpec::special("Spam", "\\Junk"))
        .mailbox(MailboxSpec::special("Papierkorb", "\\Trash"))
        .mailbox(MailboxSpec::new("Kunden"));
    dovecot(config, &[ANNA])
}

fn started(dv: &Dovecot, subjects: &[&str]) -> (Env, Daemon, Api, String) {
    let mut c = dv.client(ANNA).unwrap();
    for (n, s) in subjects.iter().enumerate() {
        c.append("INBOX", &[], None, &Mail::new(n + 1, s).to_bytes()).unwrap();
    }
    c.logout().unwrap();
    let env = Env::new();
    env.write_account("architekt", &account_toml(dv, ANNA, CHAIN));
    let admin = token(&env, &["--user", "root", "--admin"]);
    let daemon = env.daemon();
    let api = Api::of(&env, &daemon);
    wait_state(&api, &daemon, &admin, "architekt", "idle");
    (env, daemon, api, admin)
}

fn local_id(api: &Api, token: &str, subject: &str) -> i64 {
    let page = api.get(token, "/v1/messages").ok();
    page["items"].as_array().unwrap().iter().find(|m| m["subject"] == subject).unwrap()["local_id"].as_i64().unwrap()
}

/// Where a message (by fixture number) is on the server: `(folder, flags)`.
fn on_server(c: &mut ImapClient, n: usize) -> Vec<(String, Vec<String>)> {
    let mut found = Vec::new();
    for folder in ["INBOX", "Archiv", "Spam", "Papierkorb", "Kunden"] {
        c.select(folder).unwrap();
        for uid in c.uid_search(&format!("HEADER Message-ID msg-{n}@fixture.postfach.test")).unwrap() {
            found.push((folder.to_owned(), c.flags(uid).unwrap()));
        }
    }
    found
}

#[test]
fn flags_moves_spam_and_delete_are_applied_on_the_server() {
    let dv = servers();
    let (_env, _daemon, api, admin) = started(&dv, &["Eins", "Zwei", "Drei"]);
    let mut c = dv.client(ANNA).unwrap();
    let one = local_id(&api, &admin, "Eins");
    let done =
        api.send(Method::PATCH, &admin, &format!("/v1/messages/{one}"), &json!({ "seen": true, "flagged": true }));
    assert_eq!(done.status, 200, "{}", String::from_utf8_lossy(&done.body));
    assert_eq!(done.json()["state"], "done");
    let flags = &on_server(&mut c, 1)[0].1;
    assert!(flags.contains(&"\\Seen".to_owned()) && flags.contains(&"\\Flagged".to_owned()), "{flags:?}");
    api.send(Method::PATCH, &admin, &format!("/v1/messages/{one}"), &json!({ "flagged": false })).ok();
    assert!(!on_server(&mut c, 1)[0].1.contains(&"\\Flagged".to_owned()));
    let listed = api.get(&admin, &format!("/v1/messages/{one}")).ok();
    assert!(listed["flags"].as_array().unwrap().contains(&json!("\\Seen")), "the store follows at once: {listed}");
    assert_eq!(api.get(&admin, "/v1/messages?unread=true").ok()["items"].as_array().unwrap().len(), 2);

    let two = local_id(&api, &admin, "Zwei");
    api.post(&admin, &format!("/v1/messages/{two}/move"), &json!({ "role": "archive" })).ok();
    assert_eq!(on_server(&mut c, 2).iter().map(|p| p.0.as_str()).collect::<Vec<_>>(), ["Archiv"]);
    api.post(&admin, &format!("/v1/messages/{two}/move"), &json!({ "folder": "Kunden" })).ok();
    assert_eq!(on_server(&mut c, 2).iter().map(|p| p.0.as_str()).collect::<Vec<_>>(), ["Kunden"]);
    let moved = api.get(&admin, &format!("/v1/messages/{two}")).ok();
    assert_eq!(moved["folder"], "Kunden", "the store knows the new place at once");

    let three = local_id(&api, &admin, "Drei");
    api.post(&admin, &format!("/v1/messages/{three}/spam"), &json!({ "spam": true })).ok();
    assert_eq!(on_server(&mut c, 3).iter().map(|p| p.0.as_str()).collect::<Vec<_>>(), ["Spam"]);
    api.post(&admin, &format!("/v1/messages/{three}/spam"), &json!({ "spam": false })).ok();
    assert_eq!(on_server(&mut c, 3).iter().map(|p| p.0.as_str()).collect::<Vec<_>>(), ["INBOX"]);
    let deleted = api.delete(&admin, &format!("/v1/messages/{three}"));
    assert_eq!(deleted.status, 200, "{}", String::from_utf8_lossy(&deleted.body));
    assert_eq!(on_server(&mut c, 3).iter().map(|p| p.0.as_str()).collect::<Vec<_>>(), ["Papierkorb"]);
    // A refusal by the situation is a 422 with the reason.
    let detail = api.post(&admin, &format!("/v1/messages/{two}/spam"), &json!({ "spam": false })).problem(422);
    assert!(detail.contains("not in the junk folder"), "{detail}");
}

#[test]
fn bad_input_gets_a_problem_document_and_changes_nothing() {
    let dv = servers();
    let (env, _daemon, api, admin) = started(&dv, &["Eins"]);
    let one = local_id(&api, &admin, "Eins");
    let path = format!("/v1/messages/{one}");
    let raw = |method: Method, path: &str, body: &str, content_type: &str| {
        Api::reply(
            api.request(method, path, Some(&admin))
                .header("content-type", content_type)
                .body(body.to_owned())
                .send()
                .unwrap(),
        )
    };
    raw(Method::PATCH, &path, "{\"seen\": tru", "application/json").problem(400);
    raw(Method::PATCH, &path, "{\"seen\": \"yes\"}", "application/json").problem(422);
    raw(Method::PATCH, &path, "{\"seen\": true, \"deleted\": true}", "application/json").problem(422);
    raw(Method::PATCH, &path, "{\"seen\": true}", "text/plain").problem(415);
    api.send(Method::PATCH, &admin, &path, &json!({})).problem(400);
    api.send(Method::PATCH, &admin, "/v1/messages/424242", &json!({ "seen": true })).problem(404);
    api.send(Method::PATCH, &admin, "/v1/messages/abc", &json!({ "seen": true })).problem(400);
    api.post(&admin, &format!("{path}/move"), &json!({ "folder": "Nirgendwo" })).problem(422);
    api.post(&admin, &format!("{path}/move"), &json!({ "role": "keller" })).problem(400);
    api.post(&admin, &format!("{path}/move"), &json!({ "folder": "Kunden", "role": "archive" })).problem(400);
    api.send(Method::PUT, &admin, &format!("{path}/project"), &json!({ "project": 7 })).problem(422);
    api.get(&admin, "/v1/messages?limit=0").problem(400);
    api.get(&admin, "/v1/messages?limit=abc").problem(400);
    api.get(&admin, "/v1/messages?cursor=zzz").problem(400);
    api.get(&admin, "/v1/messages?since=gestern").problem(400);
    api.get(&admin, "/v1/messages?colour=blue").problem(400);
    api.get(&admin, "/v1/nothing-here").problem(404);
    // Nothing was queued, moved or flagged.
    let db = rusqlite::Connection::open(env.path().join("data/postfach.sqlite3")).unwrap();
    let changes: i64 = db.query_row("SELECT COUNT(*) FROM changes", [], |r| r.get(0)).unwrap();
    let manual: i64 = db.query_row("SELECT COUNT(*) FROM manual_assignments", [], |r| r.get(0)).unwrap();
    assert_eq!((changes, manual), (0, 0));
    let mut c = dv.client(ANNA).unwrap();
    let place = on_server(&mut c, 1);
    assert_eq!(place.len(), 1);
    assert_eq!(place[0].0, "INBOX");
    assert!(place[0].1.is_empty(), "{place:?}");
}

#[test]
fn a_manual_project_wins_over_routers_through_reroutes_and_dry_runs() {
    let dv = servers();
    let (env, daemon, api, admin) = started(&dv, &["[P-210-01] Pläne", "[P-210-01] Statik"]);
    let plaene = local_id(&api, &admin, "[P-210-01] Pläne");
    let statik = local_id(&api, &admin, "[P-210-01] Statik");
    let project = |id: i64| api.get(&admin, &format!("/v1/messages/{id}")).ok()["project"].clone();
    daemon.wait_for("the router's assignment", Duration::from_secs(20), || (project(plaene) == "210-01").then_some(()));
    let set =
        api.send(Method::PUT, &admin, &format!("/v1/messages/{plaene}/project"), &json!({ "project": "211-07" })).ok();
    assert_eq!(set["event"], "reassigned");
    let none =
        api.send(Method::PUT, &admin, &format!("/v1/messages/{statik}/project"), &json!({ "project": null })).ok();
    assert_eq!(none["event"], "unrouted");
    let route = api.get(&admin, &format!("/v1/messages/{plaene}/route")).ok();
    assert_eq!((route["project"].as_str(), route["plugin"].as_str()), (Some("211-07"), Some("manual")));
    assert_eq!(route["manual"]["user"], "root");

    // A dry run names the manual decision and proposes nothing else.
    let rows = env.json(&["route", "dry-run", "architekt"]);
    let row = rows.as_array().unwrap().iter().find(|r| r["local_id"] == plaene).unwrap().clone();
    assert_eq!((row["change"].as_str(), row["proposed"].as_str()), (Some("manual"), Some("211-07")));

    // A changed chain re-routes every message: the manual ones keep what a person chose.
    let db = rusqlite::Connection::open(env.path().join("data/postfach.sqlite3")).unwrap();
    let chain_of = |db: &rusqlite::Connection| -> Vec<String> {
        let mut stmt = db.prepare("SELECT DISTINCT chain FROM route_traces").unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    let before = chain_of(&db);
    assert_eq!(before.len(), 1);
    let chain = "[routing]\nplugins = [\"subject-tag\"]\n[routing.options]\n\"subject-tag.pattern\" = \"\\\\[P-(\\\\d{3}-\\\\d{2})\\\\]\"\n";
    env.write_account("architekt", &account_toml(&dv, ANNA, chain));
    daemon.wait_for("a re-route with the new chain", Duration::from_secs(30), || {
        let now = chain_of(&db);
        (now.len() == 1 && now != before).then_some(())
    });
    assert_eq!(project(plaene), "211-07");
    assert_eq!(project(statik), serde_json::Value::Null);
    let explain = env.ok(&["route", "explain", &plaene.to_string()]);
    assert!(explain.contains("manual: project 211-07, set by root"), "{explain}");
    assert!(explain.contains("assigned to 211-07 by manual"), "{explain}");
}

#[test]
fn a_manual_project_must_be_in_the_project_list_when_there_is_one() {
    let dv = servers();
    let mut c = dv.client(ANNA).unwrap();
    c.append("INBOX", &[], None, &Mail::new(1, "Eins").to_bytes()).unwrap();
    let env = Env::new();
    std::fs::write(env.path().join("projects.toml"), "[projects]\n\"210-01\" = \"Wohnanlage\"\n").unwrap();
    let toml = std::fs::read_to_string(env.path().join("postfach.toml")).unwrap();
    std::fs::write(env.path().join("postfach.toml"), format!("projects_file = \"projects.toml\"\n{toml}")).unwrap();
    env.write_account("architekt", &account_toml(&dv, ANNA, ""));
    let admin = token(&env, &["--user", "root", "--admin"]);
    let daemon = env.daemon();
    let api = Api::of(&env, &daemon);
    wait_state(&api, &daemon, &admin, "architekt", "idle");
    let one = local_id(&api, &admin, "Eins");
    let path = format!("/v1/messages/{one}/project");
    let detail = api.send(Method::PUT, &admin, &path, &json!({ "project": "999-99" })).problem(422);
    assert!(detail.contains("project list"), "{detail}");
    assert_eq!(api.send(Method::PUT, &admin, &path, &json!({ "project": "210-01" })).ok()["event"], "routed");
    // The list is re-read on SIGHUP, for the API too.
    std::fs::write(env.path().join("projects.toml"), "[projects]\n\"210-01\" = \"W\"\n\"999-99\" = \"Neu\"\n").unwrap();
    daemon.signal("HUP");
    daemon.wait_for("the new project list", Duration::from_secs(20), || {
        let r = api.send(Method::PUT, &admin, &path, &json!({ "project": "999-99" }));
        (r.status == 200).then_some(())
    });
}
