//! The API's frame: health and the OpenAPI document without a token, every route in
//! the document, Prometheus metrics that parse, HTTPS with the configured certificate,
//! and `[api]` settings that `check` refuses with their position.

use std::collections::BTreeSet;
use std::time::Duration;

use postfach_test_harness::mail::Mail;
use postfach_test_harness::{DovecotConfig, TestCa};

use super::client::{Api, token, wait_state};
use crate::support::{Env, account_toml, dovecot};

const ANNA: &str = "anna@architekt.test";

/// Every route of DESIGN.md's table (method and path).
const ROUTES: &[(&str, &str)] = &[
    ("get", "/v1/health"),
    ("get", "/v1/openapi.json"),
    ("get", "/metrics"),
    ("get", "/v1/accounts"),
    ("get", "/v1/accounts/{id}"),
    ("post", "/v1/accounts/{id}/sync"),
    ("post", "/v1/accounts/{id}/test"),
    ("get", "/v1/accounts/{id}/folders"),
    ("get", "/v1/messages"),
    ("get", "/v1/messages/{local_id}"),
    ("get", "/v1/messages/{local_id}/raw"),
    ("get", "/v1/messages/{local_id}/attachments/{attachment_id}"),
    ("patch", "/v1/messages/{local_id}"),
    ("post", "/v1/messages/{local_id}/move"),
    ("post", "/v1/messages/{local_id}/spam"),
    ("delete", "/v1/messages/{local_id}"),
    ("put", "/v1/messages/{local_id}/project"),
    ("get", "/v1/messages/{local_id}/route"),
    ("get", "/v1/search"),
    ("get", "/v1/threads/{thread_id}"),
    ("post", "/v1/send"),
    ("get", "/v1/outbox"),
    ("get", "/v1/outbox/{id}"),
    ("post", "/v1/outbox/{id}/retry"),
    ("delete", "/v1/outbox/{id}"),
    ("get", "/v1/projects"),
    ("get", "/v1/events"),
    ("get", "/v1/events/stream"),
    ("get", "/v1/webhooks"),
    ("get", "/v1/audit"),
];

#[test]
fn the_openapi_document_lists_every_route_and_each_answers() {
    let dv = dovecot(DovecotConfig::default(), &[ANNA]);
    let env = Env::new();
    env.write_account("architekt", &account_toml(&dv, ANNA, ""));
    let admin = token(&env, &["--user", "root", "--admin"]);
    let daemon = env.daemon();
    let api = Api::of(&env, &daemon);
    let doc = api.get_anon("/v1/openapi.json").ok();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| ops.as_object().unwrap().keys().map(move |m| (m.clone(), path.clone())))
        .collect();
    let wanted: BTreeSet<(String, String)> = ROUTES.iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect();
    assert_eq!(documented, wanted, "the document and DESIGN.md's table");
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    // Each documented route is served (a made-up id gives a problem, never the fallback's).
    for (method, path) in ROUTES {
        if *path == "/v1/events/stream" {
            continue;
        }
        let concrete = path
            .replace("{id}", if path.starts_with("/v1/accounts") { "architekt" } else { "999999" })
            .replace("{local_id}", "999999")
            .replace("{attachment_id}", "1")
            .replace("{thread_id}", "t0");
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let mut request = api.request(method, &concrete, Some(&admin));
        if *path != "/v1/search" {
            request = request.json(&serde_json::json!({}));
        }
        let reply = Api::reply(request.timeout(Duration::from_secs(60)).send().unwrap());
        let body = String::from_utf8_lossy(&reply.body);
        assert!(!body.contains("no such route"), "{path}: {body}");
    }
}

