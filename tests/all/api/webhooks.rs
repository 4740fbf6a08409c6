//! Webhooks from a running daemon to a real HTTP receiver: Standard Webhooks signatures
//! that verify, every event in seq order with a stable `webhook-id`, retries after 500s
//! without skipping or reordering, the kinds filter, and delivery that resumes after a
//! kill -9 of the daemon.

use std::time::Duration;

use postfach_test_harness::mail::Mail;
use postfach_test_harness::{Delivery, Direction, DovecotConfig, Fault, FaultProxy, WebhookReceiver};
use serde_json::Value;

use super::client::{Api, token};
use crate::support::{Daemon, Env, account_toml, dovecot};

const ANNA: &str = "anna@architekt.test";
const SECRET: &str = "whsec_c2VocmdlaGVpbWVzLXdlYmhvb2stZ2VoZWltbmlz";

fn configure(env: &Env, hooks: &[(&WebhookReceiver, &str)]) {
    let urls: Vec<(String, &str)> = hooks.iter().map(|(r, extra)| (r.url(), *extra)).collect();
    configure_urls(env, &urls);
}

fn configure_urls(env: &Env, hooks: &[(String, &str)]) {
    let path = env.path().join("postfach.toml");
    let mut toml = std::fs::read_to_string(&path).unwrap();
    for (url, extra) in hooks {
        toml.push_str(&format!(
            "\n[[webhooks]]\nurl = \"{url}\"\nsecret = {{ env = \"POSTFACH_WEBHOOK_SECRET\" }}\n{extra}\n"
        ));
    }
    std::fs::write(path, toml).unwrap();
}

fn daemon(env: &Env) -> Daemon {
    env.daemon_with_env(&[("POSTFACH_WEBHOOK_SECRET", SECRET)])
}

/// Runs the daemon once until every endpoint has its cursor, then stops it. An endpoint
/// starts at the feed's head, so a test that wants events delivered makes them after this.
fn make_cursors(env: &Env, admin: &str) {
    let mut first = daemon(env);
    let api = Api::of(env, &first);
    first.wait_for("the endpoints' cursors", Duration::from_secs(20), || {
        (api.get(admin, "/v1/webhooks").ok().as_array().unwrap().iter().all(|w| w["state"] == "ok")).then_some(())
    });
    assert!(first.stop());
    // The next daemon writes its own address file.
    let _ = std::fs::remove_file(env.path().join("data/api.addr"));
}

/// The feed's seqs (all kinds, oldest first).
fn feed(api: &Api, token: &str) -> Vec<(i64, String)> {
    let page = api.get(token, "/v1/events?limit=1000").ok();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["seq"].as_i64().unwrap(), e["kind"].as_str().unwrap().to_owned()))
        .collect()
}

fn seq_of(d: &Delivery) -> i64 {
    d.json()["seq"].as_i64().unwrap()
}

/// Successful deliveries' seqs, in arrival order.
fn delivered(receiver: &WebhookReceiver) -> Vec<i64> {
    receiver.deliveries().iter().filter(|d| d.answered == 200).map(seq_of).collect()
}

