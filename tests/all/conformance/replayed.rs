//! Quirks replayed byte for byte by the harness's scripted server ([`ReplayServer`]): a
//! small but correct IMAP server for the whole session, with one provider's behaviour
//! injected where it happened. The bytes are re-typed from the public reports listed in
//! `imap-quirks.md`, not copied from other projects' fixtures.

use std::time::{Duration, Instant};

use postfach_test_harness::mail::Mail;
use postfach_test_harness::{ReplayMailbox, ReplayServer, ReplaySetup, Rule};

use super::table::record;
use crate::support::{Env, SyncOutcome, flags, message_by_subject, sync_once_within};

const USER: &str = "anna@architekt.test";
const PASSWORD: &str = "Bauantrag-2026";
/// The account's `imap.timeout_secs`.
const TIMEOUT_SECS: u64 = 3;
/// `sync --once` is killed (and the test fails) after this.
const HARD_LIMIT: Duration = Duration::from_secs(40);
const WAIT: Duration = Duration::from_secs(30);

/// An account on the replay server: plain IMAP, short timeout and retries.
fn account(port: u16, extra: &str) -> String {
    format!(
        r#"description = "Conformance"

[identity]
name = "Anna"
email = "{USER}"

[imap]
host = "127.0.0.1"
port = {port}
security = "plain"
allow_plaintext = true
username = "{USER}"
password = "{PASSWORD}"
timeout_secs = {TIMEOUT_SECS}

[sync]
retry_initial_secs = 1
retry_max_secs = 2
{extra}
"#
    )
}

/// Message `n`: subject "Nachricht n", Message-ID `<msg-n@fixture.postfach.test>`.
fn mail(n: usize) -> Vec<u8> {
    Mail::new(n, &format!("Nachricht {n}")).to_bytes()
}

/// An INBOX with messages 1 and 2, unread.
fn inbox() -> ReplayMailbox {
    ReplayMailbox::new("INBOX").message(&[], &mail(1)).message(&["\\Seen"], &mail(2))
}

/// A server with [`inbox`] and `rules`.
fn server(rules: Vec<Rule>) -> ReplayServer {
    let mut setup = ReplaySetup::new(USER, PASSWORD).mailbox(inbox());
    for r in rules {
        setup = setup.rule(r);
    }
    ReplayServer::start(setup).unwrap()
}

/// `sync --once` within [`HARD_LIMIT`]: a hang or a panic fails the test.
fn sync_once(env: &Env) -> SyncOutcome {
    let out = sync_once_within(env, HARD_LIMIT);
    assert!(!out.killed, "sync --once hung for {HARD_LIMIT:?}");
    assert!(!out.stderr.contains("panicked"), "sync --once panicked:\n{}", out.stderr);
    out
}

/// One pass that must succeed and store exactly messages 1 and 2, once each, with the
/// server's flags; returns the account's note (`last_error`), if any.
fn syncs_both(env: &Env, server: &ReplayServer) -> Option<String> {
    let out = sync_once(env);
    assert_eq!(out.code, Some(0), "{}\ncommands:\n{}", out.stderr, server.commands().join("\n"));
    assert_eq!(env.subjects("anna", None), ["Nachricht 1", "Nachricht 2"]);
    let two = message_by_subject(env, "anna", "Nachricht 2").unwrap();
    assert_eq!(flags(&two), ["\\Seen"]);
    env.account("anna")["last_error"].as_str().map(str::to_owned)
}

/// An environment with the account on `server`.
fn env_on(server: &ReplayServer, extra: &str) -> Env {
    let env = Env::new();
    env.write_account("anna", &account(server.port, extra));
    env
}

#[test]
fn the_replay_server_is_a_server_the_daemon_syncs_from_and_idles_on() {
    let server = server(Vec::new());
    let env = env_on(&server, "");
    assert_eq!(syncs_both(&env, &server), None);
    let daemon = env.daemon();
    daemon.wait_for("idle", WAIT, || (env.account("anna")["state"] == "idle").then_some(()));
    daemon.wait_for("IDLE", WAIT, || server.commands().iter().any(|c| c.ends_with(" IDLE")).then_some(()));
    server.deliver("INBOX", &mail(3), &[]);
    daemon.wait_for("the new message", WAIT, || message_by_subject(&env, "anna", "Nachricht 3"));
}

