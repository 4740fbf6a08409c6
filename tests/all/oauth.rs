//! OAuth2 logins (issue 13, in progress): Dovecot's oauth2 passdb checks tokens at the
//! harness's loopback provider, the way Gmail and Microsoft 365 check theirs.

use std::time::Duration;

use postfach_test_harness::mail::Mail;
use postfach_test_harness::{DovecotConfig, OAuthConfig, OAuthServer};
use serde_json::Value;

use crate::support::{Env, PASSWORD, account_toml, dovecot};

const ANNA: &str = "anna@architekt.test";

/// An access token for the provider's user, by the device flow (the test approves).
fn access_token(provider: &OAuthServer) -> String {
    let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let started: Value =
        client.post(provider.url("/device/code")).form(&[("client_id", "postfach")]).send().unwrap().json().unwrap();
    assert!(provider.approve(started["user_code"].as_str().unwrap()));
    let tokens: Value = client
        .post(provider.url("/token"))
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", started["device_code"].as_str().unwrap()),
        ])
        .send()
        .unwrap()
        .json()
        .unwrap();
    tokens["access_token"].as_str().unwrap().to_owned()
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