#[test]
fn every_event_arrives_signed_in_order_with_its_message_and_only_wanted_kinds() {
    let dv = dovecot(DovecotConfig::default(), &[ANNA]);
    let all = WebhookReceiver::start(SECRET).unwrap();
    let some = WebhookReceiver::start(SECRET).unwrap();
    let env = Env::new();
    configure(&env, &[(&all, ""), (&some, "events = [\"new-message\"]\naccounts = [\"architekt\"]")]);
    env.write_account("architekt", &account_toml(&dv, ANNA, "[routing]\nplugins = [\"subject-tag\"]\n"));
    let admin = token(&env, &["--user", "root", "--admin"]);
    // The mail arrives after the cursors are made, while no daemon runs, so each
    // message's `new-message` and `routed` events wait in one batch.
    make_cursors(&env, &admin);
    let mut c = dv.client(ANNA).unwrap();
    for n in 1..=3 {
        c.append("INBOX", &[], None, &Mail::new(n, &format!("[P-210-01] Hook {n}")).to_bytes()).unwrap();
    }
    env.ok(&["sync", "--once"]);
    let d = daemon(&env);
    let api = Api::of(&env, &d);
    // Settled: every event of the feed delivered to both endpoints (the daemon's own first
    // pass may still add an event after the ones `sync --once` wrote).
    let events = d.wait_for("three messages in the feed and at the receiver", Duration::from_secs(30), || {
        let events = feed(&api, &admin);
        let news = events.iter().filter(|e| e.1 == "new-message").count();
        let routed = events.iter().filter(|e| e.1 == "routed").count();
        let caught_up = api.get(&admin, "/v1/webhooks").ok().as_array().unwrap().iter().all(|w| w["lag"] == 0);
        let same = delivered(&all) == events.iter().map(|e| e.0).collect::<Vec<_>>();
        (news == 3 && routed == 3 && caught_up && same).then_some(events)
    });
    let got = all.deliveries();
    assert!(got.iter().all(|d| d.verified), "every signature verifies with the secret");
    let seqs: Vec<i64> = got.iter().map(seq_of).collect();
    assert_eq!(seqs, events.iter().map(|e| e.0).collect::<Vec<_>>(), "every event once, in seq order");
    for d in &got {
        let body = d.json();
        assert_eq!(d.header("webhook-id"), Some(format!("evt_{}", body["seq"]).as_str()));
        assert!(d.header("webhook-timestamp").unwrap().parse::<i64>().is_ok());
        assert_eq!(d.header("content-type"), Some("application/json"));
        assert_eq!(body["account"], "architekt");
        // Every event about a message carries its summary, also when two concern one message.
        if body["kind"] == "new-message" || body["kind"] == "routed" {
            assert!(body["message"]["subject"].as_str().unwrap().starts_with("[P-210-01] Hook "), "{body}");
            assert!(body["message"]["local_id"].is_i64());
        }
        if body["kind"] == "routed" {
            assert_eq!(body["detail"]["project"], "210-01");
        }
    }
    // The filtered endpoint gets exactly the new-message events.
    d.wait_for("the filtered endpoint", Duration::from_secs(20), || (delivered(&some).len() == 3).then_some(()));
    assert!(some.deliveries().iter().all(|d| d.json()["kind"] == "new-message"));
    let status = env.json(&["webhooks"]);
    let last = events.last().unwrap().0;
    for w in status.as_array().unwrap() {
        assert_eq!(w["state"], "ok", "{status}");
        assert!(w["delivered_seq"].as_i64().unwrap() >= last, "{status} {events:?}");
    }
    let over_api = api.get(&admin, "/v1/webhooks").ok();
    assert_eq!(over_api.as_array().unwrap().len(), 2);
    let user = {
        let path = env.path().join("postfach.toml");
        let toml = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{toml}\n[users]\nmm = {{}}\n")).unwrap();
        token(&env, &["--user", "mm"])
    };
    api.get(&user, "/v1/webhooks").problem(403);
}

#[test]
fn a_receiver_failing_three_times_gets_the_same_event_again_then_the_rest_in_order() {
    let dv = dovecot(DovecotConfig::default(), &[ANNA]);
    let mut c = dv.client(ANNA).unwrap();
    c.append("INBOX", &[], None, &Mail::new(1, "Erste").to_bytes()).unwrap();
    let receiver = WebhookReceiver::start(SECRET).unwrap();
    receiver.script(&[500, 500, 500]);
    let env = Env::new();
    configure(&env, &[(&receiver, "")]);
    env.write_account("architekt", &account_toml(&dv, ANNA, ""));
    let admin = token(&env, &["--user", "root", "--admin"]);
    let d = daemon(&env);
    let api = Api::of(&env, &d);
    // While it fails, the endpoint shows `retrying` with the receiver's answer.
    let status = d.wait_for("the endpoint retrying", Duration::from_secs(20), || {
        let s = api.get(&admin, "/v1/webhooks").ok()[0].clone();
        (s["state"] == "retrying").then_some(s)
    });
    assert!(status["last_error"].as_str().unwrap().contains("500"), "{status}");
    for n in 2..=3 {
        c.append("INBOX", &[], None, &Mail::new(n, &format!("Weitere {n}")).to_bytes()).unwrap();
    }
    let events = d.wait_for("every event delivered", Duration::from_secs(40), || {
        let events = feed(&api, &admin);
        let news = events.iter().filter(|e| e.1 == "new-message").count();
        (news == 3 && delivered(&receiver) == events.iter().map(|e| e.0).collect::<Vec<_>>()).then_some(events)
    });
    let got = receiver.deliveries();
    let first = &got[0];
    let retries: Vec<&Delivery> = got.iter().filter(|d| d.header("webhook-id") == first.header("webhook-id")).collect();
    assert_eq!(retries.iter().map(|d| d.answered).collect::<Vec<_>>(), [500, 500, 500, 200]);
    assert!(
        retries.iter().all(|d| d.body == first.body && d.verified),
        "the same event, the same id, signed each time"
    );
    assert_eq!(seq_of(first), events[0].0);
    // Nothing after the failing event was sent before it succeeded.
    let order: Vec<i64> = got.iter().map(seq_of).collect();
    assert!(order.windows(2).all(|w| w[0] <= w[1]), "in order: {order:?}");
    let s = api.get(&admin, "/v1/webhooks").ok()[0].clone();
    assert_eq!((s["state"].as_str(), s["last_error"].as_str()), (Some("ok"), None));
}

