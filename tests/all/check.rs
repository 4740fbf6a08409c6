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
