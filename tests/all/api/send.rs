//! Sending over HTTP through a real Postfix: attachments and replies arrive intact, an
//! `Idempotency-Key` makes retries (even concurrent ones) send once, and the outbox can
//! be watched, retried and cancelled.

use std::time::Duration;

use base64::Engine;
use mail_parser::MimeHeaders;
use postfach_test_harness::mail::Mail;
use postfach_test_harness::{Dovecot, DovecotConfig, MailboxSpec, Postfix};
use reqwest::Method;
use serde_json::json;

use super::client::{Api, Reply, token, wait_state};
use crate::support::{Daemon, Env, account_toml, dovecot, wait_for};

const ANNA: &str = "anna@architekt.test";
const BOB: &str = "bob@kanzlei.test";

fn started() -> (Dovecot, Postfix, Env, Daemon, Api, String) {
    let config = DovecotConfig::default().mailbox(MailboxSpec::special("Gesendet", "\\Sent"));
    let dv = dovecot(config, &[ANNA, BOB]);
    let pf = Postfix::start(&dv).unwrap();
    let mut c = dv.client(ANNA).unwrap();
    c.append("INBOX", &[], None, &Mail::new(1, "Anfrage Fenster").from(BOB).to(ANNA).to_bytes()).unwrap();
    let env = Env::new();
    let smtp = format!(
        "[smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"starttls\"\nretry_initial_secs = 1\nretry_max_secs = 2\n\
         [access]\nowner = \"mm\"\n",
        pf.submission_port
    );
    env.write_account("architekt", &account_toml(&dv, ANNA, &smtp));
    super::client::users(&env, "mm = {}\n");
    let mm = token(&env, &["--user", "mm", "--scope", "read", "--scope", "send"]);
    let daemon = env.daemon();
    let api = Api::of(&env, &daemon);
    wait_state(&api, &daemon, &mm, "architekt", "idle");
    (dv, pf, env, daemon, api, mm)
}

fn inbox(dv: &Dovecot, user: &str) -> Vec<Vec<u8>> {
    let mut c = dv.client(user).unwrap();
    c.select("INBOX").unwrap();
    let uids = c.uid_search("ALL").unwrap();
    uids.iter().map(|u| c.body(*u).unwrap()).collect()
}

fn with_id(messages: &[Vec<u8>], message_id: &str) -> Vec<Vec<u8>> {
    messages.iter().filter(|m| String::from_utf8_lossy(m).contains(&format!("<{message_id}>"))).cloned().collect()
}

fn post_with_key(api: &Api, token: &str, key: &str, body: &serde_json::Value) -> Reply {
    Api::reply(
        api.request(Method::POST, "/v1/send", Some(token)).header("Idempotency-Key", key).json(body).send().unwrap(),
    )
}

#[test]
fn a_reply_with_an_attachment_is_sent_once_however_often_it_is_retried() {
    let (dv, _pf, env, daemon, api, mm) = started();
    let original = api.get(&mm, "/v1/messages").ok()["items"][0]["local_id"].as_i64().unwrap();
    let pdf: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    let body = json!({
        "to": [BOB],
        "text": "Anbei die Kostenschätzung.",
        "html": "<p>Anbei die <b>Kostenschätzung</b>.</p>",
        "reply_to_local_id": original,
        "attachments": [{
            "filename": "Kostenschätzung März.pdf",
            "content_type": "application/pdf",
            "content_base64": base64::engine::general_purpose::STANDARD.encode(&pdf),
        }],
    });
    // The client times out and tries again, twice at the same moment.
    let first = post_with_key(&api, &mm, "angebot-42", &body);
    assert_eq!(first.status, 202, "{}", String::from_utf8_lossy(&first.body));
    let retries: Vec<Reply> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2).map(|_| s.spawn(|| post_with_key(&api, &mm, "angebot-42", &body))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let sent = first.json();
    for r in &retries {
        assert_eq!(r.status, 202);
        assert_eq!(r.json(), sent, "the same outbox entry");
    }
    let id = sent["outbox_id"].as_i64().unwrap();
    let message_id = sent["message_id"].as_str().unwrap().to_owned();
    daemon.wait_for("the entry sent", Duration::from_secs(30), || {
        (api.get(&mm, &format!("/v1/outbox/{id}")).ok()["state"] == "sent").then_some(())
    });
    let got = wait_for("Bob's copy", Duration::from_secs(20), || {
        let m = with_id(&inbox(&dv, BOB), &message_id);
        (!m.is_empty()).then_some(m)
    });
    assert_eq!(with_id(&inbox(&dv, BOB), &message_id).len(), 1, "sent exactly once");
    let entries = api.get(&mm, "/v1/outbox").ok();
    let queued = entries.as_array().unwrap().iter().filter(|e| e["message_id"] == message_id).count();
    assert_eq!(queued, 1, "one outbox entry for the three requests: {entries}");
    let parsed = mail_parser::MessageParser::new().parse(&got[0]).unwrap();
    assert_eq!(parsed.subject(), Some("Re: Anfrage Fenster"));
    assert_eq!(parsed.in_reply_to().as_text(), Some("msg-1@fixture.postfach.test"));
    let attachment = parsed.attachments().next().unwrap();
    assert_eq!(attachment.attachment_name(), Some("Kostenschätzung März.pdf"));
    assert_eq!(attachment.contents(), pdf.as_slice());
    // A new key is a new message.
    let other = post_with_key(
        &api,
        &mm,
        "angebot-43",
        &json!({ "account": "architekt", "to": [BOB], "subject": "Noch eins", "text": "x" }),
    );
    assert_ne!(other.json()["outbox_id"], sent["outbox_id"]);
    let outbox = api.get(&mm, "/v1/outbox").ok();
    assert_eq!(outbox.as_array().unwrap().len(), 2, "{outbox}");
    drop(env);
}