#[test]
fn q03_q04_q07_q09_structure_quirks_are_never_asked_for() {
    let server = server(Vec::new());
    let env = env_on(&server, "");
    syncs_both(&env, &server);
    let asked = server.commands().join("\n").to_ascii_uppercase();
    for item in ["BODYSTRUCTURE", "ENVELOPE", "X-GM-LABELS", "GETQUOTA", " BODY[1", "BODY.PEEK[1"] {
        assert!(!asked.contains(item), "{item} was asked for:\n{asked}");
    }
    let why = "never asked for: Postfach parses messages itself (no BODYSTRUCTURE, ENVELOPE, X-GM-LABELS or QUOTA)";
    for id in ["Q3", "Q4", "Q7", "Q9"] {
        record(id, why);
    }
}

#[test]
fn q19_id_rejected() {
    let server = server(vec![Rule::answer("ID", b"{tag} BAD Command Argument Error. 11\r\n")]);
    let env = env_on(&server, "");
    assert_eq!(syncs_both(&env, &server), None);
    assert!(server.commands().iter().any(|c| c.contains(" ID (")), "ID was not tried");
    record("Q19", "the refused ID is ignored; both messages stored");
}

#[test]
fn q20_enable_without_enabled() {
    let setup = ReplaySetup::new(USER, PASSWORD)
        .capabilities("IMAP4rev1 AUTH=PLAIN ID ENABLE IDLE UIDPLUS MOVE CONDSTORE QRESYNC")
        .mailbox(inbox())
        .rule(Rule::answer("ENABLE", b"{tag} OK ENABLE completed.\r\n"));
    let server = ReplayServer::start(setup).unwrap();
    let env = env_on(&server, "");
    syncs_both(&env, &server);
    // A second pass after another client's flag change: with QRESYNC taken for enabled
    // the client would ask CHANGEDSINCE … VANISHED and wait for VANISHED in vain.
    server.set_rules(vec![Rule::answer("ENABLE", b"{tag} OK ENABLE completed.\r\n")]);
    let out = sync_once(&env);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let asked = server.commands().join("\n");
    assert!(!asked.contains("VANISHED"), "QRESYNC used although never enabled:\n{asked}");
    record("Q20", "QRESYNC taken as not enabled; flags compared in full; both messages stored");
}

#[test]
fn q21_rfc822_is_never_asked_for() {
    let server = server(vec![Rule::rewrite("UID FETCH", b"RFC822 ", b"")]);
    let env = env_on(&server, "");
    syncs_both(&env, &server);
    let asked = server.commands().join("\n").to_ascii_uppercase();
    assert!(!asked.contains("RFC822)") && !asked.contains("RFC822 "), "{asked}");
    assert!(asked.contains("BODY.PEEK[]"), "{asked}");
    record("Q21", "bodies are fetched with BODY.PEEK[], never RFC822");
}

#[test]
fn q23_unsafe_login_until_id() {
    let unsafe_login = b"{tag} NO SELECT Unsafe Login. Please contact kefu@188.com for help\r\n";
    let server = server(vec![Rule::answer("SELECT", unsafe_login).unless_sent("ID")]);
    let env = env_on(&server, "");
    assert_eq!(syncs_both(&env, &server), None);
    record("Q23", "ID is sent before SELECT; both messages stored");
}

#[test]
fn q17_authenticated_but_not_connected() {
    let server = server(vec![Rule::answer("SELECT", b"{tag} BAD User is authenticated but not connected.\r\n")]);
    let env = env_on(&server, "");
    let daemon = env.daemon();
    let account = daemon.wait_for("auth-failed", WAIT, || {
        let a = env.account("anna");
        (a["state"] == "auth-failed").then_some(a)
    });
    let error = account["last_error"].as_str().unwrap_or_default().to_owned();
    assert!(error.contains("User is authenticated but not connected"), "{error}");
    record("Q17", "`auth-failed` with the server's words, no retry loop");
}

