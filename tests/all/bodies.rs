//! `[sync] bodies = "on-demand"` against a real Dovecot: a sync stores headers, size and
//! flags and routes on the headers; the first time the CLI (`postfachd show`) or the API
//! asks for a message, its body is fetched (without marking it read) and kept, so it is
//! served with the server gone.

use std::time::Duration;

use postfach_test_harness::DovecotConfig;
use postfach_test_harness::mail::Mail;

use crate::api::client::{Api, token, wait_state};
use crate::support::{Env, account_toml, dovecot, message_by_subject, wait_for};

const USER: &str = "mm@example.de";
const ON_DEMAND: &str = "[sync]\nbodies = \"on-demand\"\n[routing]\nplugins = [\"subject-tag\"]\n";

/// `(messages stored header-only, bytes of all blobs)`.
fn stored(env: &Env) -> (i64, i64) {
    let conn = rusqlite::Connection::open(env.path().join("data/postfach.sqlite3")).unwrap();
    let missing = conn.query_row("SELECT COUNT(*) FROM messages WHERE body_missing = 1", [], |r| r.get(0)).unwrap();
    let bytes = conn.query_row("SELECT COALESCE(SUM(size), 0) FROM blobs", [], |r| r.get(0)).unwrap();
    (missing, bytes)
}

fn local_id(env: &Env, subject: &str) -> i64 {
    message_by_subject(env, "mm", subject).unwrap_or_else(|| panic!("no {subject}"))["local_id"].as_i64().unwrap()
}

#[test]
fn on_demand_bodies_are_fetched_at_the_first_show_and_then_kept_offline() {
    let mut dv = dovecot(DovecotConfig::default(), &[USER]);
    let mut c = dv.client(USER).unwrap();
    let plans = Mail::new(1, "[P-210-01] Pläne").body("Das Fundament wird am Montag gegossen.\r\n").size(200_000);
    let question = Mail::new(2, "Rückfrage Statik").body("Bitte um Rückruf wegen der Bewehrung.\r\n");
    c.append("INBOX", &["\\Flagged"], None, &plans.to_bytes()).unwrap();
    c.append("INBOX", &[], None, &question.to_bytes()).unwrap();
    let env = Env::new();
    env.write_account("mm", &account_toml(&dv, USER, ON_DEMAND));
    let out = env.ok(&["sync", "--once"]);
    assert!(out.contains("mm: 2 new"), "{out}");

    // Headers, flags and routing without the bodies.
    let m = message_by_subject(&env, "mm", "[P-210-01] Pläne").unwrap();
    assert_eq!(m["flags"], serde_json::json!(["\\Flagged"]));
    assert_eq!(m["project"], "210-01", "routed on the subject: {m}");
    let (missing, bytes) = stored(&env);
    assert_eq!(missing, 2);
    assert!(bytes < 4_000, "only header sections are stored: {bytes} bytes");

    // The first show fetches the body: the exact bytes, not marked read on the server.
    let id = local_id(&env, "[P-210-01] Pläne");
    let shown = env.run(&["show", &id.to_string()]);
    assert!(shown.status.success(), "{}", String::from_utf8_lossy(&shown.stderr));
    assert_eq!(shown.stdout, plans.to_bytes(), "the message, byte for byte");
    c.select("INBOX").unwrap();
    assert_eq!(c.flags(1).unwrap(), ["\\Flagged"], "fetching a body must not set \\Seen");
    let (missing, bytes) = stored(&env);
    assert_eq!(missing, 1, "the other message still waits");
    assert!(bytes > 200_000, "{bytes}");

    // With the server gone the fetched message is still there; the other one says why not.
    c.logout().unwrap();
    dv.stop();
    let again = env.run(&["show", &id.to_string()]);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert_eq!(again.stdout, plans.to_bytes());
    let other = env.run(&["show", &local_id(&env, "Rückfrage Statik").to_string()]);
    assert!(!other.status.success());
    let err = String::from_utf8_lossy(&other.stderr);
    assert!(err.contains("not stored yet and could not be fetched from the server"), "{err}");
    assert_eq!(stored(&env).0, 1, "a failed fetch changes nothing");
}

#[test]
fn the_api_fetches_a_body_on_first_access_while_the_daemon_runs() {
    let dv = dovecot(DovecotConfig::default(), &[USER]);
    let env = Env::new();
    env.write_account("mm", &account_toml(&dv, USER, ON_DEMAND));
    let admin = token(&env, &["--user", "root", "--admin"]);
    let daemon = env.daemon();
    let api = Api::of(&env, &daemon);
    wait_state(&api, &daemon, &admin, "mm", "idle");

    // Mail arriving while the daemon runs is stored header-only.
    let mail = Mail::new(7, "Baubesprechung Freitag").body("Treffpunkt ist die Baustelle, Zugang über Tor 3.\r\n");
    let mut c = dv.client(USER).unwrap();
    c.append("INBOX", &[], None, &mail.to_bytes()).unwrap();
    let id = wait_for("the new message", Duration::from_secs(20), || {
        message_by_subject(&env, "mm", "Baubesprechung Freitag").map(|m| m["local_id"].as_i64().unwrap())
    });
    assert_eq!(stored(&env).0, 1);
    let words = |q: &str| api.get(&admin, &format!("/v1/search?q={q}")).ok()["items"].as_array().unwrap().len();
    assert_eq!(words("Baustelle"), 0, "the body is not here yet");

    let detail = api.get(&admin, &format!("/v1/messages/{id}")).ok();
    assert!(detail["text"].as_str().unwrap().contains("Zugang über Tor 3"), "{detail}");
    assert_eq!(stored(&env).0, 0);
    assert_eq!(api.get(&admin, &format!("/v1/messages/{id}/raw")).body, mail.to_bytes());
    assert_eq!(words("Baustelle"), 1, "the fetched body is searchable");
    c.select("INBOX").unwrap();
    assert!(c.flags(1).unwrap().is_empty(), "not marked read");
}
