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
    let listed = env.account("mm");
    assert!(listed["disabled_reason"].as_str().is_some_and(|r| r.starts_with("auto-disabled after 3")), "{listed}");
    let table = env.ok(&["accounts"]);
    assert!(
        table.lines().any(|l| l.starts_with("mm ") && l.contains("disabled") && l.contains("no (auto)")),
        "{table}"
    );
    let failures = daemon.log().matches("sync failed").count();
    assert_eq!(failures, 2, "two retries before the third failure disables:\n{}", daemon.log());

    // Still disabled after a daemon restart while the file is unchanged — although the
    // server now answers on that port: a relay to Dovecot listens there and records
    // every connection.
    assert!(daemon.stop());
    let relay =
        postfach_test_harness::RecordingProxy::start_on(closed, ([127, 0, 0, 1], dv.imaps_port).into()).unwrap();
    let daemon = env.daemon();
    daemon.wait_for("the restarted daemon to keep it disabled", T, || {
        daemon.log().contains("still auto-disabled").then_some(())
    });
    assert_eq!(state(&env, "mm").0, "disabled");
    assert!(env.messages("mm").is_empty());
    assert!(relay.client_text().is_empty() && relay.server_text().is_empty(), "the disabled account connected");
    drop(relay);

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

/// SIGTERM ends the daemon at once even while a password command hangs (the command is
/// killed), and a one-shot sync waits for a password command only `timeout_secs`.
#[test]
fn a_hanging_password_command_delays_neither_shutdown_nor_sync() {
    let dv = dovecot(DovecotConfig::default(), &[USER]);
    let env = Env::new();
    let hanging = account_toml(&dv, USER, "")
        .replace(&format!("password = \"{PASSWORD}\""), "password = { command = [\"sleep\", \"100\"] }")
        .replace("timeout_secs = 10", "timeout_secs = 2");
    env.write_account("mm", &hanging);
    let out = env.run(&["sync", "--once"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("password command `sleep` did not finish within 2s (timeout_secs)"), "{stderr}");

    env.write_account("mm", &hanging.replace("timeout_secs = 2", "timeout_secs = 600"));
    let mut daemon = env.daemon();
    let pid = daemon.pid();
    let sleeping = || {
        let out = std::process::Command::new("pgrep").args(["-P", &pid.to_string(), "sleep"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let child = daemon.wait_for("the password command to run", T, || Some(sleeping()).filter(|s| !s.is_empty()));
    // `stop` gives up after 20 s; the command alone would take 100 s (600 s allowed).
    assert!(daemon.stop(), "postfachd did not exit promptly on SIGTERM:\n{}", daemon.log());
    assert!(!std::path::Path::new(&format!("/proc/{child}")).exists(), "the password command outlived postfachd");
}

/// An account task that dies (here by an injected panic, in a debug build) is never a
/// silently dead account: it shows `failed` with the reason and is restarted.
#[test]
fn a_panicking_account_task_is_shown_failed_and_restarted() {
    let dv = dovecot(DovecotConfig::default(), &[USER]);
    let env = Env::new();
    env.write_account("mm", &account_toml(&dv, USER, "[sync]\nretry_initial_secs = 1\nretry_max_secs = 2\n"));
    env.write_account("ok", &account_toml(&dv, USER, ""));
    let daemon = env.daemon_with_env(&[("POSTFACH_FAULT_PANIC", "mm")]);
    let (_, error) = daemon.wait_for("state failed", T, || {
        let (s, e) = state(&env, "mm");
        (s == "failed").then_some((s, e))
    });
    assert!(error.contains("internal error: injected fault"), "{error}");
    daemon.wait_for("a restart after the first failure", T, || {
        (daemon.log().matches("account task failed; restarting").count() >= 2).then_some(())
    });
    assert_eq!(state(&env, "ok").0, "idle", "the other account is unaffected");
}

/// `sync --once` while the daemon runs the same account leaves the daemon's state alone.
#[test]
fn a_one_shot_sync_does_not_overwrite_the_running_daemons_state() {
    let dv = dovecot(DovecotConfig::default(), &[USER]);
    dv.client(USER).unwrap().append("INBOX", &[], None, &Mail::new(1, "Hallo").to_bytes()).unwrap();
    let env = Env::new();
    env.write_account("mm", &account_toml(&dv, USER, "[sync]\ninterval_secs = 3600\n"));
    let daemon = env.daemon();
    daemon.wait_for("idle", T, || (state(&env, "mm").0 == "idle").then_some(()));
    let out = env.ok(&["sync", "mm", "--once"]);
    assert!(out.contains("mm: 0 new"), "{out}");
    assert_eq!(state(&env, "mm").0, "idle", "the daemon is still syncing this account");
    drop(daemon);
}

/// A fixed file is never listed as `config-error` without an error to show: the state
/// the store recorded for the broken file is stale once the file loads.
#[test]
fn a_fixed_file_is_not_listed_as_config_error_without_a_reason() {
    let dv = dovecot(DovecotConfig::default(), &[USER]);
    let env = Env::new();
    env.write_account("mm", "description = \"kaputt\"\n[identity\n");
    let mut daemon = env.daemon();
    daemon.wait_for("config-error", T, || (state(&env, "mm").0 == "config-error").then_some(()));
    // Killed: the store keeps the state it recorded for the broken file.
    daemon.kill9();
    env.write_account("mm", &account_toml(&dv, USER, ""));
    let a = env.account("mm");
    assert!(a["state"] != "config-error" || a["config_error"].is_string(), "{a}");
    assert_eq!(a["state"], "stopped", "{a}");
}

/// Seconds of the day of each Dovecot login of `users` in `log` (`Dec 02 15:40:01
/// imap-login: Info: Login: user=<…>`).
fn login_seconds(log: &str, users: &[&str]) -> Vec<i64> {
    log.lines()
        .filter(|l| users.iter().any(|u| l.contains(&format!("Login: user=<{u}>"))))
        .filter_map(|l| {
            let time = l.split_whitespace().nth(2)?;
            let mut parts = time.split(':').map(|p| p.parse::<i64>().ok());
            Some(parts.next()?? * 3600 + parts.next()?? * 60 + parts.next()??)
        })
        .collect()
}

#[test]
fn imap_logins_per_minute_spreads_the_logins_of_many_accounts_to_one_server() {
    let users = ["a@example.de", "b@example.de", "c@example.de", "d@example.de"];
    let dv = dovecot(DovecotConfig::default(), &users);
    let env = Env::new();
    let daemon_file = env.path().join("postfach.toml");
    let settings = std::fs::read_to_string(&daemon_file).unwrap();
    // One login a second to this server, whatever the number of accounts.
    std::fs::write(&daemon_file, format!("imap_logins_per_minute = 60\n{settings}")).unwrap();
    for (i, user) in users.iter().enumerate() {
        env.write_account(&format!("konto{i}"), &account_toml(&dv, user, ""));
    }
    // The harness logged in each user once while setting up; only the daemon's count.
    let before = dv.log().len();
    let daemon = env.daemon();
    daemon.wait_for("every account idle", T, || {
        (0..users.len()).all(|i| state(&env, &format!("konto{i}")).0 == "idle").then_some(())
    });
    let mut seconds = login_seconds(&dv.log()[before..], &users);
    seconds.sort_unstable();
    assert!(seconds.len() >= users.len(), "{seconds:?}\n{}", dv.log());
    // Four logins a second apart span three seconds; at once they would share one or two.
    let span = seconds[users.len() - 1] - seconds[0];
    assert!(span >= 2, "the first four logins came within {span} s: {seconds:?}");

    // A value out of range is refused with its place in the file.
    std::fs::write(&daemon_file, format!("imap_logins_per_minute = 100000\n{settings}")).unwrap();
    let out = env.run(&["check"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(
        err.contains("postfach.toml:1:") && err.contains("imap_logins_per_minute must be between 0 and 6000"),
        "{err}"
    );
}
