//! Security checks against real servers: secrets never leave the process (no output, log,
//! API answer or command line shows them), TLS refuses expired certificates and ones for
//! another host, STARTTLS never falls back to plaintext and a plaintext password needs
//! `allow_plaintext`, the API limits token guessing and refuses oversized bodies,
//! traversal names in attachments and folders touch no path, and a router's megabyte
//! answer fails only its call.
//!
//! Covered elsewhere and not repeated here: an unknown CA (`tls::tls_with_the_runs_ca_…`),
//! a plaintext login refused by the server (`tls::plaintext_login_is_refused_…`), secrets
//! of the wrong type (`check::a_secret_of_the_wrong_type_is_never_printed_back`), an
//! unknown project and panicking or looping routers (`routing::a_failing_router_…`),
//! tokens stored hashed (`api::access`).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

use postfach_test_harness::mail::Mail;
use postfach_test_harness::{DovecotConfig, RecordingProxy};

use crate::api::client::{Api, token, users};
use crate::support::{Env, PASSWORD, account_toml, dovecot, postfachd_bin};

const USER: &str = "mm@example.de";

/// Runs `postfachd` at debug log level with the IMAP secret in the environment; returns
/// stdout and stderr together.
fn run_debug(env: &Env, vars: &[(&str, &str)], args: &[&str]) -> String {
    let out = Command::new(postfachd_bin())
        .arg("--config")
        .arg(env.path())
        .args(args)
        .envs(vars.iter().copied())
        .env("POSTFACH_LOG", "debug")
        .output()
        .unwrap();
    format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Known secrets — IMAP passwords inline, from the environment and from a command, an
/// SMTP password refused by Postfix, a webhook secret, an OAuth2 client secret, an API
/// token — appear in no CLI output (with errors: wrong passwords, a failed send), not in
/// the daemon's debug log, API answers and their headers (also a 401), or the process
/// listing.
#[test]
fn no_secret_appears_in_any_output_log_api_answer_or_command_line() {
    let dv = dovecot(DovecotConfig::default(), &[USER]);
    let pf = postfach_test_harness::Postfix::start(&dv).unwrap();
    let env = Env::new();
    let imap_plain = "plain-Imap-Secret-0815";
    let imap_env = "env-Imap-Secret-4711";
    let command = "cmd-Imap-Secret-1212";
    let smtp = "smtp-Secret-2323";
    let webhook = "d2ViaG9vay1TZWNyZXQtNTE1MQ==";
    let client_secret = "oauth-Client-Secret-9999";
    let dead = postfach_test_harness::free_port();

    // Wrong passwords everywhere, so every path that could print one runs into an error.
    env.write_account(
        "plain",
        &account_toml(
            &dv,
            USER,
            &format!(
                "[smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"starttls\"\npassword = \"{smtp}\"\n",
                pf.submission_port
            ),
        )
        .replace(PASSWORD, imap_plain),
    );
    env.write_account(
        "env",
        &account_toml(&dv, USER, "")
            .replace(&format!("password = \"{PASSWORD}\""), "password = { env = \"PF_SECURITY_IMAP\" }"),
    );
    env.write_account(
        "cmd",
        &account_toml(&dv, USER, "").replace(
            &format!("password = \"{PASSWORD}\""),
            "password = { command = [\"printenv\", \"PF_SECURITY_CMD\"] }",
        ),
    );
    env.write_account(
        "oauth",
        &(account_toml(&dv, USER, "").replace(&format!("password = \"{PASSWORD}\""), "auth = \"oauth2\"")
            + &format!(
                "\n[oauth2]\nprovider = \"custom\"\nclient_id = \"postfach-test\"\nclient_secret = \"{client_secret}\"\n\
                 auth_url = \"http://127.0.0.1:{dead}/authorize\"\ntoken_url = \"http://127.0.0.1:{dead}/token\"\n\
                 scopes = [\"mail\"]\n"
            )),
    );
    let toml = std::fs::read_to_string(env.path().join("postfach.toml")).unwrap();
    std::fs::write(
        env.path().join("postfach.toml"),
        format!("{toml}\n[[webhooks]]\nurl = \"http://127.0.0.1:{dead}/hook\"\nsecret = \"whsec_{webhook}\"\n"),
    )
    .unwrap();
    users(&env, "mm = {}\n");
    let vars = [("PF_SECURITY_IMAP", imap_env), ("PF_SECURITY_CMD", command)];
    let admin = token(&env, &["--user", "admin", "--admin"]);
    let secrets = [imap_plain, imap_env, command, smtp, webhook, client_secret, admin.as_str()];

    let mut seen = Vec::new();
    for args in [
        &["check"][..],
        &["accounts", "--json"],
        &["folders", "plain", "--refresh", "--json"],
        &["folders", "env", "--refresh", "--json"],
        &["sync", "--once", "--json"],
        &["test", "plain", "--json"],
        &["test", "env", "--json"],
        &["test", "oauth", "--json"],
        &["send", "plain", "--to", "x@example.de", "--subject", "S", "--body", "B", "--now"],
        &["outbox", "--json"],
        &["token", "list", "--json"],
        &["webhooks", "--json"],
        &["oauth", "status", "--json"],
        &["plugins", "--json"],
        &["audit", "--json"],
    ] {
        seen.push((format!("postfachd {args:?}"), run_debug(&env, &vars, args)));
    }
    // Dovecot answers the refusal, or delays it past the timeout after earlier failures.
    let sync: serde_json::Value = serde_json::Deserializer::from_str(&seen[4].1).into_iter().next().unwrap().unwrap();
    for account in ["plain", "env", "cmd"] {
        let pass = sync.as_array().unwrap().iter().find(|p| p["account"] == account).unwrap();
        let error = pass["error"].as_str().unwrap_or("");
        assert!(error.contains("login as mm@example.de failed") || error.contains("logging in to"), "{pass}");
    }

    let send = &seen[8].1;
    // Refused with 535, or — when Dovecot delays answers after repeated failures — no
    // answer within the timeout (then the message waits: "not sent yet"); either way at AUTH.
    assert!(send.lines().any(|l| l.starts_with("not sent") && l.contains(": AUTH: ")), "{send}");

    let mut daemon = env.daemon_with_env(&vars);
    let api = Api::of(&env, &daemon);
    daemon.wait_for("the three password accounts auth-failed", Duration::from_secs(30), || {
        let all = api.get(&admin, "/v1/accounts").json();
        (all.as_array().unwrap().iter().filter(|a| a["state"] == "auth-failed").count() >= 3).then_some(())
    });
    let reply = |r: crate::api::client::Reply| format!("{:?}\n{}", r.headers, String::from_utf8_lossy(&r.body));
    seen.push(("GET /v1/accounts".into(), reply(api.get(&admin, "/v1/accounts"))));
    seen.push(("GET /v1/accounts/plain".into(), reply(api.get(&admin, "/v1/accounts/plain"))));
    seen.push((
        "POST /v1/accounts/plain/test".into(),
        reply(api.post(&admin, "/v1/accounts/plain/test", &serde_json::json!({}))),
    ));
    let wrong = api.get(&format!("{admin}x"), "/v1/accounts");
    assert_eq!(wrong.status.as_u16(), 401);
    seen.push(("a 401".into(), reply(wrong)));
    // The command lines of the daemon and its children (password commands, if any).
    let pid = daemon.pid();
    let ps = Command::new("ps").args(["-e", "-o", "pid,ppid,args"]).stdout(Stdio::piped()).output().unwrap();
    let ps = String::from_utf8_lossy(&ps.stdout).into_owned();
    assert!(ps.contains(&pid.to_string()), "{ps}");
    seen.push(("ps".into(), ps));
    seen.push(("cmdline".into(), std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default()));
    daemon.stop();
    seen.push(("the daemon's debug log".into(), daemon.log()));

    for (what, text) in &seen {
        for secret in secrets {
            assert!(!text.contains(secret), "{what} shows the secret {secret}:\n{text}");
        }
    }
}

/// A server that greets like IMAP and offers no STARTTLS; returns its port and what the
/// client sent.
fn imap_without_starttls() -> (u16, std::sync::mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = stream.write_all(b"* OK IMAP4rev1 ready\r\n");
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                let _ = tx.send(line.clone());
                let tag = line.split(' ').next().unwrap_or("*").to_owned();
                let answer = if line.to_ascii_uppercase().contains("CAPABILITY") {
                    format!("* CAPABILITY IMAP4rev1 AUTH=PLAIN LOGIN\r\n{tag} OK done\r\n")
                } else {
                    format!("{tag} BAD not here\r\n")
                };
                let _ = stream.write_all(answer.as_bytes());
                line.clear();
            }
        }
    });
    (port, rx)
}

