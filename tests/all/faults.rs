//! Network faults (issue 14): a [`FaultProxy`] between the daemon and real Dovecot or
//! Postfix drops, resets, stalls or garbles a connection in the middle of what it carries;
//! the running daemon must recover by itself and end with every message stored (or sent,
//! or copied to Sent) exactly once.

use std::collections::HashSet;
use std::time::Duration;

use postfach_test_harness::mail::Mail;
use postfach_test_harness::{
    Direction, Dovecot, DovecotConfig, Fault, FaultProxy, MailboxSpec, Postfix, RecordingProxy,
};
use serde_json::Value;

use crate::support::{Env, account_toml, account_toml_via, dovecot, idle_connections, wait_for};

const ANNA: &str = "anna@architekt.test";
const BOB: &str = "bob@kanzlei.test";
const T: Duration = Duration::from_secs(60);

/// Anna's account, connecting through `proxy` (TLS end to end) with short retries.
fn via_proxy(dv: &Dovecot, proxy: &FaultProxy, extra: &str) -> String {
    account_toml(dv, ANNA, extra).replace(&format!("port = {}", dv.imaps_port), &format!("port = {}", proxy.port))
}

/// `n` messages of about `kb` KiB each in Anna's INBOX.
fn large_messages(dv: &Dovecot, n: usize, kb: usize) {
    let line = "Brandschutzplan Haus B, Geschoss 3, Achse 7 bis 12: Feuerwiderstand F90.\r\n";
    let body = line.repeat(kb * 1024 / line.len());
    let messages: Vec<Vec<u8>> = (1..=n).map(|i| Mail::new(i, &format!("Plan {i}")).body(&body).to_bytes()).collect();
    dv.client(ANNA).unwrap().append_many("INBOX", &messages).unwrap();
}

/// The account's messages: fails on any duplicate Message-ID; returns how many.
fn stored_once(env: &Env) -> usize {
    let messages = env.messages("anna");
    let ids: HashSet<&str> = messages.iter().filter_map(|m| m["message_id"].as_str()).collect();
    assert_eq!(ids.len(), messages.len(), "a message is stored twice");
    messages.len()
}

/// The account's `new-message` events, which must be one per message.
fn new_message_events(env: &Env) -> usize {
    crate::support::events(env, "anna").iter().filter(|(kind, _)| kind == "new-message").count()
}

const RETRY_FAST: &str = "[sync]\nretry_initial_secs = 1\nretry_max_secs = 2\n";

#[test]
fn a_connection_dropped_in_the_middle_of_a_large_fetch_is_resumed_and_stores_every_message_once() {
    let dv = dovecot(DovecotConfig::default(), &[ANNA]);
    large_messages(&dv, 20, 256);
    let proxy = FaultProxy::start(([127, 0, 0, 1], dv.imaps_port).into()).unwrap();
    // About half-way through 5 MB of FETCH answers.
    let at = proxy.arm_random(Direction::Downstream, 1_500_000..3_500_000, Fault::Drop, 14);
    let env = Env::new();
    env.write_account("anna", &via_proxy(&dv, &proxy, RETRY_FAST));
    let daemon = env.daemon();
    daemon.wait_for("every message", T, || (env.messages("anna").len() == 20).then_some(()));
    assert_eq!(proxy.fired(), 1, "the fault at byte {at} never fired");
    assert!(proxy.connections() >= 2, "no reconnect");
    assert_eq!(stored_once(&env), 20);
    assert_eq!(new_message_events(&env), 20);
    daemon.wait_for("idle", T, || (env.account("anna")["state"] == "idle").then_some(()));
}

#[test]
fn a_fetch_stalled_past_the_timeout_is_given_up_and_fetched_again() {
    let dv = dovecot(DovecotConfig::default(), &[ANNA]);
    large_messages(&dv, 20, 256);
    let proxy = FaultProxy::start(([127, 0, 0, 1], dv.imaps_port).into()).unwrap();
    proxy.arm(Direction::Downstream, 2_000_000, Fault::Stall);
    let env = Env::new();
    env.write_account("anna", &via_proxy(&dv, &proxy, RETRY_FAST).replace("timeout_secs = 10", "timeout_secs = 2"));
    let daemon = env.daemon();
    daemon.wait_for("every message", T, || (env.messages("anna").len() == 20).then_some(()));
    assert_eq!(proxy.fired(), 1);
    assert_eq!(stored_once(&env), 20);
    assert_eq!(new_message_events(&env), 20);
    let log = daemon.log();
    assert!(log.contains("timed out after 2s (imap.timeout_secs)"), "the stall was not reported as a timeout:\n{log}");
}

