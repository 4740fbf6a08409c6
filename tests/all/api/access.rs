//! Tokens and access rules: who sees which account (owner, `visible_to` directly and via
//! a group, group accounts, admins, account-bound tokens), scopes, 401/403/404, revoking,
//! tokens stored only as hashes, and the audit trail of writes.

use postfach_test_harness::mail::Mail;
use postfach_test_harness::{Dovecot, DovecotConfig};
use reqwest::Method;
use serde_json::{Value, json};

use super::client::{Api, token, users, wait_state};
use crate::support::{Daemon, Env, account_toml, dovecot};

const ANNA: &str = "anna@architekt.test";
const BOB: &str = "bob@kanzlei.test";
const CARL: &str = "carl@privat.test";

/// Tokens of the access matrix.
pub struct Tokens {
    pub admin: String,
    pub mm: String,
    pub mm_read: String,
    pub ab: String,
    pub cd: String,
    pub ef: String,
    pub bound: String,
}

/// Three accounts with one message each: `architekt` (owner mm, visible to group bau,
/// sent as by mm), `kanzlei` (a group account of group buero), `privat` (no [access]).
pub fn matrix() -> (Dovecot, Env, Daemon, Api, Tokens) {
    let dv = dovecot(DovecotConfig::default(), &[ANNA, BOB, CARL]);
    for (n, (user, subject)) in
        [(ANNA, "Post für architekt"), (BOB, "Post für kanzlei"), (CARL, "Post für privat")].into_iter().enumerate()
    {
        let mut c = dv.client(user).unwrap();
        let mail = Mail::new(n + 1, subject).body(&format!("Inhalt {subject} Zauberwort-{}", &user[..3]));
        c.append("INBOX", &[], None, &mail.to_bytes()).unwrap();
        c.logout().unwrap();
    }
    let env = Env::new();
    users(&env, "mm = { groups = [] }\nab = { groups = [\"bau\", \"buero\"] }\ncd = {}\nef = {}\n");
    env.write_account(
        "architekt",
        &account_toml(
            &dv,
            ANNA,
            "[access]\nowner = \"mm\"\nvisible_to = [\"group:bau\", \"ef\"]\nsend_as = [\"mm\"]\n\
             [routing]\nplugins = [\"subject-tag\"]\n",
        ),
    );
    env.write_account(
        "kanzlei",
        &account_toml(&dv, BOB, "[access]\nkind = \"group\"\nowner = \"group:buero\"\nsend_as = [\"group:buero\"]\n"),
    );
    env.write_account("privat", &account_toml(&dv, CARL, ""));
    let tokens = Tokens {
        admin: token(&env, &["--user", "root", "--admin"]),
        mm: token(&env, &["--user", "mm", "--scope", "read", "--scope", "write", "--scope", "send"]),
        mm_read: token(&env, &["--user", "mm"]),
        ab: token(&env, &["--user", "ab", "--scope", "read", "--scope", "send"]),
        cd: token(&env, &["--user", "cd"]),
        ef: token(&env, &["--user", "ef", "--scope", "read", "--scope", "send"]),
        bound: token(&env, &["--user", "root", "--admin", "--account", "architekt"]),
    };
    let daemon = env.daemon();
    let api = Api::of(&env, &daemon);
    for account in ["architekt", "kanzlei", "privat"] {
        wait_state(&api, &daemon, &tokens.admin, account, "idle");
    }
    (dv, env, daemon, api, tokens)
}

fn ids(list: &Value) -> Vec<String> {
    let mut ids: Vec<String> = list.as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    ids
}

/// The local id of an account's message, as the admin sees it.
fn message_of(api: &Api, admin: &str, account: &str) -> i64 {
    let page = api.get(admin, &format!("/v1/messages?account={account}")).ok();
    page["items"][0]["local_id"].as_i64().unwrap()
}

