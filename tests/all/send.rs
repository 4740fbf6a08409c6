//! Sending through a real Postfix (submission with SASL through Dovecot, delivery by LMTP
//! into Dovecot): every test reads back what it sent from the recipient's IMAP INBOX.

use std::net::TcpListener;
use std::time::Duration;

use mail_parser::MimeHeaders;
use postfach_test_harness::mail::Mail;
use postfach_test_harness::{Dovecot, DovecotConfig, MailboxSpec, Postfix, RecordingProxy};
use serde_json::Value;

use crate::support::{Env, PASSWORD, account_toml, dovecot, wait_for};

const ANNA: &str = "anna@architekt.test";
const BOB: &str = "bob@kanzlei.test";

/// Dovecot with Sent and Drafts for both users, Postfix in front of it.
fn servers() -> (Dovecot, Postfix) {
    let config = DovecotConfig::default()
        .mailbox(MailboxSpec::special("Gesendet", "\\Sent"))
        .mailbox(MailboxSpec::special("Entwürfe", "\\Drafts"));
    let dv = dovecot(config, &[ANNA, BOB]);
    let pf = Postfix::start(&dv).unwrap();
    (dv, pf)
}

/// `[smtp]` over STARTTLS on the submission port, credentials from `[imap]`.
fn smtp(pf: &Postfix, extra: &str) -> String {
    format!("[smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"starttls\"\n{extra}\n", pf.submission_port)
}

const IDENTITY: &str = r#"
[identity]
name = "Anna Müller-Lüdenscheid"
email = "anna@architekt.test"
organization = "Architekturbüro Müller & Partner"
reply_to = "buero@architekt.test"
signature_text = "Anna Müller\nArchitektin"
signature_html = "<p><b>Anna Müller</b><br>Architektin</p>"
signature_on_reply = false
"#;

/// An account file for Anna with her identity; `top` goes before the first section.
fn anna(dv: &Dovecot, pf: &Postfix, top: &str, smtp_extra: &str) -> String {
    let base = account_toml(dv, ANNA, &smtp(pf, smtp_extra));
    // Replace the generic identity with Anna's.
    let (head, rest) = base.split_once("[identity]").unwrap();
    let (_, after) = rest.split_once("[imap]").unwrap();
    format!("{top}\n{head}{IDENTITY}\n[imap]{after}")
}

/// Every message in a user's mailbox (wire name), oldest first.
fn mailbox(dv: &Dovecot, user: &str, raw: &str) -> Vec<Vec<u8>> {
    let mut c = dv.client(user).unwrap();
    c.select(raw).unwrap();
    let uids = c.uid_search("ALL").unwrap();
    let out = uids.iter().map(|u| c.body(*u).unwrap()).collect();
    c.logout().unwrap();
    out
}

/// Waits until a user's INBOX holds `n` messages; returns them.
fn inbox(dv: &Dovecot, user: &str, n: usize) -> Vec<Vec<u8>> {
    wait_for(&format!("{n} message(s) in {user}'s INBOX"), Duration::from_secs(20), || {
        let m = mailbox(dv, user, "INBOX");
        (m.len() >= n).then_some(m)
    })
}

fn parse(raw: &[u8]) -> mail_parser::Message<'_> {
    mail_parser::MessageParser::new().parse(raw).unwrap()
}

/// The Organization header as a mail client shows it (RFC 2047 words decoded).
fn organization(raw: &[u8]) -> Option<String> {
    let m = mail_parser::MessageParser::new().header_text("Organization").parse_headers(raw)?;
    m.header("Organization").and_then(|h| h.as_text()).map(str::to_owned)
}

fn count_with_id(messages: &[Vec<u8>], message_id: &str) -> usize {
    messages.iter().filter(|m| parse(m).message_id() == Some(message_id)).count()
}

fn outbox(env: &Env) -> Vec<Value> {
    env.json(&["outbox"]).as_array().unwrap().clone()
}