#[test]
fn q15_fetch_without_the_message_and_a_made_up_body() {
    // Message 1: OK without data. Message 2: a made-up message whose size is not the reported one.
    let fake = b"From: Microsoft Exchange\r\nSubject: Retrieval using the IMAP4 protocol failed\r\n\r\n\
Retrieval using the IMAP4 protocol failed for the following message: 2\r\n";
    let fetch2 = [
        b"* 2 FETCH (UID 2 FLAGS (\\Seen) INTERNALDATE \"02-Dec-2026 09:00:00 +0000\" RFC822.SIZE 4711 BODY[] {"
            .as_slice(),
        fake.len().to_string().as_bytes(),
        b"}\r\n",
        fake,
        b")\r\n{tag} OK FETCH completed.\r\n",
    ]
    .concat();
    let server = server(vec![
        Rule::answer("UID FETCH", b"{tag} OK FETCH completed.\r\n")
            .contains("1 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])"),
        Rule::answer("UID FETCH", &fetch2).contains("2 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])"),
    ]);
    let env = env_on(&server, "");
    let out = sync_once(&env);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(env.subjects("anna", None).is_empty(), "a made-up message was stored");
    let note = env.account("anna")["last_error"].as_str().unwrap_or_default().to_owned();
    assert!(note.contains("2 messages not fetched"), "{note}");
    assert!(note.contains("tried again at the next pass"), "{note}");
    server.set_rules(Vec::new());
    assert_eq!(syncs_both(&env, &server), None);
    record("Q15", "neither stored as content; named in the status, fetched at the next pass once served");
}

#[test]
fn q16_throttling_with_a_suggested_backoff() {
    let throttled = b"{tag} NO Request is throttled. Suggested Backoff Time: 4000 milliseconds\r\n";
    let server = server(vec![Rule::answer("UID FETCH", throttled).times(1)]);
    let env = env_on(&server, "");
    let daemon = env.daemon();
    let error = daemon.wait_for("backing-off", WAIT, || {
        let a = env.account("anna");
        (a["state"] == "backing-off").then(|| a["last_error"].as_str().unwrap_or_default().to_owned())
    });
    assert!(error.contains("Request is throttled"), "{error}");
    assert!(error.contains("as the server asks"), "{error}");
    let throttled_at = Instant::now();
    let logins = || server.commands().iter().filter(|c| c.contains(" LOGIN ") || c.contains(" AUTHENTICATE ")).count();
    let before = logins();
    daemon.wait_for("both messages", WAIT, || (env.messages("anna").len() == 2).then_some(()));
    let waited = throttled_at.elapsed();
    assert!(waited >= Duration::from_millis(2500), "came back after {waited:?}, before the suggested 4 s");
    assert_eq!(logins(), before + 1, "more than one login after the throttling");
    // The other form Exchange Online uses: BAD, then BYE.
    server.set_rules(vec![Rule::answer(
        "UID FETCH",
        b"{tag} BAD Request is throttled. Suggested Backoff Time: 3000 milliseconds\r\n* BYE Connection closed. 14\r\n",
    )
    .times(1)]);
    server.deliver("INBOX", &mail(3), &[]);
    let error = daemon.wait_for("backing-off again", WAIT, || {
        let a = env.account("anna");
        let e = a["last_error"].as_str().unwrap_or_default().to_owned();
        (a["state"] == "backing-off" && e.contains("BAD Request is throttled")).then_some(e)
    });
    assert!(error.contains("(waiting 3 s, as the server asks)"), "{error}");
    daemon.wait_for("the third message", WAIT, || message_by_subject(&env, "anna", "Nachricht 3"));
    assert_ne!(env.account("anna")["state"], "disabled");
    record(
        "Q16",
        "`backing-off` for the suggested time (NO and BAD + BYE forms; capped at 1 h), one login afterwards, never auto-disabled; every message stored",
    );
}

#[test]
fn q18_namespace_drops_the_connection() {
    let server = server(vec![Rule::close("NAMESPACE")]);
    let env = env_on(&server, "");
    assert_eq!(syncs_both(&env, &server), None);
    assert!(!server.commands().iter().any(|c| c.to_ascii_uppercase().contains("NAMESPACE")));
    record("Q18", "NAMESPACE is never sent; both messages stored");
}

#[test]
fn q24_repeated_bye() {
    let server = server(vec![Rule::answer(
        "LOGOUT",
        b"* BYE IMAP4rev1 Server logging out\r\n* BYE IMAP4rev1 Server logging out\r\n{tag} OK LOGOUT completed.\r\n",
    )]);
    let env = env_on(&server, "");
    assert_eq!(syncs_both(&env, &server), None);
    record("Q24", "a doubled BYE at logout is harmless; both messages stored");
}

/// Two passes (the second asks only for changes), each storing both messages once.
fn two_passes(env: &Env, server: &ReplayServer) {
    assert_eq!(syncs_both(env, server), None);
    assert_eq!(syncs_both(env, server), None);
}

