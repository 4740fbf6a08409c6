//! The bundled provider adapters against Dovecot fixtures shaped like each provider
//! (names on the wire, separator, prefix, attributes present or absent, server ID), from
//! shared/providers.md. The account says `provider = "auto"`; the adapter must be detected
//! and must map the roles.

use postfach_test_harness::mail::Mail;
use postfach_test_harness::{Dovecot, DovecotConfig, Layout, MailboxSpec};
use serde_json::Value;

use crate::support::{Env, account_toml, dovecot};

/// A capability list like Gmail's: XLIST, but no SPECIAL-USE.
const GMAIL_CAPS: &str = "IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID XLIST CHILDREN UIDPLUS COMPRESS=DEFLATE ENABLE MOVE CONDSTORE ESEARCH LITERAL+";

/// Folder name → (role, role_source), from `folders --refresh --json`.
fn roles(env: &Env, id: &str) -> Vec<(String, Value, Value)> {
    env.json(&["folders", id, "--refresh"])
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap().to_owned(), f["role"].clone(), f["role_source"].clone()))
        .collect()
}

fn assert_role(roles: &[(String, Value, Value)], name: &str, role: Option<&str>, source: Option<&str>) {
    let Some((_, r, s)) = roles.iter().find(|(n, _, _)| n == name) else { panic!("no folder {name} in {roles:?}") };
    assert_eq!((r.as_str(), s.as_str()), (role, source), "{name}: {roles:?}");
}

fn setup(dv: &Dovecot, user: &str, email: &str, extra: &str) -> Env {
    let env = Env::new();
    let toml = account_toml(dv, user, extra).replace(&format!("email = \"{user}\""), &format!("email = \"{email}\""));
    env.write_account("acct", &toml);
    env
}

fn provider(env: &Env) -> Value {
    env.account("acct")["provider"].clone()
}

#[test]
fn gmail_german_layout_detected_by_domain() {
    let user = "max@googlemail.com";
    let config = DovecotConfig::default()
        .mailbox(MailboxSpec::special("[Google Mail]/Gesendet", "\\Sent"))
        .mailbox(MailboxSpec::special("[Google Mail]/Entwürfe", "\\Drafts"))
        .mailbox(MailboxSpec::special("[Google Mail]/Papierkorb", "\\Trash"))
        .mailbox(MailboxSpec::special("[Google Mail]/Spam", "\\Junk"))
        .mailbox(MailboxSpec::special("[Google Mail]/Alle Nachrichten", "\\All"))
        .mailbox(MailboxSpec::special("[Google Mail]/Markiert", "\\Flagged"))
        .mailbox(MailboxSpec::special("[Google Mail]/Wichtig", "\\Important"))
        .capability(GMAIL_CAPS)
        .server_id(&[("name", "GImap"), ("vendor", "Google, Inc.")]);
    let dv = dovecot(config, &[user]);
    let env = setup(&dv, user, user, "");
    let r = roles(&env, "acct");
    assert_eq!(provider(&env), "gmail");
    assert_role(&r, "INBOX", Some("inbox"), Some("name"));
    assert_role(&r, "[Google Mail]", None, None);
    assert_role(&r, "[Google Mail]/Gesendet", Some("sent"), Some("attribute"));
    assert_role(&r, "[Google Mail]/Entwürfe", Some("drafts"), Some("attribute"));
    assert_role(&r, "[Google Mail]/Papierkorb", Some("trash"), Some("attribute"));
    assert_role(&r, "[Google Mail]/Spam", Some("junk"), Some("attribute"));
    assert_role(&r, "[Google Mail]/Alle Nachrichten", Some("all"), Some("attribute"));
    assert_role(&r, "[Google Mail]/Markiert", Some("flagged"), Some("attribute"));
    assert_role(&r, "[Google Mail]/Wichtig", Some("important"), Some("attribute"));
    let drafts = env.json(&["folders", "acct"]);
    let d = drafts.as_array().unwrap().iter().find(|f| f["name"] == "[Google Mail]/Entwürfe").unwrap();
    assert_eq!(d["raw"], "[Google Mail]/Entw&APw-rfe");
}