fn outbox_entry(env: &Env, id: i64) -> Value {
    outbox(env).into_iter().find(|e| e["id"] == id).unwrap_or(Value::Null)
}

fn send_json(env: &Env, args: &[&str]) -> Value {
    let mut a = vec!["send"];
    a.extend_from_slice(args);
    a.push("--json");
    let out = env.run(&a);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!("send {args:?}: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    })
}

#[test]
fn text_html_and_attachment_arrive_intact_with_identity_headers() {
    let (dv, pf) = servers();
    let env = Env::new();
    env.write_account("anna", &anna(&dv, &pf, "", ""));
    let html = env.path().join("brief.html");
    std::fs::write(&html, "<html><body><p>Guten Tag, anbei der <i>Plan</i>.</p></body></html>").unwrap();
    let attachment = env.path().join("Grundriss Erdgeschoß.pdf");
    let bytes: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&attachment, &bytes).unwrap();

    let r = send_json(
        &env,
        &[
            "anna",
            "--to",
            &format!("Bob Bäcker <{BOB}>"),
            "--subject",
            "Grüße zum Bauvorhaben Süd – Änderung",
            "--body",
            "Guten Tag,\nanbei der Plan.",
            "--html-file",
            html.to_str().unwrap(),
            "--attach",
            attachment.to_str().unwrap(),
            "--now",
        ],
    );
    assert_eq!(r["state"], "sent", "{r}");
    assert!(r["server_reply"].as_str().unwrap().starts_with("250"), "{r}");
    let message_id = r["message_id"].as_str().unwrap();

    let got = inbox(&dv, BOB, 1);
    assert_eq!(got.len(), 1);
    let m = parse(&got[0]);
    assert_eq!(m.message_id(), Some(message_id));
    assert_eq!(m.subject(), Some("Grüße zum Bauvorhaben Süd – Änderung"));
    let from = m.from().unwrap().first().unwrap();
    assert_eq!(from.name.as_deref(), Some("Anna Müller-Lüdenscheid"));
    assert_eq!(from.address.as_deref(), Some(ANNA));
    assert_eq!(m.reply_to().unwrap().first().unwrap().address.as_deref(), Some("buero@architekt.test"));
    assert_eq!(organization(&got[0]).as_deref(), Some("Architekturbüro Müller & Partner"));
    assert!(m.date().is_some());
    let to = m.to().unwrap().first().unwrap();
    assert_eq!((to.name.as_deref(), to.address.as_deref()), (Some("Bob Bäcker"), Some(BOB)));
    // The header itself is 7-bit: umlauts are encoded words.
    let head = String::from_utf8_lossy(&got[0][..m.root_part().raw_body_offset() as usize]).into_owned();
    assert!(head.is_ascii(), "header not 7-bit:\n{head}");
    // Text and HTML as alternatives, both signed; the attachment byte for byte.
    let text = m.body_text(0).unwrap().replace("\r\n", "\n");
    assert!(text.starts_with("Guten Tag,\nanbei der Plan."), "{text}");
    assert!(text.ends_with("-- \nAnna Müller\nArchitektin"), "{text}");
    let body_html = m.body_html(0).unwrap();
    assert!(body_html.contains("<i>Plan</i>"));
    assert!(body_html.contains("<b>Anna Müller</b>"), "{body_html}");
    let att = m.attachments().next().unwrap();
    assert_eq!(att.attachment_name(), Some("Grundriss Erdgeschoß.pdf"));
    assert_eq!(att.content_type().map(|c| c.ctype()), Some("application"));
    assert_eq!(att.contents(), bytes.as_slice());
    let raw = String::from_utf8_lossy(&got[0]);
    assert!(raw.contains("multipart/alternative"), "{raw}");

    // The copy in Sent, exactly once, marked read.
    let sent = mailbox(&dv, ANNA, "Gesendet");
    assert_eq!(count_with_id(&sent, message_id), 1);
    assert!(
        outbox_entry(&env, r["id"].as_i64().unwrap())["copy"].as_str().unwrap().starts_with("appended to Gesendet")
    );
    let mut c = dv.client(ANNA).unwrap();
    c.select("Gesendet").unwrap();
    let uid = c.uid_search("ALL").unwrap()[0];
    assert!(c.flags(uid).unwrap().iter().any(|f| f == "\\Seen"));
}

