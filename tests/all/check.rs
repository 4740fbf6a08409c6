//! `postfachd check` on broken files: every problem reported as path:line:col.

use crate::support::Env;

fn write(env: &Env, id: &str, body: &str) {
    std::fs::write(env.account_path(id), body).unwrap();
}

const IDENTITY: &str = "[identity]\nemail = \"mm@example.de\"\n";

#[test]
fn check_reports_every_broken_file_with_its_location() {
    let env = Env::new();
    write(&env, "good", &format!("description = \"Gut\"\n{IDENTITY}[imap]\nhost = \"imap.example.de\"\n"));
    write(&env, "bad-toml", "description = \"Kaputt\"\n[identity\nemail = \"a@b.de\"\n");
    write(
        &env,
        "unknown-key",
        &format!("description = \"Tippfehler\"\n{IDENTITY}[imap]\nhost = \"h\"\npasword = \"x\"\n"),
    );
    write(
        &env,
        "archive",
        &format!("description = \"Archiv\"\n{IDENTITY}[sync]\nwindow_days = 30\nafter_window = \"archive\"\n"),
    );
    write(&env, "default-a", &format!("description = \"A\"\ndefault = true\n{IDENTITY}"));
    write(&env, "default-b", &format!("description = \"B\"\n\ndefault = true\n{IDENTITY}"));
    write(
        &env,
        "plain",
        &format!(
            "description = \"Klartext\"\n{IDENTITY}[imap]\nhost = \"h\"\nsecurity = \"plain\"\npassword = \"x\"\n"
        ),
    );

    let out = env.run(&["check"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let accounts = env.path().join("accounts");
    let at = |file: &str, line: u32, col: u32| format!("{}:{line}:{col}: ", accounts.join(file).display());
    let expect = [
        (at("archive.toml", 6, 16), "after_window = \"archive\" needs folders.archive"),
        (at("bad-toml.toml", 2, 10), "unclosed table, expected `]`"),
        (at("default-b.toml", 3, 1), "default = true is already set by account `default-a`"),
        (at("plain.toml", 6, 12), "security = \"plain\" would send the password unencrypted"),
        (at("unknown-key.toml", 6, 1), "unknown field `pasword`"),
    ];
    for (location, message) in &expect {
        assert!(
            stderr.lines().any(|l| l.starts_with(location.as_str()) && l.contains(message)),
            "missing `{location}{message}` in:\n{stderr}"
        );
    }
    assert!(stderr.contains("5 problems found"), "{stderr}");
    assert!(!stderr.contains("good.toml"), "{stderr}");
}

#[test]
fn check_passes_a_valid_directory() {
    let env = Env::new();
    write(&env, "good", &format!("description = \"Gut\"\n{IDENTITY}[imap]\nhost = \"imap.example.de\"\n"));
    let out = env.ok(&["check"]);
    assert_eq!(out.trim(), "ok: 1 account (good)");
}

#[test]
fn check_reports_missing_secrets_without_printing_them() {
    let env = Env::new();
    write(
        &env,
        "env",
        &format!(
            "description = \"E\"\n{IDENTITY}[imap]\nhost = \"h\"\npassword = {{ env = \"POSTFACH_TEST_UNSET_VAR\" }}\n"
        ),
    );
    write(
        &env,
        "inline",
        &format!(
            "description = \"I\"\n{IDENTITY}[imap]\nhost = \"h\"\nsecurity = \"plain\"\npassword = \"TopSecret123\"\n"
        ),
    );
    let out = env.run(&["check"]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("environment variable `POSTFACH_TEST_UNSET_VAR` is not set"), "{stderr}");
    assert!(!stderr.contains("TopSecret123"), "{stderr}");
}

/// A secret field with the wrong type is reported by position and type, never by value:
/// not by `check`, not in `accounts --json`, not in the running daemon's log.
#[test]
fn a_secret_of_the_wrong_type_is_never_printed_back() {
    let env = Env::new();
    let secrets = ["987654321", "424242", "8642097531", "1357924680"];
    write(&env, "int", &format!("description = \"I\"\n{IDENTITY}[imap]\nhost = \"h\"\npassword = {}\n", secrets[0]));
    write(
        &env,
        "env",
        &format!("description = \"E\"\n{IDENTITY}[imap]\nhost = \"h\"\npassword = {{ env = {} }}\n", secrets[1]),
    );
    write(
        &env,
        "cmd",
        &format!(
            "description = \"C\"\n{IDENTITY}[imap]\nhost = \"h\"\npassword = {{ command = [\"pass\", {}] }}\n",
            secrets[2]
        ),
    );
    write(&env, "smtp", &format!("description = \"S\"\n{IDENTITY}[smtp]\nhost = \"h\"\npassword = {}.5\n", secrets[3]));
    let out = env.run(&["check"]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    // The line is exact; inside an inline table the column is toml's choice.
    let at = |file: &str, line: u32| format!("{}:{line}:", env.path().join("accounts").join(file).display());
    for (location, kind) in [
        (at("int.toml", 6) + "12: ", "invalid type: an integer"),
        (at("env.toml", 6), "invalid type: an integer, expected a string"),
        (at("cmd.toml", 6), "invalid type: an integer, expected a string"),
        (at("smtp.toml", 6) + "12: ", "invalid type: a float"),
    ] {
        assert!(stderr.lines().any(|l| l.starts_with(&location) && l.contains(kind)), "{location} {kind}:\n{stderr}");
    }
    let daemon = env.daemon();
    daemon.wait_for("the accounts in config-error", std::time::Duration::from_secs(15), || {
        let all = env.json(&["accounts"]);
        (all.as_array().unwrap().iter().filter(|a| a["state"] == "config-error").count() == 4).then_some(())
    });
    let accounts = env.ok(&["accounts", "--json"]);
    assert!(accounts.contains("invalid type: an integer"), "{accounts}");
    let log = daemon.log();
    for secret in secrets {
        assert!(!stderr.contains(secret), "check printed {secret}:\n{stderr}");
        assert!(!accounts.contains(secret), "accounts --json printed {secret}:\n{accounts}");
        assert!(!log.contains(secret), "the daemon logged {secret}:\n{log}");
    }
}

/// Every number has a documented range; values beyond it are refused by `check` and
/// by the loader at the value's position, instead of overflowing later.
#[test]
fn numbers_outside_their_range_are_config_errors() {
    let env = Env::new();
    let cases = [
        ("window", "[sync]\nwindow_days = 100000000\n", "window_days must be between 1 and 36500"),
        (
            "retention",
            "[sync]\nserver_retention_days = { junk = 100000000 }\n",
            "server_retention_days.junk must be between 0 and 36500",
        ),
        ("interval", "[sync]\ninterval_secs = 18446744073709551615\n", "interval_secs must be between 1 and 86400"),
        (
            "giveup",
            "[smtp]\ngive_up_after_hours = 18446744073709551615\n",
            "give_up_after_hours must be between 1 and 8760",
        ),
        ("timeout", "[imap]\ntimeout_secs = 86400\n", "timeout_secs must be between 1 and 3600"),
        ("failures", "[sync]\nmax_failures = 0\n", "max_failures must be between 1 and 1000"),
        ("renew", "[sync]\nidle_renew_secs = 3600\n", "idle_renew_secs must be between 10 and 1740"),
    ];
    for (id, extra, _) in cases {
        write(&env, id, &format!("description = \"{id}\"\n{IDENTITY}{extra}"));
    }
    let out = env.run(&["check"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    for (id, _, message) in cases {
        let file = format!("{}:5:", env.account_path(id).display());
        assert!(stderr.lines().any(|l| l.starts_with(&file) && l.contains(message)), "{id}: {message}\n{stderr}");
    }
    // The same files make `sync --once` fail cleanly (no panic, exit 1, the same words).
    let out = env.run(&["sync", "window", "--once"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("window_days must be between"));
}

/// `check` loads the plugins and validates what `run` would reject: an unknown provider
/// or router, an empty host, a CA file that is no certificate or a directory.
#[test]
fn check_finds_what_run_would_reject() {
    let env = Env::new();
    let not_pem = env.path().join("not-a-cert.pem");
    std::fs::write(&not_pem, "this is no certificate\n").unwrap();
    let ca_body = format!(
        "[identity]\nemail = \"mm@example.de\"\n[imap]\nhost = \"h\"\ntls_ca_file = \"{}\"\n",
        not_pem.display()
    );
    let cases = [
        (
            "provider",
            "provider = \"nosuch\"\n[identity]\nemail = \"mm@example.de\"\n",
            2,
            "provider = \"nosuch\" names no loaded provider adapter",
        ),
        (
            "router",
            "[identity]\nemail = \"mm@example.de\"\n[routing]\nplugins = [\"nosuch\"]\n",
            5,
            "routing.plugins names `nosuch`, which is no loaded router",
        ),
        ("host", "[identity]\nemail = \"mm@example.de\"\n[imap]\nhost = \"\"\n", 5, "imap.host must be a host name"),
        ("ca", ca_body.as_str(), 6, "contains no PEM certificate"),
        (
            "ca-dir",
            "[identity]\nemail = \"mm@example.de\"\n[imap]\nhost = \"h\"\ntls_ca_file = \"/tmp\"\n",
            6,
            "is a directory, not a PEM file",
        ),
    ];
    for (id, body, _, _) in &cases {
        write(&env, id, &format!("description = \"{id}\"\n{body}"));
    }
    let out = env.run(&["check"]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    for (id, _, line, message) in &cases {
        let at = format!("{}:{line}:", env.account_path(id).display());
        assert!(stderr.lines().any(|l| l.starts_with(&at) && l.contains(message)), "{id}: {message}\n{stderr}");
    }
    assert!(stderr.contains("5 problems found"), "{stderr}");
}

/// The smaller config-file problems: a duplicate key is named, bad UTF-8 is located at
/// the bad byte, an accounts_dir that is a file is one clear error, and a missing
/// accounts directory is a note for `check` (as `run` creates it), not an error.
#[test]
fn small_config_problems_are_reported_precisely() {
    let env = Env::new();
    write(&env, "dup", &format!("description = \"D\"\n{IDENTITY}[imap]\nhost = \"h\"\nhost = \"i\"\n"));
    std::fs::write(env.account_path("latin1"), b"description = \"M\xfcller\"\n[identity]\nemail = \"m@x.de\"\n")
        .unwrap();
    let out = env.run(&["check"]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    let dup = format!("{}:6:1: duplicate key `host`", env.account_path("dup").display());
    assert!(stderr.contains(&dup), "{stderr}");
    let latin = format!("{}:1:17: invalid UTF-8 (byte 0xFC)", env.account_path("latin1").display());
    assert!(stderr.contains(&latin), "{stderr}");

    let env = Env::new();
    std::fs::remove_dir(env.path().join("accounts")).unwrap();
    let out = env.ok(&["check"]);
    assert!(out.contains("does not exist yet; postfachd run creates it"), "{out}");
    assert!(out.contains("ok: 0 accounts"), "{out}");

    let toml = std::fs::read_to_string(env.path().join("postfach.toml")).unwrap();
    std::fs::write(
        env.path().join("postfach.toml"),
        toml.replace("accounts_dir = \"accounts\"", "accounts_dir = \"postfach.toml\""),
    )
    .unwrap();
    for args in [&["check"][..], &["run"][..]] {
        let out = env.run(args);
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let expected = format!("{}:2:16: accounts_dir: ", env.path().join("postfach.toml").display());
        assert!(stderr.contains(&expected) && stderr.contains("is a file, not a directory"), "{args:?}: {stderr}");
        assert_eq!(stderr.matches("is a file").count(), 1, "said once: {stderr}");
        assert!(!stderr.contains("os error"), "{stderr}");
    }
}
