//! The event feed over HTTP: a long-poll that answers as soon as a new message is
//! stored, a Server-Sent Events stream that resumes after a dropped connection with
//! nothing skipped or repeated, and `account-state` events with the server's words.

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use postfach_test_harness::DovecotConfig;
use postfach_test_harness::mail::Mail;
use serde_json::Value;

use super::client::{Api, token, wait_state};
use crate::support::{Env, account_toml, dovecot};

const ANNA: &str = "anna@architekt.test";

fn seqs(page: &Value) -> Vec<i64> {
    page["items"].as_array().unwrap().iter().map(|e| e["seq"].as_i64().unwrap()).collect()
}

#[test]
fn a_long_poll_answers_within_a_second_of_a_new_message() {
    let dv = dovecot(DovecotConfig::default(), &[ANNA]);
    let mut c = dv.client(ANNA).unwrap();
    c.append("INBOX", &[], None, &Mail::new(1, "Erste").to_bytes()).unwrap();
    let env = Env::new();
    env.write_account("architekt", &account_toml(&dv, ANNA, ""));
    let admin = token(&env, &["--user", "root", "--admin"]);
    let daemon = env.daemon();
    let api = Api::of(&env, &daemon);
    wait_state(&api, &daemon, &admin, "architekt", "idle");
    let last = api.get(&admin, "/v1/events").ok()["last_seq"].as_i64().unwrap();
    assert!(last > 0);

    // Nothing happens: the poll ends after `wait` with nothing and the same cursor.
    let started = Instant::now();
    let empty = api.get(&admin, &format!("/v1/events?after={last}&wait=1")).ok();
    assert!(started.elapsed() >= Duration::from_millis(900), "{:?}", started.elapsed());
    assert_eq!((seqs(&empty), empty["last_seq"].as_i64()), (vec![], Some(last)));

    // The long-poll is written to the socket before the mail arrives, so it is waiting.
    let (sent_tx, sent_rx) = std::sync::mpsc::channel();
    let poll = {
        let (addr, admin) = (api.base.trim_start_matches("http://").to_owned(), admin.clone());
        std::thread::spawn(move || {
            use std::io::{Read, Write};
            let mut conn = std::net::TcpStream::connect(&addr).unwrap();
            let request = format!(
                "GET /v1/events?after={last}&wait=60 HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {admin}\r\n\
                 Connection: close\r\n\r\n"
            );
            conn.write_all(request.as_bytes()).unwrap();
            sent_tx.send(()).unwrap();
            let mut answer = String::new();
            conn.read_to_string(&mut answer).unwrap();
            let answered = Instant::now();
            let (head, body) = answer.split_once("\r\n\r\n").unwrap();
            assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            (serde_json::from_str::<Value>(body).unwrap(), answered)
        })
    };
    sent_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    c.append("INBOX", &[], None, &Mail::new(2, "Zweite").to_bytes()).unwrap();
    // When the store has the event (read from the database directly).
    let db = rusqlite::Connection::open(env.path().join("data/postfach.sqlite3")).unwrap();
    let stored = daemon.wait_for("the new-message event in the store", Duration::from_secs(30), || {
        let n: i64 = db
            .query_row("SELECT COUNT(*) FROM events WHERE seq > ?1 AND kind = 'new-message'", [last], |r| r.get(0))
            .unwrap();
        (n > 0).then(Instant::now)
    });
    let (page, answered) = poll.join().unwrap();
    let kinds: Vec<&str> = page["items"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"new-message"), "{page}");
    let late = answered.saturating_duration_since(stored);
    assert!(late < Duration::from_secs(1), "the long-poll answered {late:?} after the event was stored");
    let message =
        page["items"].as_array().unwrap().iter().find(|e| e["kind"] == "new-message").unwrap()["message"].clone();
    let shown = api.get(&admin, &format!("/v1/messages/{message}")).ok();
    assert_eq!(shown["subject"], "Zweite");
    api.get(&admin, "/v1/events?wait=999").problem(400);
}

/// Reads SSE events (`id:` and `data:`) until `n` arrived.
fn read_events(reader: &mut impl BufRead, n: usize) -> Vec<(i64, Value)> {
    let mut out = Vec::new();
    let (mut id, mut data) = (None, None);
    let mut line = String::new();
    while out.len() < n {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0, "the stream ended early");
        let l = line.trim_end_matches(['\r', '\n']);
        if let Some(v) = l.strip_prefix("id:") {
            id = Some(v.trim().parse::<i64>().unwrap());
        } else if let Some(v) = l.strip_prefix("data:") {
            data = Some(serde_json::from_str::<Value>(v.trim()).unwrap());
        } else if l.is_empty()
            && let (Some(i), Some(d)) = (id.take(), data.take())
        {
            out.push((i, d));
        }
    }
    out
}