#[test]
fn replies_thread_and_leave_the_signature_off_unless_asked() {
    let (dv, pf) = servers();
    let env = Env::new();
    env.write_account("anna", &anna(&dv, &pf, "", ""));
    // Bob wrote to Anna; the daemon's store has his message.
    let original = Mail::new(1, "Angebot Rohbau")
        .from(&format!("Bob <{BOB}>"))
        .to(ANNA)
        .message_id(Some("angebot-1@kanzlei.test"))
        .reply_to("anfrage-0@kanzlei.test")
        .to_bytes();
    dv.client(ANNA).unwrap().append("INBOX", &[], None, &original).unwrap();
    env.ok(&["sync", "anna", "--once"]);
    let local_id = env.messages("anna")[0]["local_id"].as_i64().unwrap();

    let r = send_json(&env, &["--reply-to-local-id", &local_id.to_string(), "--body", "Danke, passt.", "--now"]);
    assert_eq!(r["state"], "sent", "{r}");
    assert_eq!(r["account"], "anna", "a reply goes out from the original's account");
    let got = inbox(&dv, BOB, 1);
    let m = parse(&got[0]);
    assert_eq!(m.subject(), Some("Re: Angebot Rohbau"));
    assert_eq!(m.in_reply_to().as_text(), Some("angebot-1@kanzlei.test"));
    let refs: Vec<String> = m.references().as_text_list().unwrap().iter().map(|s| s.to_string()).collect();
    assert_eq!(refs, ["anfrage-0@kanzlei.test", "angebot-1@kanzlei.test"]);
    assert_eq!(m.body_text(0).unwrap().trim_end(), "Danke, passt.", "no signature on replies by default");

    // Forwards follow the same rule and carry the original as message/rfc822.
    let r = send_json(
        &env,
        &["anna", "--forward-local-id", &local_id.to_string(), "--to", BOB, "--body", "Zur Info", "--now"],
    );
    assert_eq!(r["state"], "sent", "{r}");
    let got = inbox(&dv, BOB, 2);
    let fwd = got.iter().map(|g| parse(g)).find(|m| m.subject() == Some("Fwd: Angebot Rohbau")).unwrap();
    assert_eq!(fwd.body_text(0).unwrap().trim_end(), "Zur Info");
    assert!(String::from_utf8_lossy(&got[1]).contains("message/rfc822"));

    // signature_on_reply = true puts it back.
    let file = anna(&dv, &pf, "", "").replace("signature_on_reply = false", "signature_on_reply = true");
    env.write_account("anna", &file);
    let r = send_json(&env, &["--reply-to-local-id", &local_id.to_string(), "--body", "Nachtrag", "--now"]);
    assert_eq!(r["state"], "sent", "{r}");
    let got = inbox(&dv, BOB, 3);
    let signed =
        got.iter().map(|g| parse(g)).find(|m| m.body_text(0).is_some_and(|t| t.starts_with("Nachtrag"))).unwrap();
    assert!(signed.body_text(0).unwrap().replace("\r\n", "\n").contains("-- \nAnna Müller"), "signed reply");
}

