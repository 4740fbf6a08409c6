//! OAuth2 logins (issue 13) against real servers: Dovecot's `passdb { driver = oauth2 }`
//! checks every token at the harness's loopback provider (the way Gmail and Microsoft 365
//! check theirs), Postfix submission authenticates through Dovecot's SASL, and the tests
//! play the browser and the user approving a device code.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use postfach_test_harness::mail::Mail;
use postfach_test_harness::{
    Direction, Dovecot, DovecotConfig, Fault, FaultProxy, MailboxSpec, OAuthConfig, OAuthServer, Postfix,
};
use serde_json::Value;

use crate::support::{Daemon, Env, PASSWORD, account_toml, dovecot, postfachd_bin, wait_for};

const ANNA: &str = "anna@architekt.test";
const BOB: &str = "bob@kanzlei.test";
const CLIENT_SECRET: &str = "cs-postfach-test-client-secret";
const T: Duration = Duration::from_secs(30);

/// Tokens for the provider's user by the device flow, done by hand (the test approves):
/// what an admin would get outside Postfach.
fn tokens_by_hand(provider: &OAuthServer) -> Value {
    let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let started: Value =
        client.post(provider.url("/device/code")).form(&[("client_id", "postfach")]).send().unwrap().json().unwrap();
    assert!(provider.approve(started["user_code"].as_str().unwrap()));
    client
        .post(provider.url("/token"))
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", started["device_code"].as_str().unwrap()),
        ])
        .send()
        .unwrap()
        .json()
        .unwrap()
}

/// An access token obtained by hand.
fn access_token(provider: &OAuthServer) -> String {
    tokens_by_hand(provider)["access_token"].as_str().unwrap().to_owned()
}

/// A refresh token obtained by hand.
fn refresh_token_by_hand(provider: &OAuthServer) -> String {
    tokens_by_hand(provider)["refresh_token"].as_str().unwrap().to_owned()
}

/// The provider, a Dovecot that checks tokens there (with Sent for the SMTP tests), and a
/// config directory.
struct Setup {
    provider: OAuthServer,
    dv: Dovecot,
    env: Env,
}

fn setup(config: OAuthConfig) -> Setup {
    setup_with(config, |c| c)
}

fn setup_with(config: OAuthConfig, dovecot: impl FnOnce(DovecotConfig) -> DovecotConfig) -> Setup {
    let provider = OAuthServer::start(OAuthConfig { user: ANNA.into(), ..config }).unwrap();
    let dovecot_config = dovecot(DovecotConfig::default())
        .oauth2(&provider.url("/userinfo"))
        .mailbox(MailboxSpec::special("Gesendet", "\\Sent"))
        .mailbox(MailboxSpec::new("Projekte"));
    let dv = crate::support::dovecot(dovecot_config, &[ANNA, BOB]);
    Setup { provider, dv, env: Env::new() }
}

fn lifetime(secs: u64) -> OAuthConfig {
    OAuthConfig { access_lifetime: Duration::from_secs(secs), ..OAuthConfig::default() }
}

impl Setup {
    /// Anna's account with `auth = "oauth2"` and a custom provider, plus `extra` TOML.
    fn account(&self, extra: &str) -> String {
        let p = &self.provider;
        account_toml(&self.dv, ANNA, extra).replace(&format!("password = \"{PASSWORD}\""), "auth = \"oauth2\"")
            + &format!(
                "\n[oauth2]\nprovider = \"custom\"\nclient_id = \"postfach-test\"\nclient_secret = \"{CLIENT_SECRET}\"\n\
                 auth_url = \"{}\"\ntoken_url = \"{}\"\ndevice_url = \"{}\"\nscopes = [\"mail\", \"offline_access\"]\n",
                p.url("/authorize"),
                p.url("/token"),
                p.url("/device/code")
            )
    }

    fn write(&self, extra: &str) {
        self.write_with_sync(extra, "");
    }

    /// As [`Setup::write`], with more `[sync]` settings.
    fn write_with_sync(&self, extra: &str, sync: &str) {
        self.env.write_account("anna", &self.account(&format!("{extra}\n[sync]\nretry_initial_secs = 1\n{sync}\n")));
    }