#[test]
fn gmail_workspace_detected_by_server_id_without_attributes() {
    let user = "max@muster-gmbh.de";
    // Google Workspace on a company domain; the names alone, no attributes this time.
    let config = DovecotConfig::default()
        .mailbox(MailboxSpec::new("[Gmail]/Sent Mail"))
        .mailbox(MailboxSpec::new("[Gmail]/Drafts"))
        .mailbox(MailboxSpec::new("[Gmail]/Trash"))
        .mailbox(MailboxSpec::new("[Gmail]/Spam"))
        .mailbox(MailboxSpec::new("[Gmail]/All Mail"))
        .mailbox(MailboxSpec::new("[Gmail]/Starred"))
        .capability(GMAIL_CAPS)
        .server_id(&[("name", "GImap")]);
    let dv = dovecot(config, &[user]);
    let env = setup(&dv, user, user, "");
    let r = roles(&env, "acct");
    assert_eq!(provider(&env), "gmail", "the server's ID answer names Gmail");
    assert_role(&r, "[Gmail]/Sent Mail", Some("sent"), Some("adapter"));
    assert_role(&r, "[Gmail]/All Mail", Some("all"), Some("adapter"));
    assert_role(&r, "[Gmail]/Starred", Some("flagged"), Some("adapter"));
    assert_role(&r, "[Gmail]/Trash", Some("trash"), Some("adapter"));
}

#[test]
fn icloud_names_without_attributes_and_local_part_login() {
    // iCloud's IMAP login is the part before @: the server knows the user as `max`.
    let config = ["Sent Messages", "Drafts", "Deleted Messages", "Junk", "Archive", "Notes"]
        .into_iter()
        .fold(DovecotConfig::default(), |c, m| c.mailbox(MailboxSpec::new(m)));
    let dv = dovecot(config, &["max"]);
    dv.client("max").unwrap().append("INBOX", &[], None, &Mail::new(1, "Hallo iCloud").to_bytes()).unwrap();
    let env = setup(&dv, "max", "max@icloud.com", "");
    // No username in the file: the adapter's login form decides.
    let toml = std::fs::read_to_string(env.account_path("acct")).unwrap().replace("username = \"max\"\n", "");
    env.write_account("acct", &toml);
    let r = roles(&env, "acct");
    assert_eq!(provider(&env), "icloud");
    assert_role(&r, "Sent Messages", Some("sent"), Some("adapter"));
    assert_role(&r, "Deleted Messages", Some("trash"), Some("adapter"));
    assert_role(&r, "Junk", Some("junk"), Some("adapter"));
    assert_role(&r, "Drafts", Some("drafts"), Some("adapter"));
    assert_role(&r, "Archive", Some("archive"), Some("adapter"));
    assert_role(&r, "Notes", None, None);
    env.ok(&["sync", "--once"]);
    assert_eq!(env.subjects("acct", None), ["Hallo iCloud"]);
    assert!(dv.log().contains("Login: user=<max>"), "{}", dv.log());
}

#[test]
fn t_online_german_names() {
    let user = "oma@t-online.de";
    let config = ["Gesendet", "Entwürfe", "Papierkorb", "Spam", "Sprachbox"]
        .into_iter()
        .fold(DovecotConfig::default(), |c, m| c.mailbox(MailboxSpec::new(m)));
    let dv = dovecot(config, &[user]);
    let env = setup(&dv, user, user, "");
    let r = roles(&env, "acct");
    assert_eq!(provider(&env), "t-online");
    assert_role(&r, "Gesendet", Some("sent"), Some("adapter"));
    assert_role(&r, "Entwürfe", Some("drafts"), Some("adapter"));
    assert_role(&r, "Papierkorb", Some("trash"), Some("adapter"));
    assert_role(&r, "Spam", Some("junk"), Some("adapter"));
    assert_role(&r, "Sprachbox", None, None);
}

#[test]
fn gmx_outbox_is_never_sent() {
    let user = "max@gmx.de";
    let config = DovecotConfig::default()
        .mailbox(MailboxSpec::special("Gesendet", "\\Sent"))
        .mailbox(MailboxSpec::special("Entwürfe", "\\Drafts"))
        .mailbox(MailboxSpec::special("Gelöscht", "\\Trash"))
        .mailbox(MailboxSpec::special("Spamverdacht", "\\Junk"))
        .mailbox(MailboxSpec::new("OUTBOX"));
    let dv = dovecot(config, &[user]);
    let env = setup(&dv, user, user, "");
    let r = roles(&env, "acct");
    assert_eq!(provider(&env), "gmx");
    assert_role(&r, "OUTBOX", Some("outbox"), Some("adapter"));
    assert_role(&r, "Gesendet", Some("sent"), Some("attribute"));
    assert_role(&r, "Gelöscht", Some("trash"), Some("attribute"));
    assert_role(&r, "Spamverdacht", Some("junk"), Some("attribute"));
}