#[test]
fn q01_highestmodseq_without_text() {
    let server = server(vec![Rule::rewrite("SELECT", b"] Highest\r\n", b"]\r\n")]);
    let env = env_on(&server, "");
    assert_eq!(syncs_both(&env, &server), None);
    // A new message raises HIGHESTMODSEQ: the next pass asks only for changed flags.
    server.deliver("INBOX", &mail(3), &[]);
    let out = sync_once(&env);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(env.subjects("anna", None), ["Nachricht 1", "Nachricht 2", "Nachricht 3"]);
    assert!(server.commands().iter().any(|c| c.contains("CHANGEDSINCE")), "the modseq was not used");
    record("Q1", "parsed; the next pass asks CHANGEDSINCE; every message stored once");
}

#[test]
fn q02_flags_with_forbidden_characters() {
    let server = server(vec![Rule::rewrite(
        "UID FETCH",
        b"FLAGS (\\Seen)",
        b"FLAGS (\\Seen OIB-Seen-[Google Mail]/Alle Nachrichten)",
    )]);
    let env = env_on(&server, "");
    let out = sync_once(&env);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(env.subjects("anna", None), ["Nachricht 1", "Nachricht 2"]);
    let two = flags(&message_by_subject(&env, "anna", "Nachricht 2").unwrap());
    assert!(two.contains(&"\\Seen".to_owned()), "{two:?}");
    record("Q2", &format!("parsed; both stored; flags of the message: {}", two.join(" ")));
}

#[test]
fn q05_status_with_a_trailing_space() {
    let server = server(vec![Rule::rewrite("STATUS", b")\r\n", b") \r\n")]);
    let env = env_on(&server, "");
    two_passes(&env, &server);
    assert!(!server.commands().iter().any(|c| c.to_ascii_uppercase().contains(" STATUS ")), "STATUS was sent");
    record("Q5", "STATUS is never sent (SELECT tells what a pass needs); both messages stored");
}

#[test]
fn q10_search_with_a_trailing_space() {
    let server = server(vec![Rule::rewrite("UID SEARCH", b"\r\n", b" \r\n").times(10)]);
    let env = env_on(&server, "");
    two_passes(&env, &server);
    record("Q10", "parsed; both messages stored once");
}

#[test]
fn q11_negative_modseq_and_wildcard_flag() {
    let server = server(vec![
        Rule::before("UID FETCH", b"* 1 FETCH (UID 1 FLAGS (\\* \\Seen) MODSEQ (-1))\r\n").contains("(UID FLAGS)"),
    ]);
    let env = env_on(&server, "");
    two_passes(&env, &server);
    record("Q11", "parsed; both messages stored once");
}

#[test]
fn q12_size_in_exponent_notation() {
    let sizes = b"* 1 FETCH (UID 1 RFC822.SIZE 9.3736e+06)\r\n* 2 FETCH (UID 2 RFC822.SIZE 4.12e+02)\r\n{tag} OK FETCH completed.\r\n";
    let server = server(vec![Rule::answer("UID FETCH", sizes).contains("(UID RFC822.SIZE)")]);
    let env = env_on(&server, "");
    assert_eq!(syncs_both(&env, &server), None);
    record("Q12", "parsed; both messages stored");
}

#[test]
fn q13_fetch_of_message_zero() {
    let server = server(vec![Rule::before("UID FETCH", b"* 0 FETCH (FLAGS (\\Seen))\r\n")]);
    let env = env_on(&server, "");
    assert_eq!(syncs_both(&env, &server), None);
    record("Q13", "ignored; both messages stored");
}

#[test]
fn q14_untagged_noop() {
    let server = server(vec![Rule::before("SELECT", b"* NOOP\r\n"), Rule::before("UID FETCH", b"* NOOP\r\n")]);
    let env = env_on(&server, "");
    assert_eq!(syncs_both(&env, &server), None);
    record("Q14", "ignored; both messages stored");
}

#[test]
fn q22_yahoo_modseq_and_fetch_above_the_highest_uid() {
    let setup = ReplaySetup::new(USER, PASSWORD)
        .capabilities("IMAP4rev1 AUTH=PLAIN ID IDLE UIDPLUS MOVE XYMHIGHESTMODSEQ")
        .mailbox(inbox())
        .rule(Rule::before("SELECT", b"* OK [HIGHESTMODSEQ 77] Highest\r\n"))
        // Asking for UIDs above the highest one (3 and up) is never answered.
        .rule(Rule::stall("UID FETCH").contains(" 3"));
    let server = ReplayServer::start(setup).unwrap();
    let env = env_on(&server, "");
    two_passes(&env, &server);
    let asked = server.commands().join("\n");
    assert!(!asked.contains("CHANGEDSINCE") && !asked.contains("ENABLE"), "CONDSTORE used without CONDSTORE:\n{asked}");
    record("Q22", "CONDSTORE not assumed from XYMHIGHESTMODSEQ; no FETCH above the highest UID; both stored");
}