#[test]
fn idle_connections_that_are_dropped_or_reset_recover_and_new_mail_still_arrives() {
    let dv = dovecot(DovecotConfig::default(), &[ANNA]);
    dv.client(ANNA).unwrap().append("INBOX", &[], None, &Mail::new(1, "Vorher").to_bytes()).unwrap();
    let proxy = FaultProxy::start(([127, 0, 0, 1], dv.imaps_port).into()).unwrap();
    let env = Env::new();
    env.write_account("anna", &via_proxy(&dv, &proxy, RETRY_FAST));
    let daemon = env.daemon();
    daemon.wait_for("idle", T, || (env.account("anna")["state"] == "idle").then_some(()));
    for (n, reset) in [(2, false), (3, true)] {
        let before = proxy.connections();
        proxy.cut_all(reset);
        daemon.wait_for("a new connection", T, || (proxy.connections() > before).then_some(()));
        let subject = format!("Nach dem Abbruch {n}");
        dv.client(ANNA).unwrap().append("INBOX", &[], None, &Mail::new(n, &subject).to_bytes()).unwrap();
        daemon.wait_for(&subject, T, || env.messages("anna").iter().any(|m| m["subject"] == subject).then_some(()));
    }
    assert_eq!(stored_once(&env), 3);
}

/// A connection that goes silent while idle (a NAT gateway that forgot it, a hung server)
/// sends no FIN or RST: only an answer that does not come shows it. The daemon re-issues
/// IDLE every `idle_renew_secs`; the DONE that goes unanswered ends the connection, and
/// mail that came in the meantime — in the inbox and in a watched folder — arrives.
#[test]
fn idle_connections_that_go_silent_are_noticed_at_the_renewal_and_new_mail_still_arrives() {
    let dv = dovecot(DovecotConfig::default().mailbox(MailboxSpec::new("Projekte")), &[ANNA]);
    dv.client(ANNA).unwrap().append("INBOX", &[], None, &Mail::new(1, "Vorher").to_bytes()).unwrap();
    // Plain IMAP, so the recording proxy in front can see both connections IDLE.
    let proxy = FaultProxy::start(([127, 0, 0, 1], dv.imap_port).into()).unwrap();
    let seen = RecordingProxy::start(proxy.addr()).unwrap();
    let env = Env::new();
    let sync = "[sync]\ninterval_secs = 3600\nidle_renew_secs = 10\nidle_folders = [\"Projekte\"]\n\
                retry_initial_secs = 1\nretry_max_secs = 2\n";
    env.write_account(
        "anna",
        &account_toml_via(&dv, ANNA, seen.port, sync).replace("timeout_secs = 10", "timeout_secs = 2"),
    );
    let daemon = env.daemon();
    daemon.wait_for("idle", T, || (env.account("anna")["state"] == "idle").then_some(()));
    // The inbox session and the watcher of Projekte.
    daemon.wait_for("two connections in IDLE", T, || (idle_connections(&seen) >= 2).then_some(()));
    let before = proxy.connections();
    proxy.stall_all();
    let mut c = dv.client(ANNA).unwrap();
    c.append("INBOX", &[], None, &Mail::new(2, "Während der Funkstille").to_bytes()).unwrap();
    c.append("Projekte", &[], None, &Mail::new(3, "Bauzeitenplan").to_bytes()).unwrap();
    for subject in ["Während der Funkstille", "Bauzeitenplan"] {
        daemon.wait_for(subject, T, || env.messages("anna").iter().any(|m| m["subject"] == subject).then_some(()));
    }
    // The watcher notices at its own renewal, possibly after the main session's pass
    // brought both messages.
    daemon.wait_for("both connections made anew", T, || (proxy.connections() >= before + 2).then_some(()));
    assert_eq!(stored_once(&env), 3);
    let log = daemon.log();
    assert!(log.contains("DONE (ending IDLE) timed out after 2s"), "the silence was not reported:\n{log}");
    daemon.wait_for("idle again", T, || (env.account("anna")["state"] == "idle").then_some(()));
}

#[test]
fn a_garbage_line_from_the_server_is_survived_without_losing_or_doubling_mail() {
    let dv = dovecot(DovecotConfig::default(), &[ANNA]);
    large_messages(&dv, 10, 64);
    // Plain IMAP here, so the garbage reaches the IMAP parser instead of breaking TLS.
    let proxy = FaultProxy::start(([127, 0, 0, 1], dv.imap_port).into()).unwrap();
    proxy.arm(
        Direction::Downstream,
        300_000,
        Fault::Garbage(b"\r\n* 3 FETCH (BODY[] {99999999}\x00\xff garbage\r\n".to_vec()),
    );
    let env = Env::new();
    env.write_account("anna", &account_toml_via(&dv, ANNA, proxy.port, RETRY_FAST));
    let daemon = env.daemon();
    daemon.wait_for("every message", T, || (env.messages("anna").len() == 10).then_some(()));
    assert_eq!(proxy.fired(), 1);
    assert_eq!(stored_once(&env), 10);
    assert_eq!(new_message_events(&env), 10);
    daemon.wait_for("idle", T, || (env.account("anna")["state"] == "idle").then_some(()));
}

