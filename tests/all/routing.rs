//! Project routing against real Dovecot: ProjektPro folders (messages moved by another
//! client while the daemon runs), subject tags, the sender map, reply threads across two
//! accounts, the project list, dry runs that write nothing, and routers that fail.

use std::time::Duration;

use postfach_test_harness::mail::Mail;
use postfach_test_harness::{Dovecot, DovecotConfig, Layout, MailboxSpec};
use serde_json::Value;

use crate::support::{Env, account_toml, dovecot, sdk_example, test_plugin};

const T: Duration = Duration::from_secs(30);
const CHAIN: &str = r#"[routing]
plugins = ["projektpro-folders", "subject-tag", "sender-map", "thread-follow"]
[routing.options]
"sender-map.map" = { "bauamt@musterstadt.de" = "211-07", "kraft-bau.de" = "210-01" }
"#;

fn project_folders() -> DovecotConfig {
    DovecotConfig::default()
        .mailbox(MailboxSpec::new("ProjektPro"))
        .mailbox(MailboxSpec::new("ProjektPro/210-01 Musterprojekt Wohnanlage"))
        .mailbox(MailboxSpec::new("ProjektPro/211-07 Schule Süd"))
}

fn with_projects(env: &Env) {
    std::fs::write(
        env.path().join("projects.toml"),
        "[projects]\n\"210-01\" = \"Wohnanlage\"\n\"211-07\" = \"Schule Süd\"\n",
    )
    .unwrap();
    let toml = std::fs::read_to_string(env.path().join("postfach.toml")).unwrap();
    std::fs::write(env.path().join("postfach.toml"), format!("projects_file = \"projects.toml\"\n{toml}")).unwrap();
}

/// The project of the message with this subject (None = unassigned).
fn project(env: &Env, account: &str, subject: &str) -> Option<String> {
    let msgs = env.messages(account);
    let m = msgs.iter().find(|m| m["subject"] == subject).unwrap_or_else(|| panic!("no {subject:?} in {msgs:#?}"));
    m["project"].as_str().map(str::to_owned)
}

fn local_id(env: &Env, account: &str, subject: &str) -> i64 {
    env.messages(account).iter().find(|m| m["subject"] == subject).unwrap()["local_id"].as_i64().unwrap()
}