#[test]
fn q25_unsolicited_fetch_missing_modseq_and_uidvalidity_zero() {
    let setup = ReplaySetup::new(USER, PASSWORD)
        .mailbox(inbox().uidvalidity(0))
        .rule(Rule::before("UID FETCH", b"* 2 FETCH (FLAGS (\\Seen \\Flagged))\r\n").contains("BODY.PEEK[]"))
        .rule(Rule::rewrite("SELECT", b"OK [HIGHESTMODSEQ", b"OK [X-NOMODSEQ"));
    let server = ReplayServer::start(setup).unwrap();
    let env = env_on(&server, "");
    two_passes(&env, &server);
    record(
        "Q25",
        "the unsolicited FETCH is not taken for a message; UIDVALIDITY 0 kept; flags compared in full; both stored once",
    );
}

#[test]
fn q06_broken_copyuid_after_a_move() {
    let setup = ReplaySetup::new(USER, PASSWORD)
        .mailbox(inbox())
        .mailbox(ReplayMailbox::special("Spam", "\\Junk"))
        .rule(
            Rule::answer("UID MOVE", b"* OK [COPYUID 701  ] Moved\r\n* 1 EXPUNGE\r\n{tag} OK MOVE completed.\r\n")
                .times(1),
        )
        .rule(
            Rule::answer("UID MOVE", b"[COPYUID 124 10 233]\r\n* 1 EXPUNGE\r\n{tag} OK MOVE completed.\r\n").times(1),
        );
    let server = ReplayServer::start(setup).unwrap();
    let env = env_on(&server, "");
    let daemon = env.daemon();
    daemon.wait_for("both messages", WAIT, || (env.messages("anna").len() == 2).then_some(()));
    for (n, subject) in [(1, "Nachricht 1"), (2, "Nachricht 2")] {
        let id = message_by_subject(&env, "anna", subject).unwrap()["local_id"].as_i64().unwrap().to_string();
        env.ok(&["spam", &id]);
        daemon.wait_for("the move in the store", WAIT, || {
            message_by_subject(&env, "anna", subject).filter(|m| m["folder"] == "Spam")
        });
        assert_eq!(server.messages("Spam").len(), n);
    }
    assert!(server.messages("INBOX").is_empty());
    assert_eq!(env.messages("anna").len(), 2);
    record("Q6", "both moves applied and found in Spam by Message-ID (COPYUID is not relied on); stored once");
}

#[test]
fn q08_list_name_with_a_tab() {
    let setup = ReplaySetup::new(USER, PASSWORD)
        .mailbox(inbox())
        .mailbox(ReplayMailbox::new("Projekte\tAlt").message(&[], &mail(3)))
        .rule(Rule::rewrite("LIST", b"\"Projekte\tAlt\"", b"Projekte\tAlt"));
    let server = ReplayServer::start(setup).unwrap();
    let env = env_on(&server, "");
    let out = sync_once(&env);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(env.subjects("anna", None), ["Nachricht 1", "Nachricht 2", "Nachricht 3"]);
    record("Q8", "the folder is listed and its message stored");
}

#[test]
fn p01_gmail_too_many_simultaneous_connections_at_login() {
    let refusal = b"{tag} NO [ALERT] Too many simultaneous connections. (Failure)\r\n";
    let server = server(vec![Rule::answer("LOGIN", refusal).times(1), Rule::answer("AUTHENTICATE", refusal).times(1)]);
    let env = env_on(&server, "");
    let daemon = env.daemon();
    daemon.wait_for("both messages", WAIT, || (env.messages("anna").len() == 2).then_some(()));
    let db = rusqlite::Connection::open(env.path().join("data/postfach.sqlite3")).unwrap();
    let mut stmt =
        db.prepare("SELECT detail FROM events WHERE account = 'anna' AND kind = 'account-state' ORDER BY seq").unwrap();
    let states: Vec<String> = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap().map(Result::unwrap).collect();
    assert!(states.iter().any(|d| d.contains("backing-off") && d.contains("Too many simultaneous")), "{states:?}");
    assert!(!states.iter().any(|d| d.contains("auth-failed")), "{states:?}");
    daemon.wait_for("idle", WAIT, || (env.account("anna")["state"] == "idle").then_some(()));
    record("P1", "`backing-off`, not `auth-failed`; the next login works and both messages are stored");
}