#[test]
fn the_event_stream_resumes_after_a_dropped_connection_with_nothing_skipped() {
    let dv = dovecot(DovecotConfig::default(), &[ANNA]);
    let mut c = dv.client(ANNA).unwrap();
    for n in 1..=3 {
        c.append("INBOX", &[], None, &Mail::new(n, &format!("Nachricht {n}")).to_bytes()).unwrap();
    }
    let env = Env::new();
    env.write_account("architekt", &account_toml(&dv, ANNA, ""));
    let admin = token(&env, &["--user", "root", "--admin"]);
    let daemon = env.daemon();
    let api = Api::of(&env, &daemon);
    wait_state(&api, &daemon, &admin, "architekt", "idle");
    let first_batch = seqs(&api.get(&admin, "/v1/events?limit=1000").ok());
    assert!(first_batch.len() >= 3);

    let open = |last: Option<i64>, after: Option<i64>| {
        let mut r = api.request(
            reqwest::Method::GET,
            &format!("/v1/events/stream{}", after.map(|a| format!("?after={a}")).unwrap_or_default()),
            Some(&admin),
        );
        if let Some(l) = last {
            r = r.header("Last-Event-ID", l.to_string());
        }
        let response = r.send().unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        BufReader::new(response)
    };
    let mut stream = open(None, Some(0));
    let mut got = read_events(&mut stream, 2);
    drop(stream);
    // While nobody listens, more mail arrives.
    for n in 4..=6 {
        c.append("INBOX", &[], None, &Mail::new(n, &format!("Nachricht {n}")).to_bytes()).unwrap();
    }
    let all = daemon.wait_for("the three new messages' events", Duration::from_secs(30), || {
        let page = api.get(&admin, "/v1/events?limit=1000").ok();
        let n = page["items"].as_array().unwrap().iter().filter(|e| e["kind"] == "new-message").count();
        (n == 6).then(|| seqs(&page))
    });
    let resume_from = got.last().unwrap().0;
    let mut stream = open(Some(resume_from), Some(0));
    let wanted = all.iter().filter(|s| **s > resume_from).count();
    got.extend(read_events(&mut stream, wanted));
    let ids: Vec<i64> = got.iter().map(|(i, _)| *i).collect();
    assert_eq!(ids, all, "every event exactly once, in order, across the reconnect");
    for (seq, data) in &got {
        assert_eq!(data["seq"], *seq);
        assert_eq!(data["account"], "architekt");
    }
    // A stream opened without a position starts at the end: the next event is new.
    let mut live = open(None, None);
    c.append("INBOX", &[], None, &Mail::new(7, "Nachricht 7").to_bytes()).unwrap();
    let next = read_events(&mut live, 1);
    assert!(next[0].0 > *all.last().unwrap(), "{next:?}");
}

#[test]
fn a_refused_login_is_an_account_state_event_with_the_servers_words() {
    let dv = dovecot(DovecotConfig::default(), &[ANNA]);
    let env = Env::new();
    env.write_account("architekt", &account_toml(&dv, ANNA, "").replace(crate::support::PASSWORD, "falsch"));
    let admin = token(&env, &["--user", "root", "--admin"]);
    let daemon = env.daemon();
    let api = Api::of(&env, &daemon);
    let event = daemon.wait_for("an account-state event", Duration::from_secs(30), || {
        let page = api.get(&admin, "/v1/events?wait=5").ok();
        page["items"].as_array().unwrap().iter().find(|e| e["kind"] == "account-state").cloned()
    });
    assert_eq!(event["account"], "architekt");
    assert_eq!(event["detail"]["state"], "auth-failed", "{event}");
    let error = event["detail"]["error"].as_str().unwrap();
    assert!(error.contains("Authentication failed"), "the server's words: {error}");
    assert!(!event.to_string().contains("falsch"), "no password in events");
    // Fixed: one event says the account is back, and none for the routine states between.
    let after = event["seq"].as_i64().unwrap();
    env.write_account("architekt", &account_toml(&dv, ANNA, ""));
    let back = daemon.wait_for("the recovery event", Duration::from_secs(30), || {
        let page = api.get(&admin, &format!("/v1/events?after={after}&wait=5")).ok();
        page["items"].as_array().unwrap().iter().find(|e| e["kind"] == "account-state").cloned()
    });
    assert_eq!(
        (back["detail"]["state"].as_str(), back["detail"]["previous"].as_str()),
        (Some("idle"), Some("auth-failed"))
    );
    let later = api.get(&admin, &format!("/v1/events?after={}", back["seq"])).ok();
    assert!(later["items"].as_array().unwrap().iter().all(|e| e["kind"] != "account-state"), "{later}");
}