#[test]
fn webde_local_part_login_and_unknown_senders_folder() {
    let config = DovecotConfig::default()
        .mailbox(MailboxSpec::special("Gesendet", "\\Sent"))
        .mailbox(MailboxSpec::new("Unbekannt"))
        .mailbox(MailboxSpec::new("OUTBOX"));
    let dv = dovecot(config, &["max.mustermann"]);
    dv.client("max.mustermann").unwrap().append("INBOX", &[], None, &Mail::new(1, "Hallo WEB.DE").to_bytes()).unwrap();
    let env = setup(&dv, "max.mustermann", "max.mustermann@web.de", "");
    let toml =
        std::fs::read_to_string(env.account_path("acct")).unwrap().replace("username = \"max.mustermann\"\n", "");
    env.write_account("acct", &toml);
    let r = roles(&env, "acct");
    assert_eq!(provider(&env), "webde");
    assert_role(&r, "Unbekannt", None, None);
    assert_role(&r, "OUTBOX", Some("outbox"), Some("adapter"));
    assert_role(&r, "Gesendet", Some("sent"), Some("attribute"));
    env.ok(&["sync", "--once"]);
    assert_eq!(env.subjects("acct", None), ["Hallo WEB.DE"]);
}

#[test]
fn outlook_english_and_german_exchange_names() {
    let en = DovecotConfig::default()
        .mailbox(MailboxSpec::special("Sent Items", "\\Sent"))
        .mailbox(MailboxSpec::special("Deleted Items", "\\Trash"))
        .mailbox(MailboxSpec::special("Junk E-mail", "\\Junk"))
        .mailbox(MailboxSpec::special("Drafts", "\\Drafts"))
        .mailbox(MailboxSpec::new("Archive"))
        .mailbox(MailboxSpec::new("Outbox"));
    let dv = dovecot(en, &["max@outlook.com"]);
    let env = setup(&dv, "max@outlook.com", "max@outlook.com", "");
    let r = roles(&env, "acct");
    assert_eq!(provider(&env), "outlook");
    assert_role(&r, "Sent Items", Some("sent"), Some("attribute"));
    assert_role(&r, "Archive", Some("archive"), Some("adapter"));
    assert_role(&r, "Outbox", Some("outbox"), Some("adapter"));

    let de = ["Gesendete Elemente", "Gelöschte Elemente", "Entwürfe", "Junk-E-Mail", "Archiv", "Postausgang"]
        .into_iter()
        .fold(DovecotConfig::default(), |c, m| c.mailbox(MailboxSpec::new(m)));
    let dv = dovecot(de, &["max@hotmail.de"]);
    let env = setup(&dv, "max@hotmail.de", "max@hotmail.de", "");
    let r = roles(&env, "acct");
    assert_eq!(provider(&env), "outlook");
    assert_role(&r, "Gesendete Elemente", Some("sent"), Some("adapter"));
    assert_role(&r, "Gelöschte Elemente", Some("trash"), Some("adapter"));
    assert_role(&r, "Junk-E-Mail", Some("junk"), Some("adapter"));
    assert_role(&r, "Archiv", Some("archive"), Some("adapter"));
    assert_role(&r, "Postausgang", Some("outbox"), Some("adapter"));
}

#[test]
fn courier_style_inbox_prefix_detected_by_server_id() {
    let user = "buero@kanzlei-beispiel.de";
    let config = ["Sent", "Drafts", "Trash", "Spam", "Kunden", "Kunden.Sent"]
        .into_iter()
        .fold(DovecotConfig::default().layout(Layout::InboxDot), |c, m| c.mailbox(MailboxSpec::new(m)))
        .server_id(&[("name", "Courier-IMAP")]);
    let dv = dovecot(config, &[user]);
    let env = setup(&dv, user, user, "");
    let r = roles(&env, "acct");
    assert_eq!(provider(&env), "inbox-prefix");
    assert_role(&r, "INBOX.Sent", Some("sent"), Some("adapter"));
    assert_role(&r, "INBOX.Drafts", Some("drafts"), Some("adapter"));
    assert_role(&r, "INBOX.Trash", Some("trash"), Some("adapter"));
    assert_role(&r, "INBOX.Spam", Some("junk"), Some("adapter"));
    assert_role(&r, "INBOX.Kunden.Sent", None, None);
}

