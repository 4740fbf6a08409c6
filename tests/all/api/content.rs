//! Message content over the API: text, HTML and attachments parsed from the stored
//! bytes (byte-exact downloads with the right headers, umlaut file names), the raw
//! source, bad MIME that still answers, full-text search the way Germans type, and
//! threads across folders that survive a resync from scratch.

use std::time::Duration;

use base64::Engine;
use postfach_test_harness::mail::Mail;
use postfach_test_harness::{DovecotConfig, MailboxSpec};
use serde_json::Value;

use super::client::{Api, token, wait_state};
use crate::support::{Env, account_toml, dovecot};

const ANNA: &str = "anna@architekt.test";

/// Bytes 0..=255 twice: every byte value must survive the base64 round trip.
fn pdf_bytes() -> Vec<u8> {
    let mut b = b"%PDF-1.4\n".to_vec();
    b.extend((0..=255u8).chain(0..=255u8));
    b
}

fn multipart() -> Vec<u8> {
    let pdf = base64::engine::general_purpose::STANDARD.encode(pdf_bytes());
    let lines: Vec<String> = pdf.as_bytes().chunks(76).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
    format!(
        "Message-ID: <plaene-1@bau.test>\r\n\
         Date: Tue, 24 Nov 2026 10:00:00 +0100\r\n\
         From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jm@bau.test>\r\n\
         To: anna@architekt.test\r\n\
         Reply-To: buero@bau.test\r\n\
         Subject: =?UTF-8?Q?Pl=C3=A4ne_f=C3=BCr_die_Stra=C3=9Fe?=\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"XYZ\"\r\n\
         \r\n\
         --XYZ\r\n\
         Content-Type: multipart/alternative; boundary=\"ALT\"\r\n\
         \r\n\
         --ALT\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: quoted-printable\r\n\
         \r\n\
         Guten Tag, anbei die Pl=C3=A4ne f=C3=BCr das Fundament.\r\n\
         --ALT\r\n\
         Content-Type: text/html; charset=utf-8\r\n\
         \r\n\
         <p>Guten Tag, anbei die <b>Pläne</b></p>\r\n\
         --ALT--\r\n\
         --XYZ\r\n\
         Content-Type: application/pdf; name=\"=?UTF-8?Q?=C3=9Cbersicht_M=C3=A4rz.pdf?=\"\r\n\
         Content-Disposition: attachment; filename*=UTF-8''%C3%9Cbersicht%20M%C3%A4rz.pdf\r\n\
         Content-Transfer-Encoding: base64\r\n\
         \r\n\
         {}\r\n\
         --XYZ--\r\n",
        lines.join("\r\n")
    )
    .into_bytes()
}

fn html_only() -> Vec<u8> {
    b"Message-ID: <html-1@bau.test>\r\nDate: Tue, 24 Nov 2026 11:00:00 +0100\r\nFrom: info@bau.test\r\n\
To: anna@architekt.test\r\nSubject: Nur HTML\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
<html><body><h1>Einladung</h1><p>Zur Baubesprechung am <b>Freitag</b>.</p></body></html>\r\n"
        .to_vec()
}

fn broken() -> Vec<u8> {
    b"Message-ID: <kaputt-1@bau.test>\r\nDate: Tue, 24 Nov 2026 12:00:00 +0100\r\nFrom: x@bau.test\r\n\
Subject: Kaputt\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"never-closed\"\r\n\r\n\
--never-closed\r\nContent-Type: text/plain; charset=x-unknown-charset\r\n\r\nLesbarer Anfang \xff\xfe\r\n\
--never-closed\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n\
!!!! not base64 at all \x01\x02\r\n"
        .to_vec()
}

