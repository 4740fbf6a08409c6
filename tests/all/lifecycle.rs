//! Account lifecycle in the running daemon: visible states with the server's words,
//! backoff, auto-disable after `max_failures`, and the enabled/receive switches.

use std::time::Duration;

use postfach_test_harness::mail::Mail;
use postfach_test_harness::{DovecotConfig, free_port};

use crate::support::{Env, PASSWORD, account_toml, dovecot};

const USER: &str = "mm@example.de";
const T: Duration = Duration::from_secs(30);

fn state(env: &Env, id: &str) -> (String, String) {
    let a = env.account(id);
    (a["state"].as_str().unwrap_or("").to_owned(), a["last_error"].as_str().unwrap_or("").to_owned())
}

#[test]
fn wrong_password_shows_auth_failed_with_the_servers_text() {
    let dv = dovecot(DovecotConfig::default(), &[USER]);
    let env = Env::new();
    env.write_account(
        "mm",
        &account_toml(&dv, USER, "[sync]\nretry_initial_secs = 60\n").replace(PASSWORD, "wrong-password"),
    );
    let daemon = env.daemon();
    let (s, e) = daemon.wait_for("auth-failed", T, || {
        let (s, e) = state(&env, "mm");
        (s == "auth-failed").then_some((s, e))
    });
    assert_eq!(s, "auth-failed");
    assert!(e.contains("[AUTHENTICATIONFAILED] Authentication failed."), "{e}");
    assert!(!daemon.log().contains("wrong-password"), "the password leaked into the log");
    assert!(!env.ok(&["accounts", "--json"]).contains("wrong-password"));
}

#[test]
fn refused_connection_backs_off_then_auto_disables_until_the_file_changes() {
    let dv = dovecot(DovecotConfig::default(), &[USER]);
    dv.client(USER).unwrap().append("INBOX", &[], None, &Mail::new(1, "Hallo").to_bytes()).unwrap();
    let env = Env::new();
    let closed = free_port();
    let broken = account_toml(&dv, USER, "[sync]\nmax_failures = 3\nretry_initial_secs = 1\nretry_max_secs = 2\n")
        .replace(&format!("port = {}", dv.imaps_port), &format!("port = {closed}"));
    env.write_account("mm", &broken);
    let mut daemon = env.daemon();

    let mut seen_backoff = false;
    let (_, error) = daemon.wait_for("auto-disable", T, || {
        let (s, e) = state(&env, "mm");
        seen_backoff |= s == "backing-off" && e.contains("refused");
        (s == "disabled").then_some((s, e))
    });
    assert!(seen_backoff, "never saw the backing-off state");
    assert!(error.contains("auto-disabled after 3 consecutive failures"), "{error}");
    assert!(error.contains(&format!("cannot connect to 127.0.0.1:{closed}")), "{error}");
    let failures = daemon.log().matches("sync failed").count();
    assert_eq!(failures, 2, "two retries before the third failure disables:\n{}", daemon.log());

    // Still disabled after a daemon restart while the file is unchanged.
    assert!(daemon.stop());
    let daemon = env.daemon();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(state(&env, "mm").0, "disabled");
    assert!(env.messages("mm").is_empty());

    // Fixing the file enables it again.
    env.write_account("mm", &broken.replace(&format!("port = {closed}"), &format!("port = {}", dv.imaps_port)));
    daemon.wait_for("sync after the fix", T, || {
        (state(&env, "mm").0 == "idle" && env.messages("mm").len() == 1).then_some(())
    });
    drop(daemon);
}

#[test]
fn enabled_and_receive_switches_are_respected() {
    let dv = dovecot(DovecotConfig::default(), &[USER]);
    dv.client(USER).unwrap().append("INBOX", &[], None, &Mail::new(1, "Hallo").to_bytes()).unwrap();
    let env = Env::new();
    env.write_account("off", &format!("enabled = false\n{}", account_toml(&dv, USER, "")));
    env.write_account("sendonly", &format!("receive = false\n{}", account_toml(&dv, USER, "")));
    env.write_account("on", &account_toml(&dv, USER, ""));
    let daemon = env.daemon();
    daemon.wait_for("on synced", T, || (state(&env, "on").0 == "idle").then_some(()));
    let (s, e) = state(&env, "off");
    assert_eq!(s, "disabled");
    assert!(e.contains("enabled = false"), "{e}");
    assert_eq!(state(&env, "sendonly").0, "send-only");
    assert_eq!(env.messages("on").len(), 1);
    assert!(env.messages("off").is_empty());
    assert!(env.messages("sendonly").is_empty());

    let out = env.ok(&["sync", "--once"]);
    assert!(out.contains("off: skipped (enabled = false)"), "{out}");
    assert!(out.contains("sendonly: skipped (receive = false)"), "{out}");
}