#[test]
fn implicit_tls_login_and_cram_md5() {
    let (dv, pf) = servers();
    let env = Env::new();
    let tls =
        format!("[smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"tls\"\nauth = \"cram-md5\"\n", pf.smtps_port);
    env.write_account("anna", &account_toml(&dv, ANNA, &tls));
    let r = send_json(&env, &["anna", "--to", BOB, "--subject", "über TLS", "--body", "x", "--now"]);
    assert_eq!(r["state"], "sent", "{r}");
    env.write_account("anna", &account_toml(&dv, ANNA, &smtp(&pf, "auth = \"login\"")));
    let r = send_json(&env, &["anna", "--to", BOB, "--subject", "mit LOGIN", "--body", "x", "--now"]);
    assert_eq!(r["state"], "sent", "{r}");
    let subjects: Vec<String> =
        inbox(&dv, BOB, 2).iter().map(|m| parse(m).subject().unwrap_or("").to_owned()).collect();
    assert!(subjects.contains(&"über TLS".to_owned()) && subjects.contains(&"mit LOGIN".to_owned()));
    // Postfix logged which mechanism each submission used.
    let log = pf.log();
    assert!(log.contains("sasl_method=CRAM-MD5"), "{log}");
    assert!(log.contains("sasl_method=LOGIN"), "{log}");
}

#[test]
fn wrong_smtp_password_fails_clearly_and_keeps_the_message() {
    let (dv, pf) = servers();
    let env = Env::new();
    env.write_account("anna", &account_toml(&dv, ANNA, &smtp(&pf, "password = \"falsch-und-geheim\"")));
    let out = env.run(&["send", "anna", "--to", BOB, "--subject", "Zugang?", "--body", "x", "--now"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("535"), "the server's words: {stderr}");
    assert!(!stderr.contains("falsch-und-geheim"));
    let entries = outbox(&env);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["state"], "failed");
    assert!(entries[0]["last_error"].as_str().unwrap().contains("535"), "{}", entries[0]);
    assert!(!env.ok(&["outbox", "--json"]).contains("falsch-und-geheim"));
    let table = env.ok(&["outbox"]);
    assert!(table.contains("failed") && table.contains("535"), "{table}");

    // `postfachd test` names the failing step with the server's words.
    let out = env.run(&["test", "anna"]);
    assert!(!out.status.success());
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("ok    IMAP login"), "{report}");
    assert!(report.contains("FAIL") && report.contains("535"), "{report}");

    // Fixed password, retried: delivered by the daemon.
    env.write_account("anna", &account_toml(&dv, ANNA, &smtp(&pf, "")));
    let id = entries[0]["id"].as_i64().unwrap();
    let _daemon = env.daemon();
    env.ok(&["outbox", "retry", &id.to_string()]);
    wait_for("the retried message to be sent", Duration::from_secs(20), || {
        (outbox_entry(&env, id)["state"] == "sent").then_some(())
    });
    assert_eq!(inbox(&dv, BOB, 1).len(), 1);
}

#[test]
fn permanent_and_temporary_refusals() {
    let (dv, pf) = servers();
    let env = Env::new();
    env.write_account("anna", &account_toml(&dv, ANNA, &smtp(&pf, "")));
    let r = send_json(&env, &["anna", "--to", "reject@kanzlei.test", "--subject", "x", "--body", "x", "--now"]);
    assert_eq!(r["state"], "failed", "{r}");
    assert!(r["error"].as_str().unwrap().contains("Mailbox gesperrt"), "{r}");
    let r = send_json(&env, &["anna", "--to", "defer@kanzlei.test", "--subject", "x", "--body", "x", "--now"]);
    assert_eq!(r["state"], "deferred", "4xx is temporary: {r}");
    assert!(r["error"].as_str().unwrap().contains("Mailbox voll"), "{r}");
    let e = outbox_entry(&env, r["id"].as_i64().unwrap());
    assert!(e["next_attempt_at"].is_string(), "{e}");
}

