//! Push: new mail reaches the store through IMAP IDLE on the inbox (and on folders named
//! in `idle_folders`) while the polling interval is far away, and polling still works
//! where the server has no IDLE.

use std::time::Duration;

use postfach_test_harness::mail::Mail;
use postfach_test_harness::{DovecotConfig, MailboxSpec, RecordingProxy};

use crate::support::{
    Env, account_toml, account_toml_via, caps_without, dovecot, flags, idle_connections, message_by_subject,
    three_messages_behind_a_relay, wait_for,
};

const USER: &str = "mm@muster-architekten.de";
/// Far longer than any wait below: whatever arrives in time came by IDLE.
const NO_POLL: &str = "[sync]\ninterval_secs = 3600\n";
const ROUTER: &str = "[routing]\nplugins = [\"subject-tag\"]\n";
const WAIT: Duration = Duration::from_secs(15);

#[test]
fn new_mail_in_the_inbox_is_stored_and_routed_by_idle() {
    let dv = dovecot(DovecotConfig::default(), &[USER]);
    let mut c = dv.client(USER).unwrap();
    c.append("INBOX", &[], None, &Mail::new(1, "Vorher").to_bytes()).unwrap();
    let proxy = RecordingProxy::start(([127, 0, 0, 1], dv.imap_port).into()).unwrap();
    let env = Env::new();
    env.write_account("mm", &account_toml_via(&dv, USER, proxy.port, &format!("{NO_POLL}{ROUTER}")));
    let daemon = env.daemon();
    daemon.wait_for("the first pass", WAIT, || (env.account("mm")["state"] == "idle").then_some(()));
    for n in 2..=4 {
        let subject = format!("[P-210-01] Nachtrag {n}");
        // Mail that arrives before IDLE is found by the quick pass anyway; this test is
        // about the announcement, so it waits for the daemon to IDLE first.
        wait_for("the daemon to IDLE", WAIT, || idling(&proxy).then_some(()));
        c.append("INBOX", &[], None, &Mail::new(n, &subject).to_bytes()).unwrap();
        let m = daemon.wait_for("the new mail, by IDLE", WAIT, || message_by_subject(&env, "mm", &subject));
        let routed = daemon.wait_for("routing", WAIT, || {
            message_by_subject(&env, "mm", &subject).filter(|m| m["project"] == "210-01")
        });
        assert_eq!(routed["local_id"], m["local_id"]);
    }
    assert_eq!(env.messages("mm").len(), 4);
    assert!(daemon.log().contains("new mail"), "{}", daemon.log());
}

#[test]
fn folders_in_idle_folders_are_watched_too() {
    let config = DovecotConfig::default()
        .mailbox(MailboxSpec::new("ProjektPro"))
        .mailbox(MailboxSpec::new("ProjektPro/210-01 Wohnanlage"));
    let dv = dovecot(config, &[USER]);
    let proxy = RecordingProxy::start(([127, 0, 0, 1], dv.imap_port).into()).unwrap();
    let env = Env::new();
    let sync = "[sync]\ninterval_secs = 3600\nidle_folders = [\"ProjektPro/*\"]\n";
    env.write_account("mm", &account_toml_via(&dv, USER, proxy.port, sync));
    let daemon = env.daemon();
    daemon.wait_for("the first pass", WAIT, || (env.account("mm")["state"] == "idle").then_some(()));
    // Two connections IDLE: the inbox and the watcher of the project folder.
    wait_for("both connections to IDLE", WAIT, || (idle_connections(&proxy) >= 2).then_some(()));
    assert!(proxy.client_text().contains("EXAMINE \"ProjektPro/210-01 Wohnanlage\""), "the watcher's folder");
    let mut c = dv.client(USER).unwrap();
    c.append("ProjektPro/210-01 Wohnanlage", &[], None, &Mail::new(1, "Bauzeitenplan").to_bytes()).unwrap();
    let m = daemon.wait_for("mail in the watched folder", WAIT, || message_by_subject(&env, "mm", "Bauzeitenplan"));
    assert_eq!(m["folder"], "ProjektPro/210-01 Wohnanlage");
}

#[test]
fn without_idle_the_daemon_polls() {
    let dv = dovecot(DovecotConfig::default().capability(&caps_without(&["IDLE"])), &[USER]);
    let env = Env::new();
    env.write_account("mm", &account_toml(&dv, USER, "[sync]\ninterval_secs = 1\n"));
    let daemon = env.daemon();
    daemon.wait_for("the first pass", WAIT, || (env.account("mm")["state"] == "idle").then_some(()));
    dv.client(USER).unwrap().append("INBOX", &[], None, &Mail::new(1, "Per Abruf").to_bytes()).unwrap();
    daemon.wait_for("the next poll", WAIT, || message_by_subject(&env, "mm", "Per Abruf"));
    // The same with IDLE switched off in the file, on a server that has it.
    let dv2 = dovecot(DovecotConfig::default(), &[USER]);
    env.write_account("mm2", &account_toml(&dv2, USER, "[sync]\ninterval_secs = 1\nidle = false\n"));
    daemon.wait_for("the second account", WAIT, || (env.account("mm2")["state"] == "idle").then_some(()));
    dv2.client(USER).unwrap().append("INBOX", &[], None, &Mail::new(2, "Auch per Abruf").to_bytes()).unwrap();
    daemon.wait_for("the next poll", WAIT, || message_by_subject(&env, "mm2", "Auch per Abruf"));
}

