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

/// SIGHUP restarts every account and re-reads its secrets: a password file fixed after
/// a failed login takes effect at once (the next retry would be an hour away), although
/// no account file changed.
#[test]
fn sighup_rereads_a_changed_password_file() {
    let dv = dovecot(DovecotConfig::default(), &["a@example.de"]);
    dv.client("a@example.de").unwrap().append("INBOX", &[], None, &Mail::new(1, "Hallo").to_bytes()).unwrap();
    let env = Env::new();
    std::fs::write(env.path().join("a.password"), "falsches-Passwort\n").unwrap();
    let toml = account_toml(&dv, "a@example.de", "[sync]\nretry_initial_secs = 3600\nretry_max_secs = 3600\n")
        .replace(&format!("password = \"{}\"", crate::support::PASSWORD), "password = { file = \"a.password\" }");
    env.write_account("a", &toml);
    let daemon = env.daemon();
    daemon.wait_for("auth-failed", T, || (env.account("a")["state"] == "auth-failed").then_some(()));
    std::fs::write(env.path().join("a.password"), format!("{}\n", crate::support::PASSWORD)).unwrap();
    daemon.signal("HUP");
    daemon.wait_for("a synced with the new password", T, || idle_with(&env, "a", 1));
    assert!(daemon.log().contains("SIGHUP: reloading every account"), "{}", daemon.log());
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

/// Config management tools deploy account files as symlinks: an edit of the target
/// (where the tool really writes) takes effect like an edit in the accounts directory,
/// and a dangling symlink is reported by `check` and `accounts`.
#[test]
fn symlinked_account_files_are_followed_and_dangling_ones_reported() {
    let dv = dovecot(DovecotConfig::default(), &["b@example.de"]);
    let mut cb = dv.client("b@example.de").unwrap();
    cb.create("Projekte").unwrap();
    cb.append("INBOX", &[], None, &Mail::new(1, "Für B").to_bytes()).unwrap();
    cb.append("Projekte", &[], None, &Mail::new(2, "Projekt B").to_bytes()).unwrap();
    let env = Env::new();
    let deploy = env.path().join("deploy");
    std::fs::create_dir_all(&deploy).unwrap();
    let inbox_only = account_toml(&dv, "b@example.de", "[folders]\nsync = [\"INBOX\"]\n[sync]\ninterval_secs = 1\n");
    std::fs::write(deploy.join("b.toml"), &inbox_only).unwrap();
    std::os::unix::fs::symlink(deploy.join("b.toml"), env.account_path("b")).unwrap();
    let daemon = env.daemon();
    daemon.wait_for("b synced", T, || idle_with(&env, "b", 1));

    // The tool rewrites the target (atomically, in its own directory).
    let tmp = deploy.join(".b.toml.new");
    std::fs::write(&tmp, inbox_only.replace("sync = [\"INBOX\"]", "sync = [\"INBOX\", \"Projekte\"]")).unwrap();
    std::fs::rename(&tmp, deploy.join("b.toml")).unwrap();
    daemon.wait_for("b restarted from the edited target", T, || idle_with(&env, "b", 2));

    std::os::unix::fs::symlink(env.path().join("gone/ghost.toml"), env.account_path("ghost")).unwrap();
    let out = env.run(&["check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ghost.toml:1:1: dangling symlink"), "{stderr}");
    daemon.wait_for("the dangling symlink in accounts", T, || {
        Some(env.account("ghost")).filter(|g| {
            g["state"] == "config-error" && g["config_error"].as_str().is_some_and(|e| e.contains("dangling"))
        })
    });
}

/// A file written in place in pieces (a tool appending 300 ms apart) is applied once,
/// complete: its valid first half (no routers) never runs, so nothing is unrouted.
#[test]
fn a_file_written_in_pieces_is_applied_once_complete() {
    let dv = dovecot(DovecotConfig::default(), &["a@example.de"]);
    let mut ca = dv.client("a@example.de").unwrap();
    for n in 1..=3 {
        ca.append("INBOX", &[], None, &Mail::new(n, &format!("[P-210-0{n}] Plan")).to_bytes()).unwrap();
    }
    let env = Env::new();
    let routed = "[routing]\nplugins = [\"subject-tag\"]\n";
    let first = account_toml(&dv, "a@example.de", "[sync]\ninterval_secs = 1\n");
    env.write_account("a", &format!("{first}{routed}"));
    let daemon = env.daemon();
    daemon.wait_for("a synced and routed", T, || {
        let m = env.messages("a");
        (m.len() == 3 && m.iter().all(|m| m["project"].is_string())).then_some(())
    });
    // Rewrite in place: the first piece alone is a valid file without routers.
    let second = first.replace("interval_secs = 1", "interval_secs = 2");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(env.account_path("a")).unwrap();
        f.write_all(second.as_bytes()).unwrap();
        f.sync_all().unwrap();
        std::thread::sleep(Duration::from_millis(300));
        f.write_all(routed.as_bytes()).unwrap();
    }
    daemon.wait_for("the restart with the complete file", T, || {
        daemon.log().contains("account file changed; restarting").then_some(())
    });
    daemon.wait_for("a idle again", T, || idle_with(&env, "a", 3));
    let log = daemon.log();
    assert_eq!(log.matches("account file changed; restarting").count(), 1, "applied more than once:\n{log}");
    let unrouted = crate::support::events(&env, "a").iter().filter(|(k, _)| k == "unrouted").count();
    assert_eq!(unrouted, 0, "the half-written file ran without routers");
}

/// A second `default = true` is the error of the file that was just edited to claim it;
/// the account that had the default keeps it and keeps running untouched.
#[test]
fn a_second_default_is_blamed_on_the_file_that_claimed_it() {
    let dv = dovecot(DovecotConfig::default(), &["arch@example.de", "app@example.de"]);
    let env = Env::new();
    let arch = account_toml(&dv, "arch@example.de", "").replace("[identity]", "default = true\n\n[identity]");
    let app = account_toml(&dv, "app@example.de", "");
    env.write_account("zz-architekt", &arch);
    env.write_account("app", &app);
    let daemon = env.daemon();
    daemon.wait_for("both synced", T, || idle_with(&env, "app", 0).and_then(|()| idle_with(&env, "zz-architekt", 0)));
    // The default's file was written an hour ago, so "the file edited last" is certain.
    let old = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options().write(true).open(env.account_path("zz-architekt")).unwrap().set_modified(old).unwrap();
    env.write_account("app", &app.replace("[identity]", "default = true\n\n[identity]"));
    let error =
        daemon.wait_for("the error on app", T, || env.account("app")["config_error"].as_str().map(str::to_owned));
    let at =
        format!("{}:3:1: default = true is already set by account `zz-architekt`", env.account_path("app").display());
    assert!(error.contains(&at), "{error}");
    let arch_now = env.account("zz-architekt");
    assert!(arch_now["config_error"].is_null(), "{arch_now}");
    assert_eq!(arch_now["default"], true);
    let log = daemon.log();
    assert!(!log.lines().any(|l| l.contains("restarting") && l.contains("zz-architekt")), "{log}");
    // `check` (no daemon state to go by) blames the file edited last as well.
    let out = env.run(&["check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&at), "{stderr}");
    let blamed = env.account_path("zz-architekt").display().to_string();
    assert!(!stderr.lines().any(|l| l.starts_with(&blamed)), "{stderr}");
}