/// Dovecot with a Sent folder for Anna and Bob, Postfix in front of it.
fn mail_servers() -> (Dovecot, Postfix) {
    let dv = dovecot(DovecotConfig::default().mailbox(MailboxSpec::special("Gesendet", "\\Sent")), &[ANNA, BOB]);
    let pf = Postfix::start(&dv).unwrap();
    (dv, pf)
}

fn smtp(port: u16) -> String {
    format!(
        "[smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"starttls\"\nretry_initial_secs = 1\nretry_max_secs = 2\n"
    )
}

/// Messages in a mailbox with this Message-ID.
fn copies(dv: &Dovecot, user: &str, mailbox: &str, message_id: &str) -> usize {
    let mut c = dv.client(user).unwrap();
    c.select(mailbox).unwrap();
    let uids = c.uid_search("ALL").unwrap();
    uids.iter().filter(|u| String::from_utf8_lossy(&c.body(**u).unwrap()).contains(message_id)).count()
}

/// A 1 MiB attachment, so APPEND and DATA take many packets.
fn attachment(env: &Env) -> String {
    let path = env.path().join("plan.pdf");
    std::fs::write(&path, (0..1024 * 1024).map(|i| (i % 251) as u8).collect::<Vec<u8>>()).unwrap();
    path.display().to_string()
}

fn send(env: &Env, subject: &str, attach: &str) -> Value {
    let out =
        env.run(&["send", "anna", "--to", BOB, "--subject", subject, "--body", "Anbei.", "--attach", attach, "--json"]);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("send: {}", String::from_utf8_lossy(&out.stderr)))
}

fn outbox_entry(env: &Env, id: i64) -> Value {
    env.json(&["outbox"]).as_array().unwrap().iter().find(|e| e["id"] == id).cloned().unwrap_or(Value::Null)
}

#[test]
fn a_drop_during_the_append_of_the_sent_copy_ends_with_exactly_one_copy() {
    let (dv, pf) = mail_servers();
    let proxy = FaultProxy::start(([127, 0, 0, 1], dv.imaps_port).into()).unwrap();
    let env = Env::new();
    env.write_account("anna", &via_proxy(&dv, &proxy, &format!("{}{RETRY_FAST}", smtp(pf.submission_port))));
    let daemon = env.daemon();
    daemon.wait_for("idle", T, || (env.account("anna")["state"] == "idle").then_some(()));
    // Only the APPEND connection sends this much to the server: cut it half-way.
    proxy.arm(Direction::Upstream, 700_000, Fault::Drop);
    let r = send(&env, "Pläne mit Kopie", &attachment(&env));
    let (id, message_id) = (r["id"].as_i64().unwrap(), r["message_id"].as_str().unwrap().to_owned());
    let first = daemon.wait_for("the first copy attempt", T, || {
        let e = outbox_entry(&env, id);
        e["copy"].as_str().map(str::to_owned)
    });
    assert_eq!(proxy.fired(), 1);
    assert!(first.starts_with("error:"), "the cut APPEND was not reported: {first}");
    daemon.wait_for("the copy tried again", T, || {
        outbox_entry(&env, id)["copy"].as_str().is_some_and(|c| !c.starts_with("error:")).then_some(())
    });
    assert_eq!(copies(&dv, ANNA, "Gesendet", &message_id), 1);
    assert_eq!(copies(&dv, BOB, "INBOX", &message_id), 1);
}

#[test]
fn a_drop_during_smtp_data_defers_the_message_and_it_is_delivered_once() {
    let (dv, pf) = mail_servers();
    let proxy = FaultProxy::start(([127, 0, 0, 1], pf.submission_port).into()).unwrap();
    let env = Env::new();
    env.write_account("anna", &account_toml(&dv, ANNA, &format!("{}{RETRY_FAST}", smtp(proxy.port))));
    let daemon = env.daemon();
    daemon.wait_for("idle", T, || (env.account("anna")["state"] == "idle").then_some(()));
    // In the middle of DATA (the 1 MiB attachment, base64): before the final dot, so
    // Postfix has not taken the message.
    proxy.arm(Direction::Upstream, 500_000, Fault::Drop);
    let r = send(&env, "Pläne per SMTP", &attachment(&env));
    let (id, message_id) = (r["id"].as_i64().unwrap(), r["message_id"].as_str().unwrap().to_owned());
    let sent = daemon.wait_for("delivery after the cut", T, || {
        let e = outbox_entry(&env, id);
        (e["state"] == "sent").then_some(e)
    });
    assert_eq!(proxy.fired(), 1);
    assert!(sent["attempts"].as_i64().unwrap() >= 2, "{sent}");
    wait_for("Bob's copy", T, || (copies(&dv, BOB, "INBOX", &message_id) >= 1).then_some(()));
    assert_eq!(copies(&dv, BOB, "INBOX", &message_id), 1);
}
