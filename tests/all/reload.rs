//! Hot reload: adding, editing and removing account files while the daemon runs; a
//! broken file keeps the last good version running; SIGHUP restarts everything.

use std::time::Duration;

use postfach_test_harness::DovecotConfig;
use postfach_test_harness::mail::Mail;

use crate::support::{Env, account_toml, dovecot};

const T: Duration = Duration::from_secs(30);

fn idle_with(env: &Env, id: &str, n: usize) -> Option<()> {
    (env.account(id)["state"] == "idle" && env.messages(id).len() == n).then_some(())
}

#[test]
fn add_edit_break_and_remove_account_files_while_running() {
    let dv = dovecot(DovecotConfig::default(), &["a@example.de", "b@example.de"]);
    let mut ca = dv.client("a@example.de").unwrap();
    ca.append("INBOX", &[], None, &Mail::new(1, "Für A").to_bytes()).unwrap();
    let mut cb = dv.client("b@example.de").unwrap();
    cb.create("Projekte").unwrap();
    cb.append("INBOX", &[], None, &Mail::new(2, "Für B").to_bytes()).unwrap();
    cb.append("Projekte", &[], None, &Mail::new(3, "Projekt B").to_bytes()).unwrap();

    let env = Env::new();
    env.write_account("a", &account_toml(&dv, "a@example.de", "[sync]\ninterval_secs = 1\n"));
    let daemon = env.daemon();
    daemon.wait_for("a synced", T, || idle_with(&env, "a", 1));

    // Add: b starts, syncing only INBOX.
    let b_inbox_only = account_toml(&dv, "b@example.de", "[folders]\nsync = [\"INBOX\"]\n[sync]\ninterval_secs = 1\n");
    env.write_account("b", &b_inbox_only);
    daemon.wait_for("b started and synced", T, || idle_with(&env, "b", 1));

    // Edit: b restarts with the new settings and now syncs Projekte too.
    env.write_account("b", &b_inbox_only.replace("sync = [\"INBOX\"]", "sync = [\"INBOX\", \"Projekte\"]"));
    daemon.wait_for("b restarted with new settings", T, || idle_with(&env, "b", 2));

    // Broken: b keeps running on its last good config, with the problem visible.
    env.write_account("b", "description = \"kaputt\"\n[identity\n");
    daemon.wait_for("b's config error visible", T, || {
        let b = env.account("b");
        b["config_error"].as_str().is_some_and(|e| e.contains("b.toml:2:")).then_some(())
    });
    cb.append("INBOX", &[], None, &Mail::new(4, "Noch für B").to_bytes()).unwrap();
    daemon.wait_for("b still syncing on its last good config", T, || idle_with(&env, "b", 3));
    assert_eq!(env.account("b")["description"], "Test account b@example.de");

    // Remove: b stops; its mail stays in the store.
    env.remove_account("b");
    daemon.wait_for("b stopped", T, || (env.account("b")["state"] == "removed").then_some(()));
    assert_eq!(env.messages("b").len(), 3);

    // a was never restarted by any of this.
    let log = daemon.log();
    assert_eq!(log.lines().filter(|l| l.contains("supervisor: starting account")).count(), 2, "{log}");
    assert!(log.lines().filter(|l| l.contains("restarting")).all(|l| l.contains("account=b")), "{log}");
    assert_eq!(env.account("a")["state"], "idle");
}

#[test]
fn sighup_restarts_every_account() {
    let dv = dovecot(DovecotConfig::default(), &["a@example.de"]);
    let env = Env::new();
    env.write_account("a", &account_toml(&dv, "a@example.de", ""));
    let daemon = env.daemon();
    daemon.wait_for("a synced", T, || idle_with(&env, "a", 0));
    daemon.signal("HUP");
    daemon.wait_for("restart after SIGHUP", T, || {
        daemon.log().contains("account file changed; restarting").then_some(())
    });
    daemon.wait_for("a synced again", T, || idle_with(&env, "a", 0));
}

#[test]
fn sigterm_stops_cleanly_and_marks_accounts_stopped() {
    let dv = dovecot(DovecotConfig::default(), &["a@example.de"]);
    let env = Env::new();
    env.write_account("a", &account_toml(&dv, "a@example.de", ""));
    let mut daemon = env.daemon();
    daemon.wait_for("a synced", T, || idle_with(&env, "a", 0));
    assert!(daemon.stop(), "postfachd did not exit 0 on SIGTERM:\n{}", daemon.log());
    assert_eq!(env.account("a")["state"], "stopped");
    assert!(env.account("a")["last_sync"].is_string());
}