#[test]
fn starttls_against_a_server_without_it_fails_and_never_sends_the_password() {
    let dv = dovecot(DovecotConfig::default(), &[USER]);
    let (port, sent) = imap_without_starttls();
    let proxy = RecordingProxy::start(([127, 0, 0, 1], port).into()).unwrap();
    let env = Env::new();
    env.write_account(
        "starttls",
        &account_toml(&dv, USER, "")
            .replace(&format!("port = {}", dv.imaps_port), &format!("port = {}", proxy.port))
            .replace("security = \"tls\"", "security = \"starttls\""),
    );
    let out = env.run(&["folders", "starttls", "--refresh"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.to_ascii_lowercase().contains("starttls"), "the error should name STARTTLS: {err}");
    let wire = proxy.client_text();
    let commands: String = sent.try_iter().collect();
    for text in [&wire, &commands] {
        let upper = text.to_ascii_uppercase();
        assert!(!upper.contains("LOGIN ") && !upper.contains("AUTHENTICATE"), "a login was sent:\n{text}");
        assert!(!text.contains(PASSWORD), "the password crossed the wire:\n{text}");
    }
    assert!(!err.contains(PASSWORD), "{err}");
}

#[test]
fn rejected_tokens_from_one_address_are_limited_while_a_valid_token_keeps_working() {
    let dv = dovecot(DovecotConfig::default(), &[USER]);
    dv.client(USER).unwrap().append("INBOX", &[], None, &Mail::new(1, "Hallo").to_bytes()).unwrap();
    let env = Env::new();
    env.write_account("mm", &account_toml(&dv, USER, ""));
    let admin = token(&env, &["--user", "admin", "--admin"]);
    let daemon = env.daemon();
    let api = Api::of(&env, &daemon);
    assert!(api.get(&admin, "/v1/accounts").status.is_success());

    for n in 0..10 {
        let r = api.get(&format!("pf_guess{n}"), "/v1/accounts");
        assert_eq!(r.problem(401), "unknown token");
    }
    let limited = api.get("pf_guess10", "/v1/accounts");
    let detail = limited.problem(429);
    assert!(detail.contains("too many rejected tokens"), "{detail}");
    let retry: u64 = limited.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert_eq!(api.get("pf_guess11", "/v1/accounts").status.as_u16(), 429);
    // The right token still works from the same address, and so does the open health route.
    assert!(api.get(&admin, "/v1/accounts").status.is_success());
    assert!(api.get_anon("/v1/health").status.is_success());
    // Without any token it is not a guess: 401 as before.
    assert_eq!(api.get_anon("/v1/accounts").status.as_u16(), 401);
}

/// `openssl s_server` with a certificate; killed on drop.
struct TlsServer {
    child: std::process::Child,
    port: u16,
}

impl TlsServer {
    fn start(cert: &std::path::Path, key: &std::path::Path) -> TlsServer {
        let port = postfach_test_harness::free_port();
        let child = Command::new("openssl")
            .args(["s_server", "-quiet", "-accept", &port.to_string(), "-cert"])
            .arg(cert)
            .arg("-key")
            .arg(key)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        assert!(postfach_test_harness::wait_for_port(([127, 0, 0, 1], port).into(), Duration::from_secs(10)));
        TlsServer { child, port }
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_expired_certificate_and_one_for_another_host_are_refused_with_clear_errors() {
    let dv = dovecot(DovecotConfig::default(), &[USER]);
    let expired = dv.ca().issue("expired", &["127.0.0.1", "localhost"], true).unwrap();
    let other = dv.ca().issue("other", &["other.example"], false).unwrap();
    let (expired, other) = (TlsServer::start(&expired.0, &expired.1), TlsServer::start(&other.0, &other.1));
    let env = Env::new();
    for (id, server) in [("expired", &expired), ("other", &other)] {
        env.write_account(
            id,
            &account_toml(&dv, USER, "")
                .replace(&format!("port = {}", dv.imaps_port), &format!("port = {}", server.port)),
        );
    }
    let refresh = |id: &str| {
        let out = env.run(&["folders", id, "--refresh"]);
        assert_eq!(out.status.code(), Some(1));
        String::from_utf8(out.stderr).unwrap()
    };
    let err = refresh("expired");
    assert!(
        err.contains("TLS handshake with 127.0.0.1 failed: invalid peer certificate: certificate expired"),
        "{err}"
    );
    assert!(err.contains("outside its validity period, or this machine's clock is wrong"), "{err}");
    assert!(!err.contains("tls_ca_file"), "a CA hint would mislead: {err}");
    let err = refresh("other");
    assert!(
        err.contains("TLS handshake with 127.0.0.1 failed: invalid peer certificate: certificate not valid for name"),
        "{err}"
    );
    assert!(err.contains("the certificate does not name this host"), "{err}");
    assert!(!err.contains("tls_ca_file"), "a CA hint would mislead: {err}");
    assert!(env.messages("expired").is_empty() && env.messages("other").is_empty());
}

/// A message whose attachment is named `name` (quoted as given).
fn with_attachment(n: u32, name: &str) -> Vec<u8> {
    format!(
        "Message-ID: <traversal-{n}@bau.test>\r\nFrom: a@bau.test\r\nTo: mm@example.de\r\nSubject: Anhang {n}\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n\
         --B\r\nContent-Type: text/plain\r\n\r\nsiehe Anhang\r\n\
         --B\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n\r\n\
         root:x:0:0\r\n--B--\r\n"
    )
    .into_bytes()
}

/// Every file under `dir`, relative to it.
fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// Dovecot refuses folder names with a `..` part or a leading `~` (`Invalid mailbox
/// name`), so such a folder cannot reach Postfach from it; those it does accept are
/// listed and synced. Folders live only in the store: no name becomes a path.
#[test]
fn attachment_and_folder_names_with_dot_dot_slash_touch_no_path_outside_the_data_dir() {
    let dv = dovecot(DovecotConfig::default(), &[USER]);
    let mut c = dv.client(USER).unwrap();
    let names = ["../../etc/passwd", "..\\\\..\\\\windows\\\\win.ini", "/etc/shadow", "..", "a/..", "."];
    for (n, name) in names.iter().enumerate() {
        c.append("INBOX", &[], None, &with_attachment(n as u32, name)).unwrap();
    }
    let mut folders = Vec::new();
    for (n, folder) in
        ["../../escape", "a/../../escape2", "..", "~/escape3", "..escape4", "x..y/.hidden"].into_iter().enumerate()
    {
        if c.create(folder).is_ok() {
            c.append(folder, &[], None, &Mail::new(10 + n, folder).to_bytes()).unwrap();
            folders.push(folder);
        }
    }
    c.logout().unwrap();

    let env = Env::new();
    env.write_account("mm", &account_toml(&dv, USER, ""));
    let beside = env.path().parent().unwrap().to_path_buf();
    let before: Vec<_> = std::fs::read_dir(&beside).unwrap().flatten().map(|e| e.file_name()).collect();
    let admin = token(&env, &["--user", "admin", "--admin"]);
    let daemon = env.daemon();
    let api = Api::of(&env, &daemon);
    crate::api::client::wait_state(&api, &daemon, &admin, "mm", "idle");
    for folder in &folders {
        assert_eq!(env.subjects("mm", Some(folder)), [*folder], "{folder}");
    }
    let files = files_under(env.path());

    let page = api.get(&admin, "/v1/messages?limit=500&folder=INBOX").ok();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), names.len(), "{page}");
    let mut served = Vec::new();
    for m in items {
        let detail = api.get(&admin, &format!("/v1/messages/{}", m["local_id"])).ok();
        let a = &detail["attachments"][0];
        let path = format!("/v1/messages/{}/attachments/{}", m["local_id"], a["id"].as_str().unwrap());
        let download = api.get(&admin, &path);
        assert_eq!(download.status, 200);
        assert_eq!(download.body, b"root:x:0:0");
        let disposition = download.headers["content-disposition"].to_str().unwrap().to_owned();
        let shown = a["filename"].as_str().unwrap_or("").to_owned();
        assert!(!shown.contains(['/', '\\']) && shown != "." && shown != "..", "listed as {shown:?}");
        let fallback = disposition.split("filename=\"").nth(1).unwrap().split('"').next().unwrap();
        assert!(!fallback.contains(['/', '\\']) && fallback != "." && fallback != "..", "{disposition}");
        served.push((m["subject"].as_str().unwrap().to_owned(), fallback.to_owned()));
    }
    served.sort();
    let expected = ["passwd", "win.ini", "shadow", "attachment-2", "a", "attachment-2"];
    let expected: Vec<(String, String)> =
        expected.iter().enumerate().map(|(n, f)| (format!("Anhang {n}"), (*f).to_owned())).collect();
    assert_eq!(served, expected);

    // Nothing was written for a folder or an attachment: the config directory holds what
    // it held, and nothing appeared beside it.
    assert_eq!(files_under(env.path()), files);
    for file in &files {
        assert!(
            ["accounts/mm.toml", "daemon.log", "postfach.toml", "data/api.addr", "data/postfachd.lock"]
                .contains(&file.as_str())
                || file.starts_with("data/postfach"),
            "unexpected file {file}"
        );
    }
    let after: Vec<_> = std::fs::read_dir(&beside).unwrap().flatten().map(|e| e.file_name()).collect();
    for name in after.iter().filter(|n| !before.contains(n)) {
        let name = name.to_string_lossy();
        assert!(
            !name.contains("escape") && !name.contains("passwd") && !name.contains("win.ini"),
            "{name} beside the config"
        );
    }
}

/// A router answering a 10 MB project id (no project list to stop it) or a 10 MB reason
/// for a listed project is refused by the host's limits: that call fails with the sizes,
/// the next router decides, and nothing of the answer is stored. An unknown project with a
/// project list, a wrong number of decisions, panics and loops are covered by
/// `routing::a_failing_router_records_its_error_and_the_chain_goes_on` and
/// `plugins::each_misbehaviour_fails_only_its_call_with_a_clear_reason`.
#[test]
fn a_router_answering_megabytes_fails_only_its_call() {
    let dv = dovecot(DovecotConfig::default(), &[USER]);
    let mut c = dv.client(USER).unwrap();
    c.append("INBOX", &[], None, &Mail::new(1, "[P-210-01] Getaggt").to_bytes()).unwrap();
    c.append("INBOX", &[], None, &Mail::new(2, "Ohne Tag").to_bytes()).unwrap();
    c.logout().unwrap();
    for (mode, projects, error) in [
        ("huge-project", false, "a project id of 10485760 bytes (at most 256)"),
        ("huge-reason", true, "a reason of 10485760 bytes (at most 4096)"),
    ] {
        let env = Env::new();
        std::fs::copy(crate::support::test_plugin("bad-router"), env.plugin_dir().join("bad-router.wasm")).unwrap();
        env.write_account(
            "mm",
            &account_toml(
                &dv,
                USER,
                &format!(
                    "[routing]\nplugins = [\"bad-router\", \"subject-tag\"]\n[routing.options]\n\"bad-router.mode\" = \"{mode}\"\n"
                ),
            ),
        );
        if projects {
            std::fs::write(env.path().join("projects.toml"), "[projects]\n\"210-01\" = \"Wohnanlage\"\n").unwrap();
            let toml = std::fs::read_to_string(env.path().join("postfach.toml")).unwrap();
            std::fs::write(env.path().join("postfach.toml"), format!("projects_file = \"projects.toml\"\n{toml}"))
                .unwrap();
        }
        env.ok(&["sync", "--once"]);
        let messages = env.messages("mm");
        let project = |subject: &str| messages.iter().find(|m| m["subject"] == subject).unwrap()["project"].clone();
        assert_eq!(project("[P-210-01] Getaggt"), "210-01", "{mode}: the next router decided");
        assert_eq!(project("Ohne Tag"), serde_json::Value::Null, "{mode}");
        let id = messages.iter().find(|m| m["subject"] == "Ohne Tag").unwrap()["local_id"].to_string();
        let explain = env.json(&["route", "explain", &id]);
        let first = &explain["steps"][0];
        assert_eq!(first["answer"], "error", "{mode}: {explain}");
        assert!(first["detail"].as_str().unwrap().contains(error), "{mode}: {explain}");
        assert!(explain.to_string().len() < 10_000, "{mode}: the answer was stored");
        let db = std::fs::metadata(env.path().join("data/postfach.sqlite3")).unwrap().len()
            + std::fs::metadata(env.path().join("data/postfach.sqlite3-wal")).map(|m| m.len()).unwrap_or(0);
        assert!(db < 5 << 20, "{mode}: the store grew to {db} bytes");
    }
}

#[test]
fn a_body_over_max_body_mib_is_refused_with_413_and_the_daemon_goes_on() {
    let env = Env::new();
    let config = env.path().join("postfach.toml");
    let toml = std::fs::read_to_string(&config).unwrap();
    assert!(toml.trim_end().ends_with("listen = \"127.0.0.1:0\""), "[api] must be the last section:\n{toml}");
    std::fs::write(&config, format!("{toml}max_body_mib = 1\n")).unwrap();
    let admin = token(&env, &["--user", "admin", "--admin"]);
    let daemon = env.daemon();
    let api = Api::of(&env, &daemon);
    let body = serde_json::json!({ "project": "x".repeat(2 << 20) });
    let detail = api.send(reqwest::Method::PUT, &admin, "/v1/messages/1/project", &body).problem(413);
    assert!(!detail.is_empty());
    // The server closes that connection (the rest of the body is never read); a new
    // client, not the pooled connection, shows the daemon goes on.
    let fresh = Api::of(&env, &daemon);
    assert!(fresh.get(&admin, "/v1/accounts").status.is_success());
}

#[test]
fn a_password_in_plaintext_without_allow_plaintext_is_refused_before_any_connection() {
    let dv = dovecot(DovecotConfig::default(), &[USER]);
    let proxy = RecordingProxy::start(([127, 0, 0, 1], dv.imap_port).into()).unwrap();
    let env = Env::new();
    env.write_account(
        "plain",
        &account_toml(&dv, USER, "")
            .replace(&format!("port = {}", dv.imaps_port), &format!("port = {}", proxy.port))
            .replace("security = \"tls\"", "security = \"plain\""),
    );
    let out = env.run(&["check"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("plain.toml:") && err.contains("would send the password unencrypted"), "{err}");
    assert!(err.contains("allow_plaintext = true"), "{err}");
    let out = env.run(&["sync", "plain", "--once"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(proxy.client_text().is_empty(), "something was sent:\n{}", proxy.client_text());
    assert!(!String::from_utf8_lossy(&out.stderr).contains(PASSWORD));
}
