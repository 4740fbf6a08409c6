//! Migration from POP3: an mbox or maildir export is imported, then the same mail syncs
//! over IMAP, and nothing is stored twice (Message-ID, or a content key without one).

use postfach_test_harness::DovecotConfig;
use postfach_test_harness::mail::Mail;
use serde_json::Value;

use crate::support::{Env, account_toml, dovecot};

const USER: &str = "mm@muster-architekten.de";

/// Three messages as a POP3 client kept them: LF line ends, one without a Message-ID, one
/// with a body line that mbox has to quote.
fn pop3_mail() -> Vec<Vec<u8>> {
    let with_from_line =
        Mail::new(1, "Angebot").body("Guten Tag,\r\nFrom now on we deliver on Mondays.\r\n").to_bytes();
    let without_id = Mail::new(2, "Ohne Kennung").message_id(None).body("Keine Message-ID.\r\n").to_bytes();
    let third = Mail::new(3, "Rechnung").body("Anbei.\r\n").to_bytes();
    vec![with_from_line, without_id, third]
}

fn lf(raw: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(raw).replace("\r\n", "\n").into_bytes()
}

fn mbox(messages: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in messages {
        out.extend_from_slice(b"From MAILER-DAEMON Mon Jan  5 10:00:00 2026\n");
        let text = String::from_utf8_lossy(&lf(m)).replace("\nFrom ", "\n>From ");
        out.extend_from_slice(text.as_bytes());
        out.extend_from_slice(b"\n");
    }
    out
}

fn import(env: &Env, path: &std::path::Path) -> Value {
    serde_json::from_str(&env.ok(&["import", "mm", path.to_str().unwrap(), "--json"])).unwrap()
}

#[test]
fn mbox_import_then_imap_sync_stores_each_message_once() {
    let dv = dovecot(DovecotConfig::default(), &[USER]);
    let env = Env::new();
    env.write_account("mm", &account_toml(&dv, USER, ""));
    let mail = pop3_mail();
    let path = env.path().join("Posteingang.mbox");
    std::fs::write(&path, mbox(&mail)).unwrap();

    let r = import(&env, &path);
    assert_eq!((r["read"].as_u64(), r["imported"].as_u64(), r["already_stored"].as_u64()), (Some(3), Some(3), Some(0)));
    let msgs = env.messages("mm");
    assert_eq!(msgs.len(), 3);
    assert!(msgs.iter().all(|m| m["on_server"] == false));
    // Importing again changes nothing.
    let r = import(&env, &path);
    assert_eq!((r["imported"].as_u64(), r["already_stored"].as_u64()), (Some(0), Some(3)));

    // The account is switched to IMAP: the server has the same three (with CRLF), and a new one.
    let mut c = dv.client(USER).unwrap();
    for m in &mail {
        c.append("INBOX", &["\\Seen"], None, m).unwrap();
    }
    c.append("INBOX", &[], None, &Mail::new(4, "Neu per IMAP").to_bytes()).unwrap();
    env.ok(&["sync", "--once"]);
    let msgs = env.messages("mm");
    assert_eq!(msgs.len(), 4, "{msgs:#?}");
    assert!(msgs.iter().all(|m| m["on_server"] == true), "every imported message is linked to its IMAP copy");
    let quoted = msgs.iter().find(|m| m["subject"] == "Angebot").unwrap();
    let raw = env.ok(&["show", &quoted["local_id"].to_string()]);
    assert!(raw.contains("\r\nFrom now on"), "mbox quoting undone");
}

#[test]
fn maildir_import_with_subfolders() {
    let dv = dovecot(DovecotConfig::default(), &[USER]);
    let env = Env::new();
    env.write_account("mm", &account_toml(&dv, USER, ""));
    let mail = pop3_mail();
    let root = env.path().join("Maildir");
    for (dir, m, name) in
        [("cur", &mail[0], "1.host:2,S"), ("new", &mail[1], "2.host"), (".Sent/cur", &mail[2], "3.host:2,S")]
    {
        std::fs::create_dir_all(root.join(dir)).unwrap();
        std::fs::write(root.join(dir).join(name), lf(m)).unwrap();
    }
    std::fs::create_dir_all(root.join(".Sent/new")).unwrap();
    let r = import(&env, &root);
    assert_eq!((r["read"].as_u64(), r["imported"].as_u64()), (Some(3), Some(3)));
    let mut c = dv.client(USER).unwrap();
    for m in &mail {
        c.append("INBOX", &[], None, m).unwrap();
    }
    env.ok(&["sync", "--once"]);
    assert_eq!(env.messages("mm").len(), 3);
    let out = env.run(&["import", "mm", env.path().join("nowhere").to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}

/// What is no mbox or maildir is refused with a clear error and nothing stored; a single
/// `.eml` and a directory of them are what webmailers export, and are imported.
#[test]
fn only_mail_exports_are_imported_and_eml_files_are_one() {
    let dv = dovecot(DovecotConfig::default(), &[USER]);
    let env = Env::new();
    env.write_account("mm", &account_toml(&dv, USER, ""));
    let dir = env.path().join("exports");
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    std::fs::write(dir.join("bild.png"), b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10").unwrap();
    std::fs::write(dir.join("notiz.txt"), "Bitte Herrn Meier zurückrufen.\n").unwrap();
    for bad in ["bild.png", "notiz.txt", "empty"] {
        let out = env.run(&["import", "mm", dir.join(bad).to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{bad} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("is no mail export"), "{bad}: {stderr}");
    }
    assert!(env.messages("mm").is_empty());

    let mail = pop3_mail();
    std::fs::write(dir.join("angebot.eml"), &mail[0]).unwrap();
    assert_eq!(import(&env, &dir.join("angebot.eml"))["imported"], 1);
    let many = dir.join("webmail-export");
    std::fs::create_dir_all(&many).unwrap();
    for (i, m) in mail.iter().enumerate() {
        std::fs::write(many.join(format!("{i}.eml")), lf(m)).unwrap();
    }
    let r = import(&env, &many);
    assert_eq!((r["read"].as_u64(), r["imported"].as_u64(), r["already_stored"].as_u64()), (Some(3), Some(2), Some(1)));
    assert_eq!(env.messages("mm").len(), 3);
}