/// Checks the text exposition format line by line; returns `name{labels}` → value.
fn parse_prometheus(text: &str) -> Vec<(String, String, f64)> {
    let mut samples = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (kind, name) = (parts.next().unwrap(), parts.next().unwrap());
            assert!(matches!(kind, "HELP" | "TYPE"), "{line}");
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'), "{line}");
            if kind == "TYPE" {
                assert!(
                    matches!(parts.next(), Some("counter" | "gauge" | "histogram" | "summary" | "untyped")),
                    "{line}"
                );
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value: {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => {
                assert!(l.ends_with('}'), "{line}");
                for pair in l.trim_end_matches('}').split("\",").filter(|p| !p.is_empty()) {
                    let (k, v) = pair.split_once('=').unwrap_or_else(|| panic!("bad label: {line}"));
                    assert!(k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{line}");
                    assert!(v.starts_with('"'), "{line}");
                }
                (n.to_owned(), l.trim_end_matches('}').to_owned())
            }
            None => (series.to_owned(), String::new()),
        };
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'), "{line}");
        samples.push((name, labels, value));
    }
    samples
}

#[test]
fn metrics_parse_as_prometheus_text_and_count_what_happened() {
    let dv = dovecot(DovecotConfig::default(), &[ANNA]);
    let mut c = dv.client(ANNA).unwrap();
    for n in 1..=3 {
        c.append("INBOX", &[], None, &Mail::new(n, &format!("M {n}")).to_bytes()).unwrap();
    }
    let env = Env::new();
    env.write_account("architekt", &account_toml(&dv, ANNA, "[routing]\nplugins = [\"subject-tag\"]\n"));
    env.write_account("kaputt", &account_toml(&dv, ANNA, "").replace(crate::support::PASSWORD, "falsch"));
    super::client::users(&env, "ops = {}\n");
    let admin = token(&env, &["--user", "root", "--admin"]);
    let scraper = token(&env, &["--user", "ops", "--scope", "metrics"]);
    let daemon = env.daemon();
    let api = Api::of(&env, &daemon);
    wait_state(&api, &daemon, &admin, "architekt", "idle");
    wait_state(&api, &daemon, &admin, "kaputt", "auth-failed");
    api.get(&admin, "/v1/messages").ok();
    let reply = api.get(&scraper, "/metrics");
    assert_eq!(reply.status, 200);
    assert!(reply.content_type.starts_with("text/plain; version=0.0.4"), "{}", reply.content_type);
    let text = String::from_utf8(reply.body).unwrap();
    let samples = parse_prometheus(&text);
    let value = |name: &str, label: &str| -> f64 {
        samples.iter().filter(|(n, l, _)| n == name && l.contains(label)).map(|s| s.2).sum()
    };
    assert_eq!(value("postfach_accounts", "state=\"idle\""), 1.0, "{text}");
    assert_eq!(value("postfach_accounts", "state=\"auth-failed\""), 1.0);
    assert_eq!(value("postfach_messages_stored_total", ""), 3.0);
    assert!(value("postfach_bytes_fetched_total", "") > 0.0);
    assert!(value("postfach_imap_errors_total", "kind=\"auth\"") >= 1.0);
    assert!(value("postfach_pass_duration_seconds_count", "") >= 1.0);
    // Routing calls are batched: one call for the three messages.
    assert!(value("postfach_plugin_call_duration_seconds_count", "plugin=\"subject-tag\"") >= 1.0, "{text}");
    assert!(value("postfach_api_requests_total", "route=\"/v1/messages\"") >= 1.0);
    assert_eq!(value("postfach_outbox_entries", "state=\"queued\""), 0.0);
    assert!(text.contains("postfach_outbox_entries{state=\"sent\"}"), "every state is listed");
}

#[test]
fn the_api_speaks_https_with_the_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::create(dir.path()).unwrap();
    let env = Env::new();
    let path = env.path().join("postfach.toml");
    let toml = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        toml.replace(
            "listen = \"127.0.0.1:0\"",
            &format!(
                "listen = \"127.0.0.1:0\"\ntls_cert_file = \"{}\"\ntls_key_file = \"{}\"",
                ca.cert_pem.display(),
                ca.key_pem.display()
            ),
        ),
    )
    .unwrap();
    let daemon = env.daemon();
    let addr = daemon.wait_for("the API's address", Duration::from_secs(20), || {
        std::fs::read_to_string(env.path().join("data/api.addr")).ok().filter(|s| !s.trim().is_empty())
    });
    let port = addr.trim().rsplit(':').next().unwrap().to_owned();
    let ca_cert = reqwest::Certificate::from_pem(&std::fs::read(&ca.ca_pem).unwrap()).unwrap();
    let client = reqwest::blocking::Client::builder().add_root_certificate(ca_cert).build().unwrap();
    let api = Api::with_client(format!("https://localhost:{port}"), client);
    assert_eq!(api.get_anon("/v1/health").ok()["status"], "ok");
    // Plain HTTP on the TLS port gets nowhere.
    let plain = reqwest::blocking::Client::new().get(format!("http://127.0.0.1:{port}/v1/health")).send();
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
}

#[test]
fn api_settings_that_would_expose_tokens_are_refused_with_their_position() {
    let env = Env::new();
    let path = env.path().join("postfach.toml");
    let toml = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, toml.replace("listen = \"127.0.0.1:0\"", "listen = \"0.0.0.0:8025\"")).unwrap();
    let out = env.run(&["check"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let line = toml.lines().position(|l| l.starts_with("listen")).unwrap() + 1;
    assert!(err.contains(&format!("postfach.toml:{line}:10: listen = \"0.0.0.0:8025\" is reachable")), "{err}");
    assert!(err.contains("allow_plaintext"), "{err}");
    // With allow_plaintext (a TLS proxy in front) it is accepted.
    std::fs::write(&path, toml.replace("listen = \"127.0.0.1:0\"", "listen = \"0.0.0.0:0\"\nallow_plaintext = true"))
        .unwrap();
    env.ok(&["check"]);
    for (bad, wanted) in [
        ("max_body_mib = 0", "max_body_mib must be between 1 and 1024"),
        ("listen = \"irgendwo\"", "is not an address to listen on"),
        ("tls_cert_file = \"cert.pem\"", "tls_cert_file needs tls_key_file"),
    ] {
        std::fs::write(&path, toml.replace("listen = \"127.0.0.1:0\"", bad)).unwrap();
        let out = env.run(&["check"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(wanted), "{bad}: {err}");
        assert!(err.contains("postfach.toml:"), "{err}");
    }
    std::fs::write(
        &path,
        format!("{toml}\n[[webhooks]]\nurl = \"ftp://crm\"\nsecret = \"whsec_YWJj\"\nevents = [\"new-mesage\"]\n"),
    )
    .unwrap();
    let err = String::from_utf8_lossy(&env.run(&["check"]).stderr).into_owned();
    assert!(err.contains("must start with http:// or https://"), "{err}");
    assert!(!err.contains("whsec_YWJj"), "no secret in errors: {err}");
    std::fs::write(
        &path,
        format!("{toml}\n[[webhooks]]\nurl = \"https://crm/hook\"\nsecret = \"mein-geheimnis-123\"\n"),
    )
    .unwrap();
    let err = String::from_utf8_lossy(&env.run(&["check"]).stderr).into_owned();
    assert!(err.contains("must be `whsec_` followed by base64"), "{err}");
    assert!(!err.contains("mein-geheimnis-123"), "no secret in errors: {err}");
}