#[test]
fn delivery_resumes_after_a_kill_of_the_daemon_with_nothing_skipped() {
    let dv = dovecot(DovecotConfig::default(), &[ANNA]);
    let mut c = dv.client(ANNA).unwrap();
    for n in 1..=3 {
        c.append("INBOX", &[], None, &Mail::new(n, &format!("Vorher {n}")).to_bytes()).unwrap();
    }
    let receiver = WebhookReceiver::start(SECRET).unwrap();
    // The second event fails until the daemon is gone.
    receiver.script(&[200, 500, 500, 500, 500, 500, 500]);
    let env = Env::new();
    configure(&env, &[(&receiver, "")]);
    env.write_account("architekt", &account_toml(&dv, ANNA, ""));
    let admin = token(&env, &["--user", "root", "--admin"]);
    let mut first = daemon(&env);
    let api = Api::of(&env, &first);
    first.wait_for("a failed delivery", Duration::from_secs(20), || {
        receiver.deliveries().iter().any(|d| d.answered == 500).then_some(())
    });
    first.kill9();
    for n in 4..=5 {
        c.append("INBOX", &[], None, &Mail::new(n, &format!("Nachher {n}")).to_bytes()).unwrap();
    }
    let _ = std::fs::remove_file(env.path().join("data/api.addr"));
    let second = daemon(&env);
    let api2 = Api::of(&env, &second);
    drop(api);
    let events = second.wait_for("every event delivered after the restart", Duration::from_secs(60), || {
        let events = feed(&api2, &admin);
        let news = events.iter().filter(|e| e.1 == "new-message").count();
        let wanted: Vec<i64> = events.iter().map(|e| e.0).collect();
        (news == 5 && delivered(&receiver) == wanted).then_some(events)
    });
    // Every event exactly once successfully, in order; the failed one came again with its id.
    let ids: Vec<String> = receiver
        .deliveries()
        .iter()
        .filter(|d| d.answered == 200)
        .map(|d| d.header("webhook-id").unwrap().to_owned())
        .collect();
    let expected: Vec<String> = events.iter().map(|e| format!("evt_{}", e.0)).collect();
    assert_eq!(ids, expected);
    let failed: Vec<Value> = receiver.deliveries().iter().filter(|d| d.answered == 500).map(Delivery::json).collect();
    assert!(failed.iter().all(|b| b["seq"] == failed[0]["seq"]), "only the one event was retried");
}

#[test]
fn a_backlog_larger_than_a_batch_is_delivered_completely() {
    let dv = dovecot(DovecotConfig::default(), &[ANNA]);
    let receiver = WebhookReceiver::start(SECRET).unwrap();
    let env = Env::new();
    configure(&env, &[(&receiver, "events = [\"new-message\"]")]);
    env.write_account("architekt", &account_toml(&dv, ANNA, ""));
    // 450 messages arrive after the cursor is made, while no daemon runs, so the whole
    // backlog waits at the next start, with no news after it.
    let admin = token(&env, &["--user", "root", "--admin"]);
    make_cursors(&env, &admin);
    let mut c = dv.client(ANNA).unwrap();
    let many: Vec<Vec<u8>> = (1..=450).map(|n| Mail::new(n, &format!("Viele {n}")).to_bytes()).collect();
    c.append_many("INBOX", &many).unwrap();
    env.ok(&["sync", "--once"]);
    let d = daemon(&env);
    d.wait_for("450 deliveries", Duration::from_secs(60), || (delivered(&receiver).len() >= 450).then_some(()));
    let seqs = delivered(&receiver);
    assert_eq!(seqs.len(), 450, "each event once");
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order");
}