/// Whether the daemon IDLEs through `proxy` right now.
fn idling(proxy: &RecordingProxy) -> bool {
    idle_connections(proxy) > 0
}

/// Waits until the daemon IDLEs, lets `change` act as another client, waits for the
/// server to announce it on the daemon's connection (a line containing `news`), and
/// returns when it did.
fn announced(proxy: &RecordingProxy, change: impl FnOnce(), news: &[&str]) {
    wait_for("the daemon to IDLE", WAIT, || idling(proxy).then_some(()));
    let mark = proxy.server_text().len();
    change();
    wait_for("the server's announcement during IDLE", WAIT, || {
        let text = proxy.server_text();
        let fresh = text.get(mark..).unwrap_or("");
        fresh.lines().any(|l| l.starts_with("* ") && news.iter().any(|n| l.contains(n))).then_some(())
    });
}

/// Changes made by another client while the daemon IDLEs reach the store within 2 s of
/// the server's announcement: a flag set and cleared, an expunge, a move to another
/// folder (same message, new place, no `removed`). The polling interval is an hour.
fn other_clients_changes_arrive_by_idle(caps: Option<&str>) {
    const SOON: Duration = Duration::from_secs(2);
    let config = DovecotConfig::default().mailbox(MailboxSpec::new("Ablage"));
    let (dv, proxy, mut c) = three_messages_behind_a_relay(config, caps, USER);
    let env = Env::new();
    env.write_account("mm", &account_toml_via(&dv, USER, proxy.port, NO_POLL));
    let daemon = env.daemon();
    daemon.wait_for("the first pass", WAIT, || (env.messages("mm").len() == 3).then_some(()));
    c.select("INBOX").unwrap();
    let uid = |c: &mut postfach_test_harness::ImapClient, n: u32| {
        c.uid_search(&format!("HEADER Message-ID msg-{n}@fixture.postfach.test")).unwrap()[0].to_string()
    };
    let (uid1, uid2, uid3) = (uid(&mut c, 1), uid(&mut c, 2), uid(&mut c, 3));
    let flagged =
        |env: &Env| message_by_subject(env, "mm", "Nachricht 1").map(|m| flags(&m).contains(&"\\Flagged".to_owned()));

    announced(&proxy, || c.uid_store(&uid1, "+FLAGS (\\Flagged)").unwrap(), &["\\Flagged"]);
    daemon.wait_for("\\Flagged in the store", SOON, || (flagged(&env) == Some(true)).then_some(()));

    announced(&proxy, || c.uid_store(&uid1, "-FLAGS (\\Flagged)").unwrap(), &["FETCH"]);
    daemon.wait_for("\\Flagged gone from the store", SOON, || (flagged(&env) == Some(false)).then_some(()));

    announced(
        &proxy,
        || {
            c.uid_store(&uid2, "+FLAGS (\\Deleted)").unwrap();
            c.command(&format!("UID EXPUNGE {uid2}")).unwrap();
        },
        &["EXPUNGE", "VANISHED"],
    );
    daemon.wait_for("the expunge in the store", SOON, || {
        message_by_subject(&env, "mm", "Nachricht 2").filter(|m| m["on_server"] == false)
    });

    let before = message_by_subject(&env, "mm", "Nachricht 3").unwrap();
    announced(&proxy, || c.uid_move(&uid3, "Ablage").unwrap(), &["EXPUNGE", "VANISHED"]);
    let moved = daemon.wait_for("the move in the store", SOON, || {
        message_by_subject(&env, "mm", "Nachricht 3").filter(|m| m["folder"] == "Ablage" && m["on_server"] == true)
    });
    assert_eq!(moved["local_id"], before["local_id"], "the same message, in its new place");
    assert_eq!(env.messages("mm").len(), 3, "nothing duplicated");
    let events = crate::support::events(&env, "mm");
    assert!(
        !events.iter().any(|(kind, id)| kind == "removed" && Some(*id) == before["local_id"].as_i64()),
        "a moved message is not removed: {events:?}"
    );
}

#[test]
fn other_clients_changes_arrive_by_idle_with_qresync() {
    other_clients_changes_arrive_by_idle(None);
}

#[test]
fn other_clients_changes_arrive_by_idle_without_condstore() {
    other_clients_changes_arrive_by_idle(Some(&caps_without(&["QRESYNC", "CONDSTORE"])));
}

#[test]
fn without_idle_flag_changes_arrive_by_the_next_poll() {
    let dv = dovecot(DovecotConfig::default().capability(&caps_without(&["IDLE", "QRESYNC", "CONDSTORE"])), &[USER]);
    let mut c = dv.client(USER).unwrap();
    c.append("INBOX", &[], None, &Mail::new(1, "Gelesen?").to_bytes()).unwrap();
    let env = Env::new();
    env.write_account("mm", &account_toml(&dv, USER, "[sync]\ninterval_secs = 1\n"));
    let daemon = env.daemon();
    daemon.wait_for("the first pass", WAIT, || message_by_subject(&env, "mm", "Gelesen?"));
    c.select("INBOX").unwrap();
    let uid = c.uid_search("ALL").unwrap()[0].to_string();
    c.uid_store(&uid, "+FLAGS (\\Seen \\Answered)").unwrap();
    // interval_secs = 1: two polls at most, plus the pass itself.
    daemon.wait_for("the flags by polling", Duration::from_secs(4), || {
        let f = flags(&message_by_subject(&env, "mm", "Gelesen?")?);
        (f.contains(&"\\Seen".to_owned()) && f.contains(&"\\Answered".to_owned())).then_some(())
    });
}
