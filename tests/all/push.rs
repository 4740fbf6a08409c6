//! Push: new mail reaches the store through IMAP IDLE on the inbox (and on folders named
//! in `idle_folders`) while the polling interval is far away, and polling still works
//! where the server has no IDLE.

use std::time::Duration;

use postfach_test_harness::mail::Mail;
use postfach_test_harness::{DovecotConfig, MailboxSpec};

use crate::support::{Env, account_toml, caps_without, dovecot, message_by_subject};

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
    let env = Env::new();
    env.write_account("mm", &account_toml(&dv, USER, &format!("{NO_POLL}{ROUTER}")));
    let daemon = env.daemon();
    daemon.wait_for("the first pass", WAIT, || (env.account("mm")["state"] == "idle").then_some(()));
    // The state is recorded just before IDLE starts; give the command a moment on the wire.
    std::thread::sleep(Duration::from_millis(300));
    for n in 2..=4 {
        let subject = format!("[P-210-01] Nachtrag {n}");
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
    let env = Env::new();
    let sync = "[sync]\ninterval_secs = 3600\nidle_folders = [\"ProjektPro/*\"]\n";
    env.write_account("mm", &account_toml(&dv, USER, sync));
    let daemon = env.daemon();
    daemon.wait_for("the first pass", WAIT, || (env.account("mm")["state"] == "idle").then_some(()));
    std::thread::sleep(Duration::from_millis(500));
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