fn started(messages: &[Vec<u8>]) -> (postfach_test_harness::Dovecot, Env, crate::support::Daemon, Api, String) {
    let dv = dovecot(DovecotConfig::default().mailbox(MailboxSpec::special("Gesendet", "\\Sent")), &[ANNA]);
    let mut c = dv.client(ANNA).unwrap();
    for m in messages {
        c.append("INBOX", &[], None, m).unwrap();
    }
    c.logout().unwrap();
    let env = Env::new();
    env.write_account("architekt", &account_toml(&dv, ANNA, ""));
    let admin = token(&env, &["--user", "root", "--admin"]);
    let daemon = env.daemon();
    let api = Api::of(&env, &daemon);
    wait_state(&api, &daemon, &admin, "architekt", "idle");
    (dv, env, daemon, api, admin)
}

fn by_subject(api: &Api, token: &str, subject: &str) -> Value {
    let page = api.get(token, "/v1/messages?limit=500").ok();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["subject"] == subject)
        .cloned()
        .unwrap_or_else(|| panic!("no {subject}: {page}"))
}

#[test]
fn a_multipart_message_shows_its_text_html_and_an_umlaut_attachment_byte_exact() {
    let raw = multipart();
    let (_dv, _env, _daemon, api, admin) = started(&[raw.clone(), html_only()]);
    let listed = by_subject(&api, &admin, "Pläne für die Straße");
    assert_eq!(listed["has_attachments"], true);
    assert!(listed["snippet"].as_str().unwrap().starts_with("Guten Tag, anbei die Pläne"), "{listed}");
    assert!(listed["thread_id"].is_string());
    assert_eq!(listed["from"], "Jürgen Müller <jm@bau.test>");
    let id = listed["local_id"].as_i64().unwrap();
    let detail = api.get(&admin, &format!("/v1/messages/{id}")).ok();
    assert_eq!(detail["text"].as_str().unwrap().trim(), "Guten Tag, anbei die Pläne für das Fundament.");
    assert!(detail["html"].as_str().unwrap().contains("<b>Pläne</b>"));
    assert_eq!(detail["reply_to"], serde_json::json!(["buero@bau.test"]));
    let attachments = detail["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1, "{detail}");
    let a = &attachments[0];
    assert_eq!(a["filename"], "Übersicht März.pdf");
    assert_eq!(a["content_type"], "application/pdf");
    assert_eq!(a["size"], pdf_bytes().len());
    assert_eq!(a["inline"], false);
    let download = api.get(&admin, &format!("/v1/messages/{id}/attachments/{}", a["id"].as_str().unwrap()));
    assert_eq!(download.status, 200);
    assert_eq!(download.content_type, "application/pdf");
    assert_eq!(download.body, pdf_bytes(), "the attachment's bytes, decoded, exactly");
    let disposition = download.headers["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(disposition.contains("filename*=UTF-8''%C3%9Cbersicht%20M%C3%A4rz.pdf"), "{disposition}");
    api.get(&admin, &format!("/v1/messages/{id}/attachments/9")).problem(404);
    let source = api.get(&admin, &format!("/v1/messages/{id}/raw"));
    assert_eq!(source.content_type, "message/rfc822");
    assert_eq!(source.body, raw, "the raw source, byte for byte");

    // Without a text part, the text comes from the HTML.
    let html = by_subject(&api, &admin, "Nur HTML");
    let detail = api.get(&admin, &format!("/v1/messages/{}", html["local_id"])).ok();
    let text = detail["text"].as_str().unwrap();
    assert!(text.contains("Einladung") && text.contains("Freitag"), "{text}");
    assert!(!text.contains('<'), "no tags in the text: {text}");
    assert_eq!(html["has_attachments"], false);
}

#[test]
fn bad_mime_gives_what_can_be_read_and_the_raw_source_never_a_500() {
    let raw = broken();
    let (_dv, _env, _daemon, api, admin) = started(std::slice::from_ref(&raw));
    let listed = by_subject(&api, &admin, "Kaputt");
    let id = listed["local_id"].as_i64().unwrap();
    let detail = api.get(&admin, &format!("/v1/messages/{id}"));
    assert_eq!(detail.status, 200, "{}", String::from_utf8_lossy(&detail.body));
    assert!(detail.json()["text"].as_str().unwrap_or("").contains("Lesbarer Anfang"), "{}", detail.json());
    assert_eq!(api.get(&admin, &format!("/v1/messages/{id}/raw")).body, raw);
    for attachment in detail.json()["attachments"].as_array().unwrap() {
        let r = api.get(&admin, &format!("/v1/messages/{id}/attachments/{}", attachment["id"].as_str().unwrap()));
        assert!(r.status == 200 || r.status == 404, "{}", r.status);
    }
}

#[test]
fn search_finds_words_as_germans_type_them_ranked_and_filtered() {
    let strasse = Mail::new(1, "Baustelle Hauptstraße").from("Jürgen Müller <jm@bau.test>").body("Der Kran steht.\r\n");
    let in_body = Mail::new(2, "Rückfrage").body("Wegen der Baugenehmigung rufe ich an.\r\n");
    let in_subject = Mail::new(3, "Baugenehmigung erteilt").body("Gute Nachrichten.\r\n");
    let (_dv, _env, _daemon, api, admin) =
        started(&[strasse.to_bytes(), in_body.to_bytes(), in_subject.to_bytes(), multipart()]);
    let found = |q: &str| -> Vec<String> {
        let r = api.get(&admin, &format!("/v1/search?q={}", urlencode(q))).ok();
        r["items"].as_array().unwrap().iter().map(|m| m["subject"].as_str().unwrap().to_owned()).collect()
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    // Both are from a Müller (the second one's From is RFC 2047-encoded).
    for q in ["Müller", "müller", "Muller", "Mueller"] {
        assert_eq!(sorted(found(q)), ["Baustelle Hauptstraße", "Pläne für die Straße"], "query {q}");
    }
    for q in ["strasse", "Straße", "STRASSE"] {
        assert_eq!(found(q), ["Pläne für die Straße"], "query {q}");
    }
    assert_eq!(found("hauptstrasse"), ["Baustelle Hauptstraße"]);
    assert_eq!(found("Müller Kran"), ["Baustelle Hauptstraße"], "every word must occur");
    assert_eq!(found("Fundament"), ["Pläne für die Straße"], "a word of the body");
    assert_eq!(found("Ubersicht"), ["Pläne für die Straße"], "an attachment's file name");
    assert_eq!(found("Baugenehmigung"), ["Baugenehmigung erteilt", "Rückfrage"], "the subject match ranks first");
    assert_eq!(found("Baugen*"), ["Baugenehmigung erteilt", "Rückfrage"], "a prefix");
    assert_eq!(found("\"unbalanced ( OR"), Vec::<String>::new(), "FTS syntax in the query is harmless");
    assert!(api.get(&admin, "/v1/search?q=Kran&account=architekt").ok()["items"].as_array().unwrap().len() == 1);
    api.get(&admin, "/v1/search?q=Kran&account=nirgendwo").problem(404);
    assert!(api.get(&admin, "/v1/search?q=Kran&project=999-99").ok()["items"].as_array().unwrap().is_empty());
    api.get(&admin, "/v1/search?q=").problem(400);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b == b'*' { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

#[test]
fn a_thread_across_inbox_and_sent_is_one_thread_and_survives_a_resync_from_scratch() {
    let root = Mail::new(11, "Angebot Fenster").to(ANNA);
    let answer = Mail::new(12, "Re: Angebot Fenster").from(ANNA).reply_to("msg-11@fixture.postfach.test");
    let mut again = Mail::new(13, "Re: Angebot Fenster").to(ANNA).reply_to("msg-12@fixture.postfach.test");
    again.references.insert(0, "msg-11@fixture.postfach.test".into());
    let mut root = root;
    root.date = "Mon, 23 Nov 2026 09:00:00 +0100".into();
    let mut answer = answer;
    answer.date = "Mon, 23 Nov 2026 10:00:00 +0100".into();
    again.date = "Mon, 23 Nov 2026 11:00:00 +0100".into();
    let other = Mail::new(14, "Etwas anderes");
    let (dv, env, mut daemon, api, admin) = started(&[again.to_bytes(), root.to_bytes(), other.to_bytes()]);
    let mut c = dv.client(ANNA).unwrap();
    c.append("Gesendet", &["\\Seen"], None, &answer.to_bytes()).unwrap();
    let thread = daemon.wait_for("the Sent reply via the API", Duration::from_secs(30), || {
        api.post(&admin, "/v1/accounts/architekt/sync", &serde_json::json!({}));
        let m = api.get(&admin, "/v1/messages?folder=Gesendet").ok();
        m["items"].as_array().unwrap().first().and_then(|m| m["thread_id"].as_str().map(str::to_owned))
    });
    let listed = api.get(&admin, &format!("/v1/threads/{thread}")).ok();
    let subjects: Vec<(&str, &str)> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["message_id"].as_str().unwrap(), m["folder"].as_str().unwrap()))
        .collect();
    assert_eq!(
        subjects,
        [
            ("msg-11@fixture.postfach.test", "INBOX"),
            ("msg-12@fixture.postfach.test", "Gesendet"),
            ("msg-13@fixture.postfach.test", "INBOX")
        ],
        "oldest first, across folders, without the unrelated message"
    );
    let filtered = api.get(&admin, &format!("/v1/messages?thread={thread}")).ok();
    assert_eq!(filtered["items"].as_array().unwrap().len(), 3);
    api.get(&admin, "/v1/threads/t-nope").problem(404);

    // From scratch (the reply stored before its root this time): the same thread id.
    assert!(daemon.stop());
    std::fs::remove_dir_all(env.path().join("data")).unwrap();
    env.ok(&["sync", "--once"]);
    let db = rusqlite::Connection::open(env.path().join("data/postfach.sqlite3")).unwrap();
    let ids: Vec<String> = db
        .prepare("SELECT DISTINCT thread_id FROM messages WHERE message_id LIKE 'msg-1_@fixture.postfach.test' AND message_id <> 'msg-14@fixture.postfach.test'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(ids, [thread], "thread ids are the same after a resync");
}

#[test]
fn gmails_thread_ids_group_a_conversation_that_references_do_not() {
    use std::sync::Arc;
    let dv = dovecot(DovecotConfig::default(), &[ANNA]);
    let mut c = dv.client(ANNA).unwrap();
    // Three messages without References: by headers alone, three threads.
    for (n, subject) in [(21, "Anfrage"), (22, "Etwas anderes"), (23, "Nachtrag zur Anfrage")] {
        c.append("INBOX", &[], None, &Mail::new(n, subject).to_bytes()).unwrap();
    }
    // Gmail puts UIDs 1 and 3 in one conversation.
    let gmail = postfach_test_harness::GmailProxy::start(
        ([127, 0, 0, 1], dv.imap_port).into(),
        Arc::new(|uid| if uid == 2 { 0x2222 } else { 0x1111 }),
    )
    .unwrap();
    let env = Env::new();
    env.write_account("architekt", &crate::support::account_toml_via(&dv, ANNA, gmail.port, ""));
    env.ok(&["sync", "--once"]);
    let admin = token(&env, &["--user", "root", "--admin"]);
    let daemon = env.daemon();
    let api = Api::of(&env, &daemon);
    let thread = |subject: &str| by_subject(&api, &admin, subject)["thread_id"].as_str().unwrap().to_owned();
    assert_eq!(thread("Anfrage"), "g1111");
    assert_eq!(thread("Nachtrag zur Anfrage"), "g1111");
    assert_eq!(thread("Etwas anderes"), "g2222");
    let listed = api.get(&admin, "/v1/threads/g1111").ok();
    let subjects: Vec<&str> =
        listed["items"].as_array().unwrap().iter().map(|m| m["subject"].as_str().unwrap()).collect();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
}