    /// `postfachd oauth authorize anna ARGS` with stdout piped.
    fn spawn_authorize(&self, args: &[&str]) -> Child {
        Command::new(postfachd_bin())
            .arg("--config")
            .arg(self.env.path())
            .args(["oauth", "authorize", "anna"])
            .args(args)
            .env("POSTFACH_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Authorizes by the device flow, approving the printed code as the user would.
    /// Returns everything the command printed.
    fn authorize_with_device(&self) -> String {
        let mut child = self.spawn_authorize(&["--device"]);
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut printed = String::new();
        let code = loop {
            let line = lines.next().expect("authorize ended before printing a code").unwrap();
            printed.push_str(&line);
            printed.push('\n');
            if let Some(code) = line.strip_prefix("and enter the code ") {
                break code.trim().to_owned();
            }
        };
        assert!(self.provider.approve(&code), "the printed code {code} is not pending at the provider");
        let rest: Vec<String> = lines.map(Result::unwrap).collect();
        let status = child.wait().unwrap();
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        printed.push_str(&rest.join("\n"));
        printed.push_str(&stderr);
        assert!(status.success(), "oauth authorize --device failed:\n{printed}");
        printed
    }

    /// Starts `postfachd run` and waits until the account is idle with `subject` stored.
    fn daemon_synced(&self, subject: &str) -> Daemon {
        let daemon = self.env.daemon();
        daemon.wait_for("the first sync", T, || {
            (self.env.account("anna")["state"] == "idle" && self.has(subject)).then_some(())
        });
        daemon
    }

    /// The stored OAuth2 row: (refresh token, access token).
    fn stored(&self) -> (Option<String>, Option<String>) {
        let db = rusqlite::Connection::open(self.env.path().join("data/postfach.sqlite3")).unwrap();
        db.query_row("SELECT refresh_token, access_token FROM oauth_tokens WHERE account = 'anna'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap()
    }

    fn deliver(&self, subject: &str, n: usize) {
        self.dv.client(ANNA).unwrap().append("INBOX", &[], None, &Mail::new(n, subject).to_bytes()).unwrap();
    }

    fn has(&self, subject: &str) -> bool {
        self.env.messages("anna").iter().any(|m| m["subject"] == subject)
    }

    /// Waits until every access token the provider issued has expired.
    fn wait_for_expiry(&self) {
        wait_for("the access tokens to expire", T, || (self.provider.live_access_tokens() == 0).then_some(()));
    }

    /// The account's `account-state` events: (state, error).
    fn state_events(&self) -> Vec<(String, String)> {
        let db = rusqlite::Connection::open(self.env.path().join("data/postfach.sqlite3")).unwrap();
        let mut stmt = db
            .prepare("SELECT detail FROM events WHERE account = 'anna' AND kind = 'account-state' ORDER BY seq")
            .unwrap();
        stmt.query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(|d| {
                let d: Value = serde_json::from_str(&d.unwrap()).unwrap();
                (d["state"].as_str().unwrap_or_default().to_owned(), d["error"].as_str().unwrap_or_default().to_owned())
            })
            .collect()
    }

    /// Fails if any token the provider issued, or the client secret, is in `text`.
    fn assert_no_secret_in(&self, what: &str, text: &str) {
        for token in self.provider.issued_tokens().iter().map(String::as_str).chain([CLIENT_SECRET]) {
            assert!(!text.contains(token), "{what} shows the secret {token}:\n{text}");
        }
    }
}

/// The login lines of Dovecot's log for Anna other than the test's own (PLAIN, with the
/// password): `method=…` says which SASL mechanism.
fn logins(dv: &Dovecot) -> Vec<String> {
    dv.full_log()
        .lines()
        .filter(|l| l.contains("Login: user=<anna@architekt.test>") && !l.contains("method=PLAIN"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_providers_access_token_logs_in_with_xoauth2_and_a_refused_one_shows_the_servers_words() {
    let provider = OAuthServer::start(OAuthConfig { user: ANNA.into(), ..OAuthConfig::default() }).unwrap();
    let dv = dovecot(DovecotConfig::default().oauth2(&provider.url("/userinfo")), &[ANNA]);
    let mut c = dv.client(ANNA).unwrap();
    c.append("INBOX", &[], None, &Mail::new(1, "Über OAuth2").to_bytes()).unwrap();
    let token = access_token(&provider);
    let env = Env::new();
    let with_token = |token: &str| {
        account_toml(&dv, ANNA, "")
            .replace(&format!("password = \"{PASSWORD}\""), &format!("auth = \"xoauth2\"\npassword = \"{token}\""))
    };
    env.write_account("anna", &with_token(&token));
    env.ok(&["sync", "--once"]);
    assert_eq!(env.messages("anna").len(), 1);
    // A token the provider does not know: refused, with Dovecot's words, and never printed.
    env.write_account("anna", &with_token("at-unknown-token"));
    let out = env.run(&["sync", "--once"]);
    assert_eq!(out.status.code(), Some(1));
    let account = env.account("anna");
    let error = account["last_error"].as_str().unwrap_or_default().to_owned();
    assert!(error.contains("[AUTHENTICATIONFAILED] Authentication failed."), "{error}");
    // Dovecot's base64 JSON error report, decoded.
    assert!(error.ends_with("(the server refused the access token (invalid_token))"), "{error}");
    let printed = format!("{}{}{account}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!printed.contains("at-unknown-token") && !printed.contains(&token), "a token was printed: {printed}");
}

#[test]
fn authorizing_in_the_browser_stores_a_refresh_token_and_the_sync_logs_in_with_oauthbearer() {
    let s = setup(OAuthConfig::default());
    s.deliver("Vor der Anmeldung", 1);
    s.write("");
    // Before authorizing: a clear state with the next step, and no attempt at a login.
    let out = s.env.run(&["sync", "--once"]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("run `postfachd oauth authorize anna`"), "{said}");
    let account = s.env.account("anna");
    assert_eq!(
        account["last_error"],
        "OAuth2 is not authorized for this account yet: run `postfachd oauth authorize anna`"
    );
    assert!(logins(&s.dv).is_empty());

    let mut child = s.spawn_authorize(&["--timeout-secs", "60"]);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("authorize ended before printing the URL").unwrap();
        if let Some(url) = line.trim().strip_prefix("http://127.0.0.1") {
            break format!("http://127.0.0.1{url}");
        }
    };
    assert!(url.starts_with(&s.provider.url("/authorize?")), "{url}");
    assert!(url.contains("code_challenge_method=S256") && url.contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A"));
    // The test is the browser: the provider redirects to the daemon's one-shot listener.
    let page = reqwest::blocking::get(&url).unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().unwrap().contains("Postfach is authorized"));
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert!(child.wait().unwrap().success(), "{rest:?}");
    assert!(rest.iter().any(|l| l.starts_with("authorized: `anna`")), "{rest:?}");
    let (refresh, access) = s.stored();
    assert!(s.provider.refresh_valid(&refresh.unwrap()));
    assert!(access.is_some());

    s.env.ok(&["sync", "--once"]);
    assert!(s.has("Vor der Anmeldung"));
    let logins = logins(&s.dv);
    assert!(!logins.is_empty() && logins.iter().all(|l| l.contains("method=OAUTHBEARER")), "{logins:#?}");
    // The token from the authorization is still fresh: no refresh was needed.
    assert_eq!(s.provider.token_requests(), 1);
    let status = s.env.json(&["oauth", "status"]);
    let anna = &status.as_array().unwrap()[0];
    assert_eq!((anna["account"].as_str(), anna["has_refresh_token"].as_bool()), (Some("anna"), Some(true)));
    assert!(anna["access_expires_at"].is_string() && anna["last_refresh"].is_string(), "{anna}");
    assert!(anna["last_error"].is_null(), "{anna}");
    s.assert_no_secret_in("oauth status --json", &status.to_string());
    s.assert_no_secret_in("oauth authorize", &rest.join("\n"));
    // Forgetting removes the tokens; the account is back to "not authorized".
    assert!(s.env.ok(&["oauth", "forget", "anna"]).contains("forgot the OAuth2 tokens of `anna`"));
    assert_eq!(s.env.json(&["oauth", "status", "anna"])[0]["has_refresh_token"], false);
}

#[test]
fn the_device_flow_prints_a_code_and_finishes_once_the_user_approves_it() {
    let s = setup(OAuthConfig::default());
    s.deliver("Per Gerätecode", 1);
    s.write("");
    let printed = s.authorize_with_device();
    assert!(printed.contains(&format!("  {}", s.provider.url("/device"))), "{printed}");
    s.assert_no_secret_in("oauth authorize --device", &printed);
    s.env.ok(&["sync", "--once"]);
    assert!(s.has("Per Gerätecode"));
}

#[test]
fn an_access_token_that_expires_while_the_daemon_runs_is_refreshed_before_the_next_login() {
    let s = setup(lifetime(3));
    s.deliver("Erste", 1);
    s.write("");
    s.authorize_with_device();
    let daemon = s.daemon_synced("Erste");
    let before = s.provider.token_requests();
    s.wait_for_expiry();
    // The server ends every session (as Microsoft 365 does when a token expires); the
    // daemon and its IDLE watchers log in again, which needs a new token first.
    s.deliver("Nach dem Ablauf", 2);
    s.dv.doveadm(&["kick", ANNA]).unwrap();
    daemon.wait_for("the new mail", T, || s.has("Nach dem Ablauf").then_some(()));
    assert!(s.provider.token_requests() > before, "no refresh happened");
    // Refreshed before the login, not after a refused one: Dovecot never saw an expired token.
    assert_eq!(s.provider.refused_introspections(), 0);
    assert!(!s.state_events().iter().any(|(state, _)| state == "auth-failed"), "{:?}", s.state_events());
}

#[test]
fn a_rotated_refresh_token_is_stored_at_once_and_survives_a_restart() {
    let s = setup(OAuthConfig { rotate: true, ..lifetime(2) });
    s.deliver("Rotation", 1);
    s.write("");
    s.authorize_with_device();
    let (first, _) = s.stored();
    let first = first.unwrap();
    s.wait_for_expiry();
    s.env.ok(&["sync", "--once"]);
    assert!(s.has("Rotation"));
    let (second, _) = s.stored();
    let second = second.unwrap();
    assert_ne!(second, first, "the rotated refresh token was not stored");
    assert!(!s.provider.refresh_valid(&first), "the provider still takes the old refresh token");
    assert!(s.provider.refresh_valid(&second));
    // A new process (a restart) continues with the stored token.
    s.wait_for_expiry();
    s.deliver("Nach dem Neustart", 2);
    let daemon = s.env.daemon();
    daemon.wait_for("the sync after the restart", T, || s.has("Nach dem Neustart").then_some(()));
    let (third, _) = s.stored();
    assert!(s.provider.refresh_valid(&third.unwrap()));
    assert_eq!(s.provider.refused_introspections(), 0);
}

#[test]
fn a_revoked_grant_means_auth_failed_with_the_hint_and_authorizing_again_recovers_without_a_restart() {
    let s = setup(lifetime(2));
    s.deliver("Vorher", 1);
    s.write("");
    s.authorize_with_device();
    let daemon = s.daemon_synced("Vorher");
    s.provider.revoke();
    s.wait_for_expiry();
    s.dv.doveadm(&["kick", ANNA]).unwrap();
    let error = daemon.wait_for("auth-failed", T, || {
        let a = s.env.account("anna");
        (a["state"] == "auth-failed").then(|| a["last_error"].as_str().unwrap_or_default().to_owned())
    });
    assert_eq!(
        error,
        "the OAuth2 provider refused the refresh token: the provider refused: invalid_grant (Token has been \
         expired or revoked.); run `postfachd oauth authorize anna`"
    );
    let status = s.env.json(&["oauth", "status", "anna"]);
    assert!(status[0]["last_error"].as_str().unwrap().contains("invalid_grant"), "{status}");
    // The admin authorizes again; the running daemon picks it up at once.
    let pid = daemon.pid();
    s.authorize_with_device();
    s.deliver("Nachher", 2);
    daemon.wait_for("recovery", T, || (s.env.account("anna")["state"] == "idle" && s.has("Nachher")).then_some(()));
    assert_eq!(daemon.pid(), pid);
    assert!(s.env.json(&["oauth", "status", "anna"])[0]["last_error"].is_null());
}

#[test]
fn a_token_endpoint_that_is_down_means_backing_off_and_the_account_recovers_by_itself() {
    let s = setup(lifetime(2));
    s.deliver("Vorher", 1);
    s.write("");
    s.authorize_with_device();
    let daemon = s.daemon_synced("Vorher");
    s.provider.unavailable_for(3);
    s.wait_for_expiry();
    s.deliver("Nachher", 2);
    s.dv.doveadm(&["kick", ANNA]).unwrap();
    let error = daemon.wait_for("backing-off with the provider's answer", T, || {
        let a = s.env.account("anna");
        let e = a["last_error"].as_str().unwrap_or_default().to_owned();
        (a["state"] == "backing-off" && e.contains("token")).then_some(e)
    });
    assert_eq!(
        error,
        "cannot refresh the OAuth2 access token: the provider's token endpoint is unavailable (HTTP 503: \
         temporarily_unavailable)"
    );
    // The message is stored before the pass ends and the account shows `idle`.
    daemon.wait_for("recovery", T, || (s.has("Nachher") && s.env.account("anna")["state"] == "idle").then_some(()));
    let states = s.state_events();
    assert!(!states.iter().any(|(state, _)| state == "auth-failed"), "{states:?}");
    assert_eq!(states.last().map(|(state, _)| state.as_str()), Some("idle"), "{states:?}");
}

/// `[smtp]` over STARTTLS on Postfix's submission port; OAuth2 comes from `[imap]`.
fn smtp(pf: &Postfix) -> String {
    format!("[smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"starttls\"\n", pf.submission_port)
}

fn bobs_inbox_has(dv: &Dovecot, subject: &str) -> bool {
    let mut c = dv.client(BOB).unwrap();
    let n = c.select("INBOX").unwrap().exists;
    (1..=n).any(|uid| String::from_utf8_lossy(&c.body(uid).unwrap()).contains(subject))
}

#[test]
fn mail_is_sent_through_postfix_with_oauthbearer() {
    let s = setup(OAuthConfig::default());
    let pf = Postfix::start(&s.dv).unwrap();
    s.write(&smtp(&pf));
    s.authorize_with_device();
    s.env.ok(&["send", "anna", "--to", BOB, "--subject", "Per OAuth2 gesendet", "--body", "Hallo Bob", "--now"]);
    wait_for("the mail in Bob's INBOX", T, || bobs_inbox_has(&s.dv, "Per OAuth2 gesendet").then_some(()));
    let log = pf.log();
    assert!(log.contains("sasl_method=OAUTHBEARER, sasl_username=anna@architekt.test"), "{log}");
}

#[test]
fn a_server_that_offers_only_xoauth2_gets_xoauth2_for_imap_and_smtp() {
    let s = setup_with(OAuthConfig::default(), DovecotConfig::xoauth2_only);
    let pf = Postfix::start(&s.dv).unwrap();
    s.deliver("Wie bei Microsoft", 1);
    s.write(&smtp(&pf));
    s.authorize_with_device();
    s.env.ok(&["sync", "--once"]);
    assert!(s.has("Wie bei Microsoft"));
    let logins = logins(&s.dv);
    assert!(!logins.is_empty() && logins.iter().all(|l| l.contains("method=XOAUTH2")), "{logins:#?}");
    // SMTP: OAUTHBEARER is answered 504, then XOAUTH2 works.
    s.env.ok(&["send", "anna", "--to", BOB, "--subject", "Per XOAUTH2 gesendet", "--body", "x", "--now"]);
    wait_for("the mail in Bob's INBOX", T, || bobs_inbox_has(&s.dv, "Per XOAUTH2 gesendet").then_some(()));
    let log = pf.log();
    assert!(log.contains("sasl_method=XOAUTH2, sasl_username=anna@architekt.test"), "{log}");
}

#[test]
fn imap_idle_watchers_and_smtp_needing_a_token_at_once_make_one_token_request() {
    let s = setup(lifetime(8));
    let pf = Postfix::start(&s.dv).unwrap();
    s.dv.client(ANNA).unwrap().append("Projekte", &[], None, &Mail::new(1, "Im Projekt").to_bytes()).unwrap();
    // An IDLE watcher on Projekte: a connection (and a login) of its own.
    s.write_with_sync(&smtp(&pf), "idle_folders = [\"Projekte\"]");
    s.authorize_with_device();
    let daemon = s.env.daemon_with_env(&[("POSTFACH_LOG", "debug")]);
    daemon.wait_for("the first sync", T, || {
        (s.env.account("anna")["state"] == "idle" && s.has("Im Projekt")).then_some(())
    });
    daemon.wait_for("the watcher's login", T, || (logins(&s.dv).len() >= 2).then_some(()));
    s.wait_for_expiry();
    let before = s.provider.token_requests();
    let logins_before = logins(&s.dv).len();
    // A slow provider, so the logins below all wait for a token while one is being fetched.
    s.provider.slow_token_endpoint(Duration::from_secs(3));
    // At once: every IMAP connection (the sync session and the IDLE watchers) is cut and
    // a message waits to be sent.
    s.dv.doveadm(&["kick", ANNA]).unwrap();
    s.env.ok(&["send", "anna", "--to", BOB, "--subject", "Gleichzeitig", "--body", "x"]);
    s.deliver("Nach dem Kick", 2);
    daemon.wait_for("sent and synced", T, || {
        (bobs_inbox_has(&s.dv, "Gleichzeitig") && s.has("Nach dem Kick")).then_some(())
    });
    // The sync session and the watcher logged in again, with the one new token.
    daemon.wait_for("the watcher's new login", T, || (logins(&s.dv).len() >= logins_before + 2).then_some(()));
    assert_eq!(s.provider.token_requests() - before, 1, "more than one refresh for one expiry");
    assert_eq!(s.provider.refused_introspections(), 0);
    // Nothing secret in what the daemon logged at debug level, in the JSON outputs, or on
    // its command line.
    s.assert_no_secret_in("the daemon's log", &daemon.log());
    s.assert_no_secret_in("accounts --json", &s.env.json(&["accounts"]).to_string());
    s.assert_no_secret_in("oauth status --json", &s.env.json(&["oauth", "status"]).to_string());
    s.assert_no_secret_in("outbox --json", &s.env.json(&["outbox"]).to_string());
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", daemon.pid())).unwrap();
    s.assert_no_secret_in("the daemon's command line", &String::from_utf8_lossy(&cmdline));
}

#[test]
fn oauth2_settings_are_checked_with_their_place_in_the_file() {
    let s = setup(OAuthConfig::default());
    let check = |toml: &str| {
        s.env.write_account("anna", toml);
        let out = s.env.run(&["check"]);
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let base = s.account("");
    let without_section = base.split("\n[oauth2]").next().unwrap().to_owned();
    let e = check(&without_section);
    assert!(e.contains("anna.toml:12:8: auth = \"oauth2\" needs an [oauth2] section with at least client_id"), "{e}");
    let e = check(&base.replace("auth = \"oauth2\"", &format!("password = \"{PASSWORD}\"")));
    assert!(e.contains("[oauth2] is only used with auth = \"oauth2\" in [imap] or [smtp]"), "{e}");
    let e = check(&base.replace("token_url = \"http://127.0.0.1", "token_url = \"http://oauth.example.com"));
    assert!(e.contains("token_url must be an https:// URL (http:// only on 127.0.0.1 or localhost)"), "{e}");
    let e = check(&base.replace("auth = \"oauth2\"", "auth = \"oauth2\"\npassword = \"x\""));
    assert!(e.contains("imap.password is not used with auth = \"oauth2\""), "{e}");
    let e = check(&base.replace("scopes = [\"mail\", \"offline_access\"]", "scopes = []"));
    assert!(e.contains("scopes must list at least one scope"), "{e}");
    // Endpoints: from the adapter named by provider, else they must be in the file.
    let without_urls: String = base
        .lines()
        .filter(|l| !l.starts_with("auth_url") && !l.starts_with("token_url") && !l.starts_with("device_url"))
        .collect::<Vec<_>>()
        .join("\n");
    let e = check(&without_urls.replace("provider = \"custom\"\n", ""));
    assert!(e.contains("[oauth2]: no token endpoint: the account's provider adapter supplies no OAuth2 data"), "{e}");
    let e = check(&without_urls.replace("provider = \"custom\"", "provider = \"microsoft\""));
    assert!(e.is_empty(), "the outlook adapter's data should do: {e}");
    // Secrets of [oauth2] are named by place and kind, never printed.
    let e = check(&base.replace(
        &format!("client_secret = \"{CLIENT_SECRET}\""),
        "client_secret = { env = \"POSTFACH_NO_SUCH_VAR\" }",
    ));
    assert!(e.contains("oauth2.client_secret: "), "{e}");
    assert!(!e.contains(CLIENT_SECRET));
}

#[test]
fn an_access_token_refused_before_its_time_shows_the_servers_words_and_the_next_login_gets_a_new_one() {
    let s = setup(OAuthConfig::default());
    s.deliver("Widerrufen", 1);
    s.write("");
    s.authorize_with_device();
    // The provider no longer knows the stored (unexpired) access token, as after a
    // password change at Microsoft.
    let db = rusqlite::Connection::open(s.env.path().join("data/postfach.sqlite3")).unwrap();
    db.execute("UPDATE oauth_tokens SET access_token = 'at-revoked-early' WHERE account = 'anna'", []).unwrap();
    let out = s.env.run(&["sync", "--once"]);
    assert!(!out.status.success());
    let error = s.env.account("anna")["last_error"].as_str().unwrap().to_owned();
    // Dovecot's words and its OAUTHBEARER error report, decoded.
    assert!(error.contains("[AUTHENTICATIONFAILED]"), "{error}");
    assert!(error.ends_with("(the server refused the access token (invalid_token))"), "{error}");
    s.assert_no_secret_in("sync --once", &format!("{out:?}"));
    assert!(!format!("{out:?}").contains("at-revoked-early"));
    // The refused token was dropped: the next login refreshes first and works.
    let before = s.provider.token_requests();
    s.env.ok(&["sync", "--once"]);
    assert!(s.has("Widerrufen"));
    assert_eq!(s.provider.token_requests(), before + 1);
}

#[test]
fn a_refresh_token_from_a_file_works_and_its_rotated_successors_are_kept_in_the_store() {
    let s = setup(OAuthConfig { rotate: true, ..lifetime(2) });
    s.deliver("Aus der Datei", 1);
    let file = s.env.path().join("anna.refresh");
    std::fs::write(&file, format!("{}\n", refresh_token_by_hand(&s.provider))).unwrap();
    let with_file = s.account("").replace(
        "scopes = [\"mail\", \"offline_access\"]",
        &format!("scopes = [\"mail\", \"offline_access\"]\nrefresh_token = {{ file = \"{}\" }}", file.display()),
    );
    s.env.write_account("anna", &with_file);
    s.env.ok(&["check"]);
    // No `oauth authorize`: the file's token starts the chain.
    s.env.ok(&["sync", "--once"]);
    assert!(s.has("Aus der Datei"));
    let in_file = std::fs::read_to_string(&file).unwrap();
    assert!(!s.provider.refresh_valid(in_file.trim()), "the provider rotated it away");
    // The file's token is used up; the stored successor carries on.
    s.wait_for_expiry();
    s.deliver("Weiter mit dem Nachfolger", 2);
    s.env.ok(&["sync", "--once"]);
    assert!(s.has("Weiter mit dem Nachfolger"));
    assert_eq!(s.env.json(&["oauth", "status", "anna"])[0]["has_refresh_token"], true);
    // A new token in the file (the admin got one elsewhere) starts a new chain.
    std::fs::write(&file, refresh_token_by_hand(&s.provider)).unwrap();
    let fresh = std::fs::read_to_string(&file).unwrap();
    s.wait_for_expiry();
    s.env.ok(&["sync", "--once"]);
    assert!(!s.provider.refresh_valid(&fresh), "the new file token was not used");
}

#[test]
fn the_daemon_and_a_command_next_to_it_refresh_once_with_a_rotating_provider() {
    let s = setup(OAuthConfig { rotate: true, ..lifetime(3) });
    s.deliver("Erste", 1);
    s.write("");
    s.authorize_with_device();
    let daemon = s.daemon_synced("Erste");
    s.wait_for_expiry();
    // A slow provider, so the daemon's refresh and the command's overlap.
    s.provider.slow_token_endpoint(Duration::from_secs(2));
    let before = s.provider.token_requests();
    s.deliver("Zweite", 2);
    s.dv.doveadm(&["kick", ANNA]).unwrap();
    s.env.ok(&["sync", "--once"]);
    daemon.wait_for("the daemon back", T, || (s.env.account("anna")["state"] == "idle").then_some(()));
    assert!(s.has("Zweite"));
    // One refresh: had both presented the same refresh token, the rotating provider
    // would have refused the second.
    assert_eq!(s.provider.token_requests() - before, 1);
    assert!(!s.state_events().iter().any(|(state, _)| state == "auth-failed"), "{:?}", s.state_events());
}

#[test]
fn a_refused_token_at_smtp_defers_the_message_and_the_next_attempt_refreshes() {
    let s = setup(OAuthConfig::default());
    let pf = Postfix::start(&s.dv).unwrap();
    s.write(&format!("{}retry_initial_secs = 1\n", smtp(&pf)));
    s.authorize_with_device();
    let db = rusqlite::Connection::open(s.env.path().join("data/postfach.sqlite3")).unwrap();
    db.execute("UPDATE oauth_tokens SET access_token = 'at-revoked-early' WHERE account = 'anna'", []).unwrap();
    let out = s.env.run(&["send", "anna", "--to", BOB, "--subject", "Zweiter Versuch", "--body", "x", "--now"]);
    assert!(!out.status.success());
    let outbox = s.env.json(&["outbox"]);
    let entry = &outbox.as_array().unwrap()[0];
    assert_eq!(entry["state"], "deferred", "{entry}");
    let error = entry["last_error"].as_str().unwrap();
    assert!(
        error.starts_with("AUTH: permanent error (535)")
            && error.ends_with("(the server refused the access token (invalid_token))"),
        "{error}"
    );
    assert!(!format!("{out:?}{outbox}").contains("at-revoked-early"));
    // The daemon's next attempt gets a new token first.
    let daemon = s.env.daemon();
    daemon.wait_for("the message sent", T, || (s.env.json(&["outbox"])[0]["state"] == "sent").then_some(()));
    assert!(bobs_inbox_has(&s.dv, "Zweiter Versuch"));
}

#[test]
fn a_token_refresh_cut_in_the_middle_means_backing_off_and_the_next_try_works() {
    let s = setup(lifetime(2));
    let proxy = FaultProxy::start(([127, 0, 0, 1], s.provider.port).into()).unwrap();
    s.deliver("Vorher", 1);
    let through_proxy = s
        .account("[sync]\nretry_initial_secs = 1\n")
        .replace(&s.provider.url("/token"), &format!("http://127.0.0.1:{}/token", proxy.port));
    s.env.write_account("anna", &through_proxy);
    s.authorize_with_device();
    let daemon = s.daemon_synced("Vorher");
    // The token endpoint's answer is cut after its first bytes.
    proxy.arm(Direction::Downstream, 20, Fault::Drop);
    s.wait_for_expiry();
    s.deliver("Nachher", 2);
    s.dv.doveadm(&["kick", ANNA]).unwrap();
    daemon.wait_for("recovery", T, || s.has("Nachher").then_some(()));
    assert_eq!(proxy.fired(), 1);
    let log = daemon.log();
    assert!(log.contains("OAuth2 refresh failed; will retry"), "{log}");
    assert!(!s.state_events().iter().any(|(state, _)| state == "auth-failed"), "{:?}", s.state_events());
    assert_eq!(s.provider.refused_introspections(), 0);
}