#[test]
fn server_down_then_back_is_retried_until_delivered() {
    let (dv, mut pf) = servers();
    let env = Env::new();
    env.write_account("anna", &account_toml(&dv, ANNA, &smtp(&pf, "retry_initial_secs = 1\nretry_max_secs = 2")));
    pf.stop();
    let mut daemon = env.daemon();
    let r = send_json(&env, &["anna", "--to", BOB, "--subject", "Trotz Ausfall", "--body", "x"]);
    assert_eq!(r["state"], "queued");
    let id = r["id"].as_i64().unwrap();
    let e = daemon.wait_for("a failed attempt", Duration::from_secs(20), || {
        let e = outbox_entry(&env, id);
        (e["state"] == "deferred" && e["attempts"].as_u64() >= Some(2)).then_some(e)
    });
    assert!(e["last_error"].as_str().unwrap().contains("connect"), "{e}");
    pf.resume().unwrap();
    daemon.wait_for("delivery once the server is back", Duration::from_secs(20), || {
        (outbox_entry(&env, id)["state"] == "sent").then_some(())
    });
    let got = inbox(&dv, BOB, 1);
    assert_eq!(count_with_id(&got, r["message_id"].as_str().unwrap()), 1);
    assert!(daemon.stop());
}

#[test]
fn a_running_daemon_sends_at_once() {
    let (dv, pf) = servers();
    let env = Env::new();
    env.write_account("anna", &account_toml(&dv, ANNA, &smtp(&pf, "")));
    let daemon = env.daemon_relative();
    daemon
        .wait_for("the first sync", Duration::from_secs(20), || (env.account("anna")["state"] == "idle").then_some(()));
    // The outbox sleeps (up to a minute) when empty; `send` wakes it.
    let r = send_json(&env, &["anna", "--to", BOB, "--subject", "Sofort", "--body", "x"]);
    let id = r["id"].as_i64().unwrap();
    daemon.wait_for("delivery within seconds", Duration::from_secs(5), || {
        (outbox_entry(&env, id)["state"] == "sent").then_some(())
    });
    assert_eq!(count_with_id(&inbox(&dv, BOB, 1), r["message_id"].as_str().unwrap()), 1);
}

#[test]
fn the_sent_copy_is_never_doubled() {
    let (dv, pf) = servers();
    let env = Env::new();
    env.write_account("anna", &account_toml(&dv, ANNA, &smtp(&pf, "")));
    // Queued while no daemon runs; then a copy with its Message-ID shows up in Sent (as
    // after a crash between APPEND and recording it).
    let r = send_json(&env, &["anna", "--to", BOB, "--subject", "Einmal", "--body", "x"]);
    let (id, message_id) = (r["id"].as_i64().unwrap(), r["message_id"].as_str().unwrap().to_owned());
    let copy = Mail::new(1, "Einmal").message_id(Some(&message_id)).to_bytes();
    dv.client(ANNA).unwrap().append("Gesendet", &["\\Seen"], None, &copy).unwrap();
    let daemon = env.daemon();
    let e = daemon.wait_for("delivery", Duration::from_secs(20), || {
        let e = outbox_entry(&env, id);
        (e["state"] == "sent" && e["copy"].is_string()).then_some(e)
    });
    assert_eq!(e["copy"], "already in Gesendet");
    assert_eq!(count_with_id(&mailbox(&dv, ANNA, "Gesendet"), &message_id), 1);
    assert_eq!(count_with_id(&inbox(&dv, BOB, 1), &message_id), 1);
}