#[test]
fn a_delivery_cut_in_the_middle_is_sent_again_with_the_same_id_and_nothing_is_skipped() {
    let dv = dovecot(DovecotConfig::default(), &[ANNA]);
    let receiver = WebhookReceiver::start(SECRET).unwrap();
    let port: u16 = receiver.url().split(':').nth(2).unwrap().split('/').next().unwrap().parse().unwrap();
    let proxy = FaultProxy::start(([127, 0, 0, 1], port).into()).unwrap();
    let env = Env::new();
    // The receiver, reached through the proxy.
    configure_urls(&env, &[(receiver.url().replace(&format!(":{port}/"), &format!(":{}/", proxy.port)), "")]);
    let admin = token(&env, &["--user", "root", "--admin"]);
    make_cursors(&env, &admin);
    env.write_account("architekt", &account_toml(&dv, ANNA, ""));
    let mut c = dv.client(ANNA).unwrap();
    for n in 1..=3 {
        c.append("INBOX", &[], None, &Mail::new(n, &format!("Hook {n}")).to_bytes()).unwrap();
    }
    // The first POST is cut half-way through its body.
    proxy.arm(Direction::Upstream, 400, Fault::Drop);
    let d = daemon(&env);
    let api = Api::of(&env, &d);
    let events = d.wait_for("every event delivered", Duration::from_secs(30), || {
        let events: Vec<i64> = feed(&api, &admin).iter().map(|e| e.0).collect();
        let news = feed(&api, &admin).iter().filter(|e| e.1 == "new-message").count();
        (news == 3 && delivered(&receiver) == events).then_some(events)
    });
    assert_eq!(proxy.fired(), 1);
    // Each event exactly once at the receiver, in order, with its stable id.
    let got = receiver.deliveries();
    assert_eq!(got.iter().map(seq_of).collect::<Vec<_>>(), events);
    for d in &got {
        assert_eq!(d.header("webhook-id"), Some(format!("evt_{}", seq_of(d)).as_str()));
        assert!(d.verified);
    }
}

#[test]
fn twenty_kills_during_webhook_delivery_skip_nothing_and_keep_each_events_id_and_body() {
    let dv = dovecot(DovecotConfig::default(), &[ANNA]);
    let messages: Vec<Vec<u8>> = (1..=150).map(|n| Mail::new(n, &format!("Hook {n}")).to_bytes()).collect();
    dv.client(ANNA).unwrap().append_many("INBOX", &messages).unwrap();
    let receiver = WebhookReceiver::start(SECRET).unwrap();
    let port: u16 = receiver.url().split(':').nth(2).unwrap().split('/').next().unwrap().parse().unwrap();
    // A slow receiver (about 15 deliveries a second), so the kills land mid-delivery.
    let proxy = FaultProxy::start(([127, 0, 0, 1], port).into()).unwrap();
    proxy.throttle_all(Some(15_000));
    let env = Env::new();
    configure_urls(&env, &[(receiver.url().replace(&format!(":{port}/"), &format!(":{}/", proxy.port)), "")]);
    let admin = token(&env, &["--user", "root", "--admin"]);
    // The mail arrives after the cursor is made, and with it 150 events to deliver.
    make_cursors(&env, &admin);
    env.write_account("architekt", &account_toml(&dv, ANNA, ""));
    env.ok(&["sync", "--once"]);
    let mut rng = fastrand::Rng::with_seed(1402);
    for _ in 0..20 {
        let mut d = daemon(&env);
        std::thread::sleep(Duration::from_millis(rng.u64(300..900)));
        d.kill9();
    }
    let before_last = delivered(&receiver).len();
    proxy.throttle_all(None);
    // The killed daemons' address file is stale; wait for the new one.
    let _ = std::fs::remove_file(env.path().join("data/api.addr"));
    let d = daemon(&env);
    let api = Api::of(&env, &d);
    let events = d.wait_for("every event delivered", Duration::from_secs(60), || {
        let events: Vec<i64> = feed(&api, &admin).iter().map(|e| e.0).collect();
        let got: std::collections::BTreeSet<i64> = delivered(&receiver).into_iter().collect();
        (events.len() >= 150 && events.iter().all(|s| got.contains(s))).then_some(events)
    });
    // Each event's every delivery carries the same id and the same body; the first
    // successful deliveries come in seq order; nothing outside the feed was delivered.
    let mut first_seen = Vec::new();
    let mut bodies: std::collections::BTreeMap<i64, Vec<u8>> = std::collections::BTreeMap::new();
    let mut duplicates = 0;
    for d in receiver.deliveries().iter().filter(|d| d.answered == 200) {
        let seq = seq_of(d);
        assert_eq!(d.header("webhook-id"), Some(format!("evt_{seq}").as_str()));
        assert!(events.contains(&seq), "evt_{seq} is not in the feed");
        match bodies.get(&seq) {
            Some(body) => {
                assert_eq!(body, &d.body, "evt_{seq} changed between deliveries");
                duplicates += 1;
            }
            None => {
                bodies.insert(seq, d.body.clone());
                first_seen.push(seq);
            }
        }
    }
    assert!(first_seen.windows(2).all(|w| w[0] < w[1]), "out of order: {first_seen:?}");
    assert_eq!(first_seen, events, "an event skipped");
    eprintln!(
        "crash/webhooks: 20 kills, {} events, {before_last} delivered before the last restart, {duplicates} delivered twice (at least once), 0 skipped",
        events.len()
    );
}