#[test]
fn each_user_sees_exactly_the_accounts_access_grants() {
    let (_dv, _env, _daemon, api, t) = matrix();
    assert_eq!(ids(&api.get(&t.admin, "/v1/accounts").ok()), ["architekt", "kanzlei", "privat"]);
    assert_eq!(ids(&api.get(&t.mm, "/v1/accounts").ok()), ["architekt"], "the owner");
    assert_eq!(ids(&api.get(&t.ab, "/v1/accounts").ok()), ["architekt", "kanzlei"], "via groups bau and buero");
    assert_eq!(ids(&api.get(&t.cd, "/v1/accounts").ok()), Vec::<String>::new(), "no access anywhere");
    assert_eq!(ids(&api.get(&t.ef, "/v1/accounts").ok()), ["architekt"], "named directly in visible_to");
    assert_eq!(ids(&api.get(&t.bound, "/v1/accounts").ok()), ["architekt"], "an account-bound admin token");

    let kanzlei = message_of(&api, &t.admin, "kanzlei");
    let privat = message_of(&api, &t.admin, "privat");
    // Invisible things are 404, exactly like things that do not exist.
    let hidden = api.get(&t.mm, &format!("/v1/messages/{kanzlei}"));
    hidden.problem(404);
    let missing = api.get(&t.mm, "/v1/messages/999999");
    missing.problem(404);
    assert_eq!(api.get(&t.ab, &format!("/v1/messages/{kanzlei}")).ok()["subject"], "Post für kanzlei");
    api.get(&t.ab, &format!("/v1/messages/{privat}")).problem(404);
    api.get(&t.bound, &format!("/v1/messages/{privat}")).problem(404);
    assert_eq!(api.get(&t.admin, &format!("/v1/messages/{privat}")).ok()["subject"], "Post für privat");
    api.get(&t.mm, "/v1/accounts/kanzlei").problem(404);
    api.get(&t.mm, "/v1/accounts/kanzlei/folders").problem(404);
    api.get(&t.mm, "/v1/messages?account=kanzlei").problem(404);
    api.get(&t.mm, &format!("/v1/messages/{kanzlei}/raw")).problem(404);
    api.get(&t.mm, &format!("/v1/messages/{kanzlei}/route")).problem(404);

    // Lists, search, projects and the event feed are filtered the same way.
    let subjects = |token: &str, path: &str| -> Vec<String> {
        let mut s: Vec<String> = api.get(token, path).ok()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["subject"].as_str().unwrap_or("").to_owned())
            .collect();
        s.sort();
        s
    };
    assert_eq!(subjects(&t.mm, "/v1/messages"), ["Post für architekt"]);
    assert_eq!(subjects(&t.ab, "/v1/messages"), ["Post für architekt", "Post für kanzlei"]);
    assert_eq!(subjects(&t.cd, "/v1/messages"), Vec::<String>::new());
    assert_eq!(subjects(&t.mm, "/v1/search?q=Inhalt"), ["Post für architekt"]);
    assert_eq!(subjects(&t.ab, "/v1/search?q=Zauberwort-bob"), ["Post für kanzlei"]);
    assert_eq!(subjects(&t.mm, "/v1/search?q=Zauberwort-bob"), Vec::<String>::new());
    let accounts_in_feed = |token: &str| -> Vec<String> {
        let mut a: Vec<String> = api.get(token, "/v1/events?limit=1000").ok()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["account"].as_str().unwrap().to_owned())
            .collect();
        a.sort();
        a.dedup();
        a
    };
    assert_eq!(accounts_in_feed(&t.mm), ["architekt"]);
    assert_eq!(accounts_in_feed(&t.admin), ["architekt", "kanzlei", "privat"]);
}