#[test]
fn gmail_keeps_its_own_sent_copy() {
    let user = "max@googlemail.com";
    let config = DovecotConfig::default()
        .mailbox(MailboxSpec::special("[Google Mail]/Gesendet", "\\Sent"))
        .mailbox(MailboxSpec::special("[Google Mail]/Entwürfe", "\\Drafts"))
        .server_id(&[("name", "GImap"), ("vendor", "Google, Inc.")]);
    let dv = dovecot(config, &[user, BOB]);
    let pf = Postfix::start(&dv).unwrap();
    // Plain IMAP through a recording relay, so the commands can be read off the wire.
    let proxy = RecordingProxy::start(([127, 0, 0, 1], dv.imap_port).into()).unwrap();
    let env = Env::new();
    let file = account_toml(&dv, user, &smtp(&pf, ""))
        .replace(&format!("port = {}", dv.imaps_port), &format!("port = {}", proxy.port))
        .replace("security = \"tls\"", "security = \"plain\"\nallow_plaintext = true");
    env.write_account("max", &file);
    let r = send_json(&env, &["max", "--to", BOB, "--subject", "Über Gmail", "--body", "x", "--now"]);
    assert_eq!(r["state"], "sent", "{r}");
    assert!(r["copy"].as_str().unwrap().starts_with("skipped: the gmail server keeps its own copy"), "{r}");
    assert_eq!(inbox(&dv, BOB, 1).len(), 1);
    assert!(mailbox(&dv, user, "[Google Mail]/Gesendet").is_empty());
    assert!(!proxy.client_text().to_ascii_uppercase().contains(" APPEND "), "no APPEND on the wire");
    // The generic provider on the same server does append.
    env.write_account("max", &file.replace("[identity]", "provider = \"generic\"\n\n[identity]"));
    let r = send_json(&env, &["max", "--to", BOB, "--subject", "Generisch", "--body", "x", "--now"]);
    assert_eq!(r["copy"], "appended to [Google Mail]/Gesendet", "{r}");
    assert!(proxy.client_text().to_ascii_uppercase().contains(" APPEND "));
}

