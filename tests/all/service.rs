//! Running as a systemd service (issue 18): the notification protocol spoken to a socket
//! the test reads, as systemd would see it — READY once the store is open, the accounts
//! started and the API listening; the watchdog fed from the main loop; RELOADING and READY
//! around SIGHUP; STOPPING on SIGTERM.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use postfach_test_harness::DovecotConfig;

use crate::support::{Env, account_toml, dovecot};

const USER: &str = "mm@muster-architekten.de";

/// The next notification, within `limit`.
fn next(socket: &UnixDatagram, limit: Duration) -> Option<String> {
    socket.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 4096];
    socket.recv(&mut buf).ok().map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// Notifications until one contains `wanted` (watchdog beats are counted, not returned).
fn until(socket: &UnixDatagram, wanted: &str, beats: &mut usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let Some(message) = next(socket, Duration::from_secs(1)) else { continue };
        if message == "WATCHDOG=1" {
            *beats += 1;
        }
        if message.contains(wanted) {
            return message;
        }
    }
    panic!("no {wanted} within 30 s");
}

#[test]
fn the_daemon_speaks_sd_notify_ready_watchdog_reloading_and_stopping() {
    let dv = dovecot(DovecotConfig::default(), &[USER]);
    let env = Env::new();
    env.write_account("mm", &account_toml(&dv, USER, ""));
    let path = env.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    let mut daemon = env.daemon_with_env(&[
        ("NOTIFY_SOCKET", path.to_str().unwrap()),
        // 400 ms: beats every 200 ms.
        ("WATCHDOG_USEC", "400000"),
    ]);
    let mut beats = 0;
    let ready = until(&socket, "READY=1", &mut beats);
    assert!(ready.contains(&format!("MAINPID={}", daemon.pid())), "{ready}");
    assert!(ready.contains("STATUS=1 accounts"), "{ready}");
    // Ready means serving: the API's address is recorded, the account is known.
    assert!(env.path().join("data/api.addr").exists(), "READY before the API listens");
    assert_ne!(env.account("mm")["state"], serde_json::Value::Null);
    let start = beats;
    let t = Instant::now();
    while beats < start + 5 {
        let m = next(&socket, Duration::from_secs(2)).expect("the watchdog stopped");
        if m == "WATCHDOG=1" {
            beats += 1;
        }
    }
    assert!(t.elapsed() < Duration::from_secs(5), "5 beats took {:?} at a 400 ms watchdog", t.elapsed());

    daemon.signal("HUP");
    let reloading = until(&socket, "RELOADING=1", &mut beats);
    assert!(reloading.contains("MONOTONIC_USEC="), "{reloading}");
    let again = until(&socket, "READY=1", &mut beats);
    assert!(again.contains("reloaded"), "{again}");

    daemon.signal("TERM");
    let stopping = until(&socket, "STOPPING=1", &mut beats);
    assert!(stopping.contains("STATUS=stopping"), "{stopping}");
    assert!(daemon.stop(), "the daemon did not exit after STOPPING");
}

#[test]
fn without_notify_socket_the_daemon_runs_as_before() {
    let env = Env::new();
    let daemon = env.daemon_with_env(&[("WATCHDOG_USEC", "100000")]);
    daemon.wait_for("the API", Duration::from_secs(30), || env.path().join("data/api.addr").exists().then_some(()));
    assert!(!daemon.log().contains("cannot notify"), "{}", daemon.log());
}

#[test]
fn the_unit_file_passes_systemd_analyze_verify() {
    let unit = std::fs::read_to_string(crate::support::repo_root().join("packaging/postfach.service")).unwrap();
    for line in [
        "Type=notify",
        "WatchdogSec=",
        "ExecReload=",
        "User=postfach",
        "StateDirectory=postfach",
        "ProtectSystem=strict",
        "SystemCallFilter=@system-service",
        "CapabilityBoundingSet=\n",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
    ] {
        assert!(unit.contains(line), "the unit lacks {line:?}");
    }
    // Verified against the binary this build made (the package installs it as /usr/bin/postfachd).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("postfach.service");
    std::fs::write(&path, unit.replace("/usr/bin/postfachd", crate::support::postfachd_bin())).unwrap();
    let out = std::process::Command::new("systemd-analyze").args(["verify", "--man=no"]).arg(&path).output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // Unknown keys and unparsable values are only warnings to systemd: any word fails.
    assert!(out.status.success() && said.trim().is_empty(), "systemd-analyze verify:\n{said}");
}

#[test]
fn docs_writes_a_man_page_per_command_and_completions_for_bash_zsh_and_fish() {
    let env = Env::new();
    let out = env.path().join("docs");
    env.ok(&["docs", "--out", &out.display().to_string()]);
    let man = |name: &str| std::fs::read_to_string(out.join("man/man1").join(name)).unwrap();
    assert!(man("postfachd.1").contains(".TH postfachd 1"), "{}", man("postfachd.1"));
    assert!(man("postfachd-backup.1").contains("\\-\\-to"), "{}", man("postfachd-backup.1"));
    assert!(!out.join("man/man1/postfachd-docs.1").exists(), "the hidden command got a page");
    let completion = |name: &str| std::fs::read_to_string(out.join("completions").join(name)).unwrap();
    assert!(completion("postfachd.bash").contains("restore"));
    assert!(completion("_postfachd").starts_with("#compdef postfachd"));
    assert!(completion("postfachd.fish").contains("complete -c postfachd"));
}
