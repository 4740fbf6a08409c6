//! Transport security and authentication against Dovecot with the run's CA.

use postfach_test_harness::DovecotConfig;
use postfach_test_harness::mail::Mail;

use postfach_test_harness::RecordingProxy;

use crate::support::{Env, PASSWORD, account_toml, dovecot};

const USER: &str = "mm@example.de";

fn seeded() -> postfach_test_harness::Dovecot {
    let dv = dovecot(DovecotConfig::default(), &[USER]);
    dv.client(USER).unwrap().append("INBOX", &[], None, &Mail::new(1, "Hallo").to_bytes()).unwrap();
    dv
}

#[test]
fn tls_with_the_runs_ca_works_and_without_it_is_rejected() {
    let dv = seeded();
    let env = Env::new();
    env.write_account("ok", &account_toml(&dv, USER, ""));
    let untrusted = account_toml(&dv, USER, "").replace(&format!("tls_ca_file = \"{}\"\n", dv.ca_file().display()), "");
    env.write_account("untrusted", &untrusted);

    env.ok(&["sync", "ok", "--once"]);
    assert_eq!(env.subjects("ok", None), ["Hallo"]);

    let out = env.run(&["sync", "untrusted", "--once"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("TLS handshake with 127.0.0.1 failed"), "{err}");
    assert!(err.contains("UnknownIssuer"), "{err}");
    assert!(err.contains("tls_ca_file"), "hint missing: {err}");
    assert!(env.messages("untrusted").is_empty());
}

#[test]
fn starttls_logs_in() {
    let dv = seeded();
    let env = Env::new();
    let toml = account_toml(&dv, USER, "")
        .replace(&format!("port = {}", dv.imaps_port), &format!("port = {}", dv.imap_port))
        .replace("security = \"tls\"", "security = \"starttls\"");
    env.write_account("starttls", &toml);
    let out = env.ok(&["sync", "--once"]);
    assert!(out.contains("starttls: 1 new"), "{out}");
    // Dovecot marks sessions that upgraded with STARTTLS as TLS.
    assert!(
        dv.log().lines().any(|l| l.contains("Login: user=<mm@example.de>") && l.contains(", TLS,")),
        "{}",
        dv.log()
    );
}

#[test]
fn each_auth_mechanism_sends_its_own_command() {
    let dv = seeded();
    let env = Env::new();
    let target = ([127, 0, 0, 1], dv.imap_port).into();
    let mut proxies = Vec::new();
    for (id, auth) in [("plain", "plain"), ("login", "login"), ("cram", "cram-md5")] {
        let proxy = RecordingProxy::start(target).unwrap();
        let toml = account_toml(&dv, USER, "")
            .replace(&format!("port = {}", dv.imaps_port), &format!("port = {}", proxy.port))
            .replace("security = \"tls\"", &format!("security = \"plain\"\nallow_plaintext = true\nauth = \"{auth}\""));
        env.write_account(id, &toml);
        proxies.push((id, proxy));
    }
    let out = env.ok(&["sync", "--once"]);
    for (id, proxy) in &proxies {
        assert!(out.contains(&format!("{id}: 1 new")), "{out}");
        let wire = proxy.client_text();
        let expected = match *id {
            "plain" => "AUTHENTICATE PLAIN\r\n",
            "login" => &format!("LOGIN \"{USER}\" \"{PASSWORD}\"\r\n"),
            _ => "AUTHENTICATE CRAM-MD5\r\n",
        };
        assert!(wire.contains(expected), "{id}: `{expected}` not sent:\n{wire}");
        assert!(wire.contains("CAPABILITY"), "capabilities are re-read after login:\n{wire}");
    }
    // With CRAM-MD5 the password itself never crosses the wire.
    assert!(!proxies[2].1.client_text().contains(PASSWORD));
}

#[test]
fn plaintext_login_is_refused_by_the_server_with_its_words() {
    let dv = seeded();
    let env = Env::new();
    let toml = account_toml(&dv, USER, "")
        .replace("host = \"127.0.0.1\"", "host = \"127.0.0.2\"")
        .replace(&format!("port = {}", dv.imaps_port), &format!("port = {}", dv.imap_insecure_port))
        .replace("security = \"tls\"", "security = \"plain\"\nallow_plaintext = true\nauth = \"login\"");
    env.write_account("plain", &toml);
    let out = env.run(&["folders", "plain", "--refresh"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("login as mm@example.de failed"), "{err}");
    assert!(err.contains("Plaintext authentication disallowed"), "{err}");
    assert!(!err.contains(PASSWORD), "{err}");
}

#[test]
fn wrong_server_data_on_folder_refresh_gives_clear_errors() {
    let dv = seeded();
    let env = Env::new();
    let closed = postfach_test_harness::free_port();
    env.write_account(
        "port",
        &account_toml(&dv, USER, "").replace(&format!("port = {}", dv.imaps_port), &format!("port = {closed}")),
    );
    env.write_account("pass", &account_toml(&dv, USER, "").replace(PASSWORD, "falsch"));

    let out = env.run(&["folders", "port", "--refresh"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains(&format!("cannot connect to 127.0.0.1:{closed}")) && err.contains("refused"), "{err}");

    let out = env.run(&["folders", "pass", "--refresh"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("login as mm@example.de failed: [AUTHENTICATIONFAILED] Authentication failed."), "{err}");
    assert!(!err.contains("falsch"), "{err}");
}

/// TLS client configs are shared per CA file while its content stays the same (a thousand
/// accounts naming one company CA hold one root store, not a thousand), and an edited file
/// takes effect at the next connection.
#[test]
fn client_configs_are_shared_per_ca_file_and_follow_edits() {
    use std::sync::Arc;
    let (a, b) = (dovecot(DovecotConfig::default(), &[USER]), dovecot(DovecotConfig::default(), &[USER]));
    let env = Env::new();
    let ca = env.path().join("company-ca.pem");
    std::fs::copy(a.ca_file(), &ca).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let connect = |port: u16| {
        runtime.block_on(async {
            let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            postfach::net::tls::handshake(tcp, "127.0.0.1", Some(&ca)).await.map(drop)
        })
    };

    let first = postfach::net::tls::client_config(Some(&ca)).unwrap();
    assert!(Arc::ptr_eq(&first, &postfach::net::tls::client_config(Some(&ca)).unwrap()), "same file, same config");
    connect(a.imaps_port).unwrap();
    // Both CAs have the same name, so rustls reports a bad signature.
    let err = connect(b.imaps_port).unwrap_err().to_string();
    assert!(err.contains("invalid peer certificate"), "{err}");

    std::fs::copy(b.ca_file(), &ca).unwrap();
    let edited = postfach::net::tls::client_config(Some(&ca)).unwrap();
    assert!(!Arc::ptr_eq(&first, &edited), "an edited file must give a new config");
    connect(b.imaps_port).unwrap();
    assert!(connect(a.imaps_port).is_err());

    std::fs::remove_file(&ca).unwrap();
    let err = postfach::net::tls::client_config(Some(&ca)).unwrap_err().to_string();
    assert!(err.starts_with(&format!("tls_ca_file {}", ca.display())), "{err}");
}
