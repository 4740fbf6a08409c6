//! Sync window retention and server-side auto-delete, against real Dovecot with mail whose
//! INTERNALDATE lies in the past: the server is cleaned up, the store keeps everything.

use postfach_test_harness::mail::Mail;
use postfach_test_harness::{Dovecot, DovecotConfig, MailboxSpec};

use crate::support::{Env, account_toml, dovecot, message_by_subject};

const USER: &str = "mm@muster-architekten.de";

/// An IMAP date-time `days` ago, quoted for APPEND.
fn days_ago(days: i64) -> String {
    let t = chrono::Utc::now() - chrono::Duration::days(days);
    format!("\"{}\"", t.format("%d-%b-%Y %H:%M:%S +0000"))
}

fn count(dv: &Dovecot, folder: &str) -> usize {
    let mut c = dv.client(USER).unwrap();
    c.select(folder).unwrap();
    c.uid_search("ALL").unwrap().len()
}

fn servers() -> Dovecot {
    let config = DovecotConfig::default()
        .mailbox(MailboxSpec::special("Gesendet", "\\Sent"))
        .mailbox(MailboxSpec::special("Spam", "\\Junk"))
        .mailbox(MailboxSpec::new("Ablage"));
    let dv = dovecot(config, &[USER]);
    let mut c = dv.client(USER).unwrap();
    c.append("INBOX", &[], Some(&days_ago(2)), &Mail::new(1, "Neu").to_bytes()).unwrap();
    c.append("INBOX", &[], Some(&days_ago(40)), &Mail::new(2, "Alt").to_bytes()).unwrap();
    c.append("Gesendet", &["\\Seen"], Some(&days_ago(45)), &Mail::new(3, "Alt gesendet").to_bytes()).unwrap();
    c.append("INBOX", &[], Some(&days_ago(400)), &Mail::new(4, "Nie gespeichert").to_bytes()).unwrap();
    dv
}

/// First synced with a 60-day window (so "Alt" is stored, "Nie gespeichert" is not), then
/// the window shrinks to 30 days.
fn aged_out(dv: &Dovecot, after_window: &str) -> (Env, String) {
    let env = Env::new();
    let folders = "[folders]\narchive = \"Ablage\"\nsync = [\"INBOX\", \"Gesendet\"]\n";
    env.write_account("mm", &account_toml(dv, USER, &format!("{folders}[sync]\nwindow_days = 60\n")));
    env.ok(&["sync", "--once"]);
    assert_eq!(env.messages("mm").len(), 3);
    let file = format!("{folders}[sync]\nwindow_days = 30\nafter_window = \"{after_window}\"\n");
    env.write_account("mm", &account_toml(dv, USER, &file));
    let out = env.ok(&["sync", "--once"]);
    (env, out)
}

#[test]
fn after_window_archive_moves_old_mail_and_the_store_keeps_it() {
    let dv = servers();
    let (env, out) = aged_out(&dv, "archive");
    assert!(out.contains("INBOX: 1 older than the sync window moved to Ablage"), "{out}");
    assert!(out.contains("Gesendet: 1 older than the sync window moved to Ablage"), "{out}");
    assert_eq!(count(&dv, "Ablage"), 2, "Alt and Alt gesendet");
    assert_eq!(count(&dv, "INBOX"), 2, "Neu, and Nie gespeichert, which was never stored and is left alone");
    assert_eq!(count(&dv, "Gesendet"), 0);
    for subject in ["Alt", "Alt gesendet"] {
        let m = message_by_subject(&env, "mm", subject).unwrap();
        assert_eq!(m["on_server"], false, "gone from the synced folders, kept in the store: {m}");
    }
    assert_eq!(message_by_subject(&env, "mm", "Neu").unwrap()["on_server"], true);
    // A second pass has nothing left to do.
    let out = env.ok(&["sync", "--once"]);
    assert!(!out.contains("moved"), "{out}");
}

#[test]
fn after_window_delete_removes_old_mail_from_the_server_only() {
    let dv = servers();
    let (env, out) = aged_out(&dv, "delete");
    assert!(out.contains("INBOX: 1 older than the sync window deleted on the server"), "{out}");
    assert_eq!(count(&dv, "Ablage"), 0);
    assert_eq!(count(&dv, "INBOX"), 2);
    assert_eq!(count(&dv, "Gesendet"), 0);
    assert_eq!(env.messages("mm").len(), 3, "the store keeps all three");
    assert_eq!(message_by_subject(&env, "mm", "Alt").unwrap()["on_server"], false);
}

#[test]
fn server_retention_days_clean_up_junk_per_role() {
    let dv = servers();
    let mut c = dv.client(USER).unwrap();
    c.append("Spam", &[], Some(&days_ago(20)), &Mail::new(5, "Alter Spam").to_bytes()).unwrap();
    c.append("Spam", &[], Some(&days_ago(3)), &Mail::new(6, "Neuer Spam").to_bytes()).unwrap();
    let env = Env::new();
    env.write_account("mm", &account_toml(&dv, USER, "[sync]\nserver_retention_days = { junk = 10, inbox = 0 }\n"));
    env.ok(&["sync", "--once"]);
    assert_eq!(count(&dv, "Spam"), 1, "only the old spam is deleted");
    assert_eq!(count(&dv, "INBOX"), 3, "inbox = 0 means never");
    assert_eq!(message_by_subject(&env, "mm", "Alter Spam").unwrap()["on_server"], false);
    assert_eq!(message_by_subject(&env, "mm", "Neuer Spam").unwrap()["on_server"], true);
}