#[test]
fn generic_adapter_reads_german_names_and_config_still_wins() {
    let user = "info@firma-xy.de";
    let config = ["Gesendet", "Entwürfe", "Gelöscht", "Spamverdacht", "Postausgang", "Ablage"]
        .into_iter()
        .fold(DovecotConfig::default(), |c, m| c.mailbox(MailboxSpec::new(m)));
    let dv = dovecot(config, &[user]);
    let env = setup(&dv, user, user, "[folders]\narchive = \"Ablage\"\n");
    let r = roles(&env, "acct");
    assert_eq!(provider(&env), "generic");
    assert_role(&r, "Gesendet", Some("sent"), Some("name"));
    assert_role(&r, "Entwürfe", Some("drafts"), Some("name"));
    assert_role(&r, "Gelöscht", Some("trash"), Some("name"));
    assert_role(&r, "Spamverdacht", Some("junk"), Some("name"));
    assert_role(&r, "Postausgang", Some("outbox"), Some("name"));
    assert_role(&r, "Ablage", Some("archive"), Some("config"));
}

#[test]
fn autoconfig_prints_a_usable_account_file() {
    let env = Env::new();
    let out = env.ok(&["autoconfig", "oma@t-online.de"]);
    assert!(out.contains("host = \"secureimap.t-online.de\""), "{out}");
    assert!(out.contains("Passwort für E-Mail-Programme"), "{out}");
    assert!(out.contains("provider = \"t-online\""), "{out}");
    let out = env.ok(&["autoconfig", "max@icloud.com"]);
    assert!(
        out.contains("[imap]\nhost = \"imap.mail.me.com\"\nport = 993\nsecurity = \"tls\"\nusername = \"max\""),
        "{out}"
    );
    assert!(
        out.contains(
            "[smtp]\nhost = \"smtp.mail.me.com\"\nport = 587\nsecurity = \"starttls\"\nusername = \"max@icloud.com\""
        ),
        "{out}"
    );
    // What autoconfig prints is a valid account file (once the password is there).
    assert!(out.contains("password = { env = \"POSTFACH_PASSWORD_MAX\" }"), "{out}");
    env.write_account("icloud", &out.replace("{ env = \"POSTFACH_PASSWORD_MAX\" }", "\"app-password\""));
    assert!(env.ok(&["check"]).starts_with("ok: 1 account"));
}

#[test]
fn autoconfig_writes_an_oauth2_account_for_outlook_and_gmail_with_the_next_step() {
    let env = Env::new();
    let out = env.ok(&["autoconfig", "max@outlook.com"]);
    assert!(out.contains("[imap]\nhost = \"outlook.office365.com\"\nport = 993\nsecurity = \"tls\"\nusername = \"max@outlook.com\"\nauth = \"oauth2\""), "{out}");
    assert!(!out.contains("password"), "{out}");
    assert!(out.contains("[oauth2]\nclient_id = \"\""), "{out}");
    assert!(out.contains("then run: postfachd oauth authorize <id> (or --device)"), "{out}");
    assert!(out.contains("# tenant = \"common\""), "{out}");
    // Not usable before the app's client id is in; then it is.
    env.write_account("outlook", &out);
    let check = env.run(&["check"]);
    assert!(!check.status.success());
    assert!(
        String::from_utf8_lossy(&check.stderr).contains("outlook.toml:29:13: client_id must be the id of the app"),
        "{check:?}"
    );
    env.write_account("outlook", &out.replace("client_id = \"\"", "client_id = \"0b1d-app\""));
    assert!(env.ok(&["check"]).starts_with("ok: 1 account"));
    // Google: no device flow for the mail scope.
    let out = env.ok(&["autoconfig", "max@gmail.com"]);
    assert!(out.contains("auth = \"oauth2\"") && out.contains("postfachd oauth authorize <id>\n"), "{out}");
    assert!(!out.contains("--device") && !out.contains("tenant"), "{out}");
}