/// Event kinds recorded for a message, in order.
fn events(env: &Env, local_id: i64) -> Vec<String> {
    let db = rusqlite::Connection::open(env.path().join("data/postfach.sqlite3")).unwrap();
    let mut stmt = db.prepare("SELECT kind FROM events WHERE message = ?1 ORDER BY seq").unwrap();
    stmt.query_map([local_id], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

fn uid_of(c: &mut postfach_test_harness::ImapClient, folder: &str, message_id: &str) -> u32 {
    c.select(folder).unwrap();
    let uids = c.uid_search(&format!("HEADER Message-ID {message_id}")).unwrap();
    *uids.first().unwrap_or_else(|| panic!("{message_id} not in {folder}"))
}

#[test]
fn moving_mail_between_project_folders_while_the_daemon_runs() {
    let user = "mm@muster-architekten.de";
    let dv = dovecot(project_folders(), &[user]);
    let mut c = dv.client(user).unwrap();
    c.append("INBOX", &[], None, &Mail::new(1, "Angebot Fenster").to_bytes()).unwrap();
    c.append("INBOX", &[], None, &Mail::new(2, "Allgemeines").to_bytes()).unwrap();
    let env = Env::new();
    env.write_account("mm", &account_toml(&dv, user, &format!("{CHAIN}[sync]\ninterval_secs = 1\n")));
    let daemon = env.daemon();
    daemon.wait_for("first sync", T, || (env.messages("mm").len() == 2).then_some(()));
    assert_eq!(project(&env, "mm", "Angebot Fenster"), None);
    let id = local_id(&env, "mm", "Angebot Fenster");

    // Another mail client files the message into a project folder.
    let wohnanlage = "ProjektPro/210-01 Musterprojekt Wohnanlage";
    let uid = uid_of(&mut c, "INBOX", "msg-1@fixture.postfach.test");
    c.select("INBOX").unwrap();
    c.uid_move(&uid.to_string(), wohnanlage).unwrap();
    daemon.wait_for("assigned to 210-01", T, || {
        (project(&env, "mm", "Angebot Fenster").as_deref() == Some("210-01")).then_some(())
    });

    // … moves it on to another project …
    let uid = uid_of(&mut c, wohnanlage, "msg-1@fixture.postfach.test");
    c.select(wohnanlage).unwrap();
    c.uid_move(&uid.to_string(), "ProjektPro/211-07 Schule S&APw-d").unwrap();
    daemon.wait_for("reassigned to 211-07", T, || {
        (project(&env, "mm", "Angebot Fenster").as_deref() == Some("211-07")).then_some(())
    });

    // … and back to the inbox: the assignment goes.
    let uid = uid_of(&mut c, "ProjektPro/211-07 Schule S&APw-d", "msg-1@fixture.postfach.test");
    c.select("ProjektPro/211-07 Schule S&APw-d").unwrap();
    c.uid_move(&uid.to_string(), "INBOX").unwrap();
    daemon.wait_for("unassigned", T, || project(&env, "mm", "Angebot Fenster").is_none().then_some(()));

    // One message all along, and one event per change.
    assert_eq!(env.messages("mm").len(), 2);
    assert_eq!(events(&env, id), ["new-message", "routed", "reassigned", "unrouted"]);
    assert_eq!(project(&env, "mm", "Allgemeines"), None);
    let explain = env.ok(&["route", "explain", &id.to_string()]);
    assert!(explain.contains("1. projektpro-folders: skip"), "{explain}");
    assert!(explain.contains("not assigned to any project"), "{explain}");
}

#[test]
fn project_folders_on_a_dot_separated_server() {
    let user = "kanzlei@example.de";
    let config = DovecotConfig::default()
        .layout(Layout::InboxDot)
        .mailbox(MailboxSpec::new("ProjektPro"))
        .mailbox(MailboxSpec::new("ProjektPro.211-07 Schule Süd"));
    let dv = dovecot(config, &[user]);
    dv.client(user)
        .unwrap()
        .append("INBOX.ProjektPro.211-07 Schule S&APw-d", &[], None, &Mail::new(1, "Aula").to_bytes())
        .unwrap();
    let env = Env::new();
    env.write_account("k", &account_toml(&dv, user, CHAIN));
    env.ok(&["sync", "--once"]);
    assert_eq!(project(&env, "k", "Aula").as_deref(), Some("211-07"));
    let explain = env.json(&["route", "explain", &local_id(&env, "k", "Aula").to_string()]);
    assert_eq!(explain["folder"], "INBOX.ProjektPro.211-07 Schule Süd");
    assert_eq!(explain["plugin"], "projektpro-folders");
}

#[test]
fn subject_tags_sender_map_and_the_project_list() {
    let user = "mm@example.de";
    let dv = dovecot(DovecotConfig::default(), &[user]);
    let mut c = dv.client(user).unwrap();
    for (n, subject, from) in [
        (1, "Re: [P-210-01] Statik", "Statik <buero@statik.example>"),
        (2, "Nachforderung", "Bauamt <Bauamt@Musterstadt.de>"),
        (3, "Rechnung", "info@mail.kraft-bau.de"),
        (4, "[P-999-99] Tippfehler", "x@example.org"),
        (5, "Newsletter", "news@example.org"),
    ] {
        c.append("INBOX", &[], None, &Mail::new(n, subject).from(from).to_bytes()).unwrap();
    }
    let env = Env::new();
    with_projects(&env);
    env.write_account("mm", &account_toml(&dv, user, CHAIN));
    let out = env.ok(&["sync", "--once"]);
    assert!(out.contains("3 routed"), "{out}");
    assert_eq!(project(&env, "mm", "Re: [P-210-01] Statik").as_deref(), Some("210-01"));
    assert_eq!(project(&env, "mm", "Nachforderung").as_deref(), Some("211-07"));
    assert_eq!(project(&env, "mm", "Rechnung").as_deref(), Some("210-01"));
    assert_eq!(project(&env, "mm", "[P-999-99] Tippfehler"), None, "not in the project list");
    assert_eq!(project(&env, "mm", "Newsletter"), None);
    let explain = env.json(&["route", "explain", &local_id(&env, "mm", "Rechnung").to_string()]);
    assert_eq!(explain["plugin"], "sender-map");
    assert_eq!(explain["steps"][2]["detail"], "sender info@mail.kraft-bau.de matches \"kraft-bau.de\"");
    let projects = env.json(&["projects"]);
    let row = projects.as_array().unwrap().iter().find(|p| p["project"] == "210-01").unwrap();
    assert_eq!((row["messages"].as_u64(), row["name"].as_str()), (Some(2), Some("Wohnanlage")));
    let by_project = env.json(&["messages", "mm", "--project", "211-07"]);
    assert_eq!(by_project.as_array().unwrap().len(), 1);

    // A second pass routes nothing again and writes no new events.
    let out = env.ok(&["sync", "--once"]);
    assert!(out.contains("0 routed"), "{out}");
    assert_eq!(events(&env, local_id(&env, "mm", "Nachforderung")), ["new-message", "routed"]);
}

#[test]
fn a_reply_follows_its_thread_across_accounts() {
    let dv = dovecot(project_folders(), &["a@example.de", "b@example.de"]);
    dv.client("a@example.de")
        .unwrap()
        .append("ProjektPro/210-01 Musterprojekt Wohnanlage", &[], None, &Mail::new(1, "Bauzeitenplan").to_bytes())
        .unwrap();
    let reply = Mail::new(2, "Re: Bauzeitenplan").reply_to("msg-1@fixture.postfach.test");
    let reply_to_reply = Mail::new(3, "Re: Re: Bauzeitenplan").reply_to("msg-2@fixture.postfach.test");
    let mut b = dv.client("b@example.de").unwrap();
    b.append("INBOX", &[], None, &reply.to_bytes()).unwrap();
    b.append("INBOX", &[], None, &reply_to_reply.to_bytes()).unwrap();
    let env = Env::new();
    env.write_account("a", &account_toml(&dv, "a@example.de", CHAIN));
    env.write_account("b", &account_toml(&dv, "b@example.de", CHAIN));
    env.ok(&["sync", "a", "--once"]);
    env.ok(&["sync", "b", "--once"]);
    assert_eq!(project(&env, "a", "Bauzeitenplan").as_deref(), Some("210-01"));
    assert_eq!(project(&env, "b", "Re: Bauzeitenplan").as_deref(), Some("210-01"));
    assert_eq!(
        project(&env, "b", "Re: Re: Bauzeitenplan").as_deref(),
        Some("210-01"),
        "a reply to a reply, same batch"
    );
    let explain = env.json(&["route", "explain", &local_id(&env, "b", "Re: Bauzeitenplan").to_string()]);
    assert_eq!(explain["plugin"], "thread-follow");
}

#[test]
fn dry_run_shows_changes_and_writes_nothing() {
    let user = "mm@example.de";
    let dv = dovecot(DovecotConfig::default(), &[user]);
    let mut c = dv.client(user).unwrap();
    c.append("INBOX", &[], None, &Mail::new(1, "[P-210-01] Pläne").to_bytes()).unwrap();
    c.append("INBOX", &[], None, &Mail::new(2, "[Projekt 123-45] Anfrage").to_bytes()).unwrap();
    let env = Env::new();
    env.write_account("mm", &account_toml(&dv, user, "[routing]\nplugins = [\"subject-tag\"]\n"));
    env.ok(&["sync", "--once"]);
    let db = env.path().join("data/postfach.sqlite3");
    let snapshot = || {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let q = |sql: &str| -> String {
            let mut stmt = conn.prepare(sql).unwrap();
            let rows: Vec<String> =
                stmt.query_map([], |r| r.get::<_, String>(0)).unwrap().map(Result::unwrap).collect();
            rows.join("|")
        };
        (
            q("SELECT message || ':' || project || ':' || plugin FROM assignments ORDER BY message"),
            q("SELECT seq || kind FROM events ORDER BY seq"),
            q("SELECT message || chain || at FROM route_traces ORDER BY message"),
        )
    };
    let before = snapshot();

    // A new subject-tag pattern: the tagged message would lose its project.
    env.write_account(
        "mm",
        &account_toml(
            &dv,
            user,
            "[routing]\nplugins = [\"subject-tag\"]\n[routing.options]\n\"subject-tag.pattern\" = \"#(\\\\d+)\"\n",
        ),
    );
    let rows = env.json(&["route", "dry-run", "mm"]);
    let change =
        |subject: &str| rows.as_array().unwrap().iter().find(|r| r["subject"] == subject).unwrap()["change"].clone();
    assert_eq!(change("[P-210-01] Pläne"), "unrouted");
    assert_eq!(change("[Projekt 123-45] Anfrage"), "none");

    // A router file not installed yet joins the chain for the dry run only.
    let example = sdk_example("minimal_router", "router");
    env.write_account("mm", &account_toml(&dv, user, "[routing]\nplugins = [\"subject-tag\"]\n"));
    let rows = env.json(&["route", "dry-run", "mm", "--plugin", example.to_str().unwrap()]);
    let row = rows.as_array().unwrap().iter().find(|r| r["subject"] == "[Projekt 123-45] Anfrage").unwrap().clone();
    assert_eq!(
        (row["change"].as_str(), row["proposed"].as_str(), row["plugin"].as_str()),
        (Some("routed"), Some("123-45"), Some("project-tag"))
    );
    let text = env.ok(&["route", "dry-run", "mm", "--plugin", example.to_str().unwrap()]);
    assert!(text.contains("1 would be routed") && text.contains("nothing was written"), "{text}");

    assert_eq!(snapshot(), before, "a dry run changed the store");
}

fn bad_router_env(dv: &Dovecot, user: &str, mode: &str) -> Env {
    let env = Env::new();
    std::fs::copy(test_plugin("bad-router"), env.plugin_dir().join("bad-router.wasm")).unwrap();
    env.write_account(
        "mm",
        &account_toml(
            dv,
            user,
            &format!("[routing]\nplugins = [\"bad-router\", \"subject-tag\"]\n[routing.options]\n\"bad-router.mode\" = \"{mode}\"\n"),
        ),
    );
    env
}

#[test]
fn a_failing_router_records_its_error_and_the_chain_goes_on() {
    let user = "mm@example.de";
    let dv = dovecot(DovecotConfig::default(), &[user]);
    let mut c = dv.client(user).unwrap();
    c.append("INBOX", &[], None, &Mail::new(1, "[P-210-01] Getaggt").to_bytes()).unwrap();
    c.append("INBOX", &[], None, &Mail::new(2, "Ohne Tag").to_bytes()).unwrap();
    for (mode, error) in [
        ("panic", "panicked: kaputt bei"),
        ("loop", "did not finish within 100 ms"),
        ("unknown-project", "project 999-99 is not in the project list"),
    ] {
        let env = bad_router_env(&dv, user, mode);
        with_projects(&env);
        env.ok(&["sync", "--once"]);
        assert_eq!(
            project(&env, "mm", "[P-210-01] Getaggt").as_deref(),
            Some("210-01"),
            "{mode}: the next router decided"
        );
        assert_eq!(project(&env, "mm", "Ohne Tag"), None, "{mode}");
        let explain = env.json(&["route", "explain", &local_id(&env, "mm", "Ohne Tag").to_string()]);
        let first = &explain["steps"][0];
        assert_eq!(
            (first["plugin"].as_str(), first["answer"].as_str()),
            (Some("bad-router"), Some("error")),
            "{mode}: {explain:#}"
        );
        assert!(first["detail"].as_str().unwrap().contains(error), "{mode}: {explain:#}");
        assert_eq!(explain["steps"][1]["answer"], "skip");
        let text = env.ok(&["route", "explain", &local_id(&env, "mm", "Ohne Tag").to_string()]);
        assert!(text.contains("1. bad-router: error:") && text.contains("not assigned"), "{text}");
    }
}

#[test]
fn assignments_survive_a_uidvalidity_reset() {
    let user = "mm@example.de";
    let dv = dovecot(project_folders(), &[user]);
    dv.client(user)
        .unwrap()
        .append("ProjektPro/210-01 Musterprojekt Wohnanlage", &[], None, &Mail::new(1, "Plan").to_bytes())
        .unwrap();
    let env = Env::new();
    env.write_account("mm", &account_toml(&dv, user, CHAIN));
    env.ok(&["sync", "--once"]);
    let id = local_id(&env, "mm", "Plan");
    dv.set_uidvalidity(user, "ProjektPro/210-01 Musterprojekt Wohnanlage", 4242).unwrap();
    env.ok(&["sync", "--once"]);
    assert_eq!(project(&env, "mm", "Plan").as_deref(), Some("210-01"));
    assert_eq!(local_id(&env, "mm", "Plan"), id);
    assert_eq!(events(&env, id), ["new-message", "routed"], "re-linked, not routed again");
    let _: Value = env.json(&["projects"]);
}