#[test]
fn tokens_need_the_right_scope_and_send_as_for_sending() {
    let (_dv, _env, _daemon, api, t) = matrix();
    // No token, a wrong token: 401.
    assert_eq!(api.get_anon("/v1/health").ok()["status"], "ok");
    api.get_anon("/v1/accounts").problem(401);
    api.get("pf_not-a-token", "/v1/accounts").problem(401);
    let architekt = message_of(&api, &t.admin, "architekt");
    // A read-only token may not write.
    let patch = json!({ "seen": true });
    let detail = api.send(Method::PATCH, &t.mm_read, &format!("/v1/messages/{architekt}"), &patch).problem(403);
    assert!(detail.contains("write"), "{detail}");
    // Metrics need their own scope (or admin).
    api.get(&t.mm, "/metrics").problem(403);
    // ab sees architekt but is not in its send_as: 403; kanzlei is theirs via the group.
    let mail = |account: &str| json!({ "account": account, "to": ["x@example.test"], "subject": "Hallo", "text": "Hi", "draft": true });
    let detail = api.post(&t.ab, "/v1/send", &mail("architekt")).problem(403);
    assert!(detail.contains("send_as"), "{detail}");
    api.post(&t.ef, "/v1/send", &mail("architekt")).problem(403);
    api.post(&t.mm_read, "/v1/send", &mail("architekt")).problem(403);
    // An account the user cannot see is 404 even for sending.
    api.post(&t.mm, "/v1/send", &mail("kanzlei")).problem(404);
    let queued = api.post(&t.ab, "/v1/send", &mail("kanzlei"));
    assert_eq!(queued.status, 202, "{}", String::from_utf8_lossy(&queued.body));
    assert!(queued.json()["outbox_id"].is_i64());
    let queued = api.post(&t.mm, "/v1/send", &mail("architekt"));
    assert_eq!(queued.status, 202, "{}", String::from_utf8_lossy(&queued.body));
    // The outbox is filtered by visibility too.
    let outbox: Vec<String> = api
        .get(&t.mm, "/v1/outbox")
        .ok()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["account"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(outbox, ["architekt"]);
}

#[test]
fn tokens_are_stored_hashed_record_their_use_and_can_be_revoked() {
    let (_dv, env, daemon, api, t) = matrix();
    api.get(&t.cd, "/v1/accounts").ok();
    let db = std::fs::read(env.path().join("data/postfach.sqlite3")).unwrap();
    let wal = std::fs::read(env.path().join("data/postfach.sqlite3-wal")).unwrap_or_default();
    for secret in [&t.admin, &t.mm, &t.cd] {
        let needle = secret.as_bytes();
        assert!(!db.windows(needle.len()).any(|w| w == needle), "a token is in the store in plain text");
        assert!(!wal.windows(needle.len()).any(|w| w == needle), "a token is in the WAL in plain text");
    }
    // The use is recorded off the request's path, a moment later.
    let (list, cd) = daemon.wait_for("cd's last use recorded", std::time::Duration::from_secs(10), || {
        let list = env.json(&["token", "list"]);
        let cd = list.as_array().unwrap().iter().find(|t| t["user"] == "cd").unwrap().clone();
        cd["last_used_at"].is_string().then_some((list, cd))
    });
    assert_eq!(cd["scopes"], json!(["read"]));
    assert!(!list.to_string().contains("pf_"), "token list must not show secrets: {list}");
    let id = cd["id"].as_str().unwrap();
    env.ok(&["token", "revoke", id]);
    let detail = api.get(&t.cd, "/v1/accounts").problem(401);
    assert!(detail.contains("revoked"), "{detail}");
    // Unknown users, scopes and accounts are refused with a clear message.
    let out = env.run(&["token", "create", "--user", "zz"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("[users]"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = env.run(&["token", "create", "--user", "mm", "--scope", "everything"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown scope"));
    let out = env.run(&["token", "create", "--user", "mm", "--account", "nirgendwo"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no account `nirgendwo`"));
}

#[test]
fn every_write_is_audited_and_only_admins_read_the_audit() {
    let (_dv, env, daemon, api, t) = matrix();
    let architekt = message_of(&api, &t.admin, "architekt");
    let set =
        api.send(Method::PUT, &t.mm, &format!("/v1/messages/{architekt}/project"), &json!({ "project": "210-01" }));
    set.ok();
    // A refused write is audited too.
    api.send(Method::PATCH, &t.mm_read, &format!("/v1/messages/{architekt}"), &json!({ "seen": true })).problem(403);
    api.get(&t.mm, "/v1/audit").problem(403);
    let audit = api.get(&t.admin, "/v1/audit").ok();
    let entries = audit.as_array().unwrap();
    let project = entries.iter().find(|e| e["action"] == "PUT /v1/messages/{local_id}/project").unwrap();
    assert_eq!(project["user"], "mm");
    assert_eq!(project["status"], 200);
    assert_eq!(project["target"], architekt.to_string());
    assert!(project["token"].as_str().unwrap().starts_with("tok_"));
    assert_eq!(project["detail"]["project"], "210-01");
    let refused = entries.iter().find(|e| e["action"] == "PATCH /v1/messages/{local_id}").unwrap();
    assert_eq!(refused["status"], 403);
    let cli = env.json(&["audit"]);
    assert_eq!(cli.as_array().unwrap().len(), entries.len(), "postfachd audit shows the same entries");
    drop(daemon);
}

#[test]
fn the_account_routes_show_state_progress_folders_projects_and_the_account_test() {
    let (dv, _env, daemon, api, t) = matrix();
    let one = api.get(&t.mm, "/v1/accounts/architekt").ok();
    assert_eq!(one["state"], "idle");
    assert_eq!(one["progress"]["messages"], 1);
    assert_eq!(one["progress"]["syncing"], false);
    assert!(one["last_sync"].is_string(), "{one}");
    let folders = api.get(&t.mm, "/v1/accounts/architekt/folders").ok();
    let inbox = folders.as_array().unwrap().iter().find(|f| f["name"] == "INBOX").unwrap().clone();
    assert_eq!((inbox["role"].as_str(), inbox["messages"].as_i64()), (Some("inbox"), Some(1)));
    // A sync on request picks up new mail without waiting for the interval or IDLE.
    let mut c = dv.client(ANNA).unwrap();
    c.append("INBOX", &[], None, &Mail::new(9, "[P-210-01] Nachgereicht").to_bytes()).unwrap();
    let accepted = api.post(&t.admin, "/v1/accounts/architekt/sync", &json!({}));
    assert_eq!(accepted.status, 202);
    api.post(&t.mm_read, "/v1/accounts/architekt/sync", &json!({})).problem(403);
    daemon.wait_for("the new message", std::time::Duration::from_secs(20), || {
        (api.get(&t.mm, "/v1/accounts/architekt").ok()["progress"]["messages"] == 2).then_some(())
    });
    let projects = api.get(&t.mm, "/v1/projects").ok();
    assert_eq!(projects, json!([{ "project": "210-01", "account": "architekt", "messages": 1 }]));
    assert_eq!(api.get(&t.cd, "/v1/projects").ok(), json!([]));
    let steps = api.post(&t.mm, "/v1/accounts/architekt/test", &json!({})).ok();
    let steps = steps.as_array().unwrap();
    assert!(steps[0]["step"].as_str().unwrap().starts_with("IMAP login at"), "{steps:?}");
    assert!(steps.iter().filter(|s| s["step"].as_str().unwrap().starts_with("IMAP")).all(|s| s["ok"] == true));
    api.post(&t.mm, "/v1/accounts/kanzlei/test", &json!({})).problem(404);
}