#[test]
fn a_deferred_message_can_be_cancelled_and_then_is_never_sent() {
    let (_dv, _pf, _env, daemon, api, mm) = started();
    let queued = api.post(
        &mm,
        "/v1/send",
        &json!({ "account": "architekt", "to": ["defer@kanzlei.test"], "subject": "Warten", "text": "x" }),
    );
    let id = queued.ok()["outbox_id"].as_i64().unwrap();
    let deferred = daemon.wait_for("a deferral", Duration::from_secs(20), || {
        let e = api.get(&mm, &format!("/v1/outbox/{id}")).ok();
        (e["state"] == "deferred").then_some(e)
    });
    assert!(deferred["last_error"].as_str().unwrap().contains("Mailbox voll"), "{deferred}");
    let cancelled = api.delete(&mm, &format!("/v1/outbox/{id}")).ok();
    assert_eq!(cancelled["state"], "cancelled");
    let attempts = cancelled["attempts"].as_u64().unwrap();
    // Nothing may happen now: the pause spans more than the retry interval (at most 2 s),
    // so a cancelled entry that was still retried would show another attempt.
    std::thread::sleep(Duration::from_secs(3));
    let later = api.get(&mm, &format!("/v1/outbox/{id}")).ok();
    assert_eq!((later["state"].as_str(), later["attempts"].as_u64()), (Some("cancelled"), Some(attempts)));
    api.post(&mm, &format!("/v1/outbox/{id}/retry"), &json!({})).problem(409);
    api.delete(&mm, &format!("/v1/outbox/{id}")).problem(409);
    api.delete(&mm, "/v1/outbox/999999").problem(404);
}

#[test]
fn a_bad_send_request_is_refused_with_the_reason_and_queues_nothing() {
    let (_dv, _pf, _env, _daemon, api, mm) = started();
    let detail =
        api.post(&mm, "/v1/send", &json!({ "account": "architekt", "subject": "Niemand", "text": "x" })).problem(400);
    assert!(detail.contains("recipient"), "{detail}");
    let bad = json!({ "account": "architekt", "to": [BOB], "subject": "x", "text": "x", "attachments": [{ "filename": "a.pdf", "content_base64": "@@@" }] });
    assert!(api.post(&mm, "/v1/send", &bad).problem(400).contains("base64"));
    api.post(&mm, "/v1/send", &json!({ "account": "architekt", "to": [BOB], "text": "ohne Betreff" })).problem(400);
    api.post(
        &mm,
        "/v1/send",
        &json!({ "account": "architekt", "to": ["kein Empfänger"], "subject": "x", "text": "x" }),
    )
    .problem(400);
    api.post(&mm, "/v1/send", &json!({ "to": [BOB], "text": "x", "reply_to_local_id": 987654 })).problem(404);
    api.post(&mm, "/v1/send", &json!({ "to": BOB, "subject": "x" })).problem(422);
    // Without an account and without a default account: say which to name.
    let detail = api.post(&mm, "/v1/send", &json!({ "to": [BOB], "subject": "x", "text": "x" })).problem(400);
    assert!(detail.contains("default = true"), "{detail}");
    let key = Api::reply(
        api.request(Method::POST, "/v1/send", Some(&mm))
            .header("Idempotency-Key", "")
            .json(&json!({ "to": [BOB], "subject": "x", "text": "x" }))
            .send()
            .unwrap(),
    );
    key.problem(400);
    assert_eq!(api.get(&mm, "/v1/outbox").ok().as_array().unwrap().len(), 0);
}