#[test]
fn drafts_go_to_the_drafts_folder() {
    let (dv, pf) = servers();
    let env = Env::new();
    env.write_account("anna", &format!("send = false\n{}", account_toml(&dv, ANNA, &smtp(&pf, ""))));
    let r = send_json(
        &env,
        &["anna", "--draft", "--subject", "Entwurf Baubeschreibung", "--body", "Erster Absatz", "--now"],
    );
    assert_eq!(r["state"], "saved", "{r}");
    let drafts = mailbox(&dv, ANNA, "Entw&APw-rfe");
    assert_eq!(drafts.len(), 1);
    assert_eq!(parse(&drafts[0]).subject(), Some("Entwurf Baubeschreibung"));
    let mut c = dv.client(ANNA).unwrap();
    c.select("Entw&APw-rfe").unwrap();
    let uid = c.uid_search("ALL").unwrap()[0];
    assert!(c.flags(uid).unwrap().iter().any(|f| f == "\\Draft"));
    // send = false: drafts yes, sending no.
    let out = env.run(&["send", "anna", "--to", BOB, "--subject", "x", "--body", "x"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("send = false"));
}

#[test]
fn the_default_account_sends_when_none_is_named() {
    let (dv, pf) = servers();
    let env = Env::new();
    env.write_account("anna", &account_toml(&dv, ANNA, &smtp(&pf, "")));
    let out = env.run(&["send", "--to", BOB, "--subject", "x", "--body", "x"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("default = true"));
    env.write_account("bob", &format!("default = true\n{}", account_toml(&dv, BOB, &smtp(&pf, ""))));
    let r = send_json(&env, &["--to", ANNA, "--subject", "Vom Standardkonto", "--body", "x", "--now"]);
    assert_eq!(r["account"], "bob", "{r}");
    assert_eq!(r["state"], "sent", "{r}");
    assert_eq!(parse(&inbox(&dv, ANNA, 1)[0]).subject(), Some("Vom Standardkonto"));
}

#[test]
fn account_test_and_test_mail() {
    let (dv, pf) = servers();
    let env = Env::new();
    env.write_account("anna", &account_toml(&dv, ANNA, &smtp(&pf, "")));
    let report = env.ok(&["test", "anna"]);
    assert!(report.contains("IMAP LIST") && report.contains("sent = Gesendet"), "{report}");
    assert!(report.contains("SMTP STARTTLS"), "{report}");
    assert!(report.contains(&format!("SMTP AUTH as {ANNA}")) && report.contains("235"), "{report}");
    assert!(!report.contains("FAIL"), "{report}");
    let steps = env.json(&["test", "anna"]);
    assert!(steps.as_array().unwrap().iter().all(|s| s["ok"] == true), "{steps}");
    assert_eq!(mailbox(&dv, BOB, "INBOX").len(), 0, "the test sends nothing");

    env.ok(&["send-test", "anna", "--to", BOB]);
    let got = inbox(&dv, BOB, 1);
    assert!(parse(&got[0]).subject().unwrap().starts_with("Postfach: Testnachricht"));

    // Nothing listens: the connect step fails with the OS's words.
    let dead = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let file =
        account_toml(&dv, ANNA, &format!("[smtp]\nhost = \"127.0.0.1\"\nport = {dead}\nsecurity = \"starttls\"\n"));
    env.write_account("anna", &file);
    let out = env.run(&["test", "anna"]);
    assert!(!out.status.success());
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("FAIL") && report.contains("refused"), "{report}");
    assert!(!report.contains(PASSWORD));
}

#[test]
fn kill_9_between_enqueue_and_delivery_delivers_exactly_once() {
    let (dv, pf) = servers();
    let env = Env::new();
    // An SMTP server that accepts the connection and then says nothing: the attempt hangs
    // in `sending` until the daemon is killed.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let _held = std::thread::spawn(move || {
        let mut conns = Vec::new();
        for c in silent.incoming() {
            conns.push(c);
        }
    });
    let hang =
        format!("[smtp]\nhost = \"127.0.0.1\"\nport = {silent_port}\nsecurity = \"starttls\"\ntimeout_secs = 600\n");
    env.write_account("anna", &account_toml(&dv, ANNA, &hang));
    let r = send_json(&env, &["anna", "--to", BOB, "--subject", "Genau einmal", "--body", "x"]);
    let (id, message_id) = (r["id"].as_i64().unwrap(), r["message_id"].as_str().unwrap().to_owned());
    let mut daemon = env.daemon();
    daemon.wait_for("the attempt to start", Duration::from_secs(20), || {
        (outbox_entry(&env, id)["state"] == "sending").then_some(())
    });
    daemon.kill9();

    // The server is fixed; the restarted daemon sends it, once.
    env.write_account("anna", &account_toml(&dv, ANNA, &smtp(&pf, "")));
    let mut daemon = env.daemon();
    daemon.wait_for("delivery after the restart", Duration::from_secs(20), || {
        let e = outbox_entry(&env, id);
        (e["state"] == "sent" && e["copy"].is_string()).then_some(())
    });
    assert!(daemon.log().contains("sending them again"), "{}", daemon.log());
    // Killed again right after; a third start must not send it again.
    daemon.kill9();
    let mut daemon = env.daemon();
    daemon.wait_for("the outbox looked and found nothing due", Duration::from_secs(20), || {
        daemon.log().contains("outbox checked due=0").then_some(())
    });
    assert!(daemon.stop());
    assert_eq!(count_with_id(&inbox(&dv, BOB, 1), &message_id), 1);
    assert_eq!(count_with_id(&mailbox(&dv, ANNA, "Gesendet"), &message_id), 1);
    assert_eq!(outbox(&env).len(), 1);
}

/// A recipient list pasted with a trailing separator is sent, not refused.
#[test]
fn a_trailing_separator_in_the_recipients_is_ignored() {
    let (dv, pf) = servers();
    let env = Env::new();
    env.write_account("anna", &account_toml(&dv, ANNA, &smtp(&pf, "")));
    let r = send_json(&env, &["anna", "--to", &format!("{BOB}, "), "--subject", "Liste", "--body", "x", "--now"]);
    assert_eq!(r["state"], "sent", "{r}");
    assert_eq!(count_with_id(&inbox(&dv, BOB, 1), r["message_id"].as_str().unwrap()), 1);
}
