//! The demo's mail servers: an architect's mailbox in the usual `/` layout with
//! SPECIAL-USE folders and ProjektPro project folders, and a law office on a Courier-style
//! server (`INBOX.` prefix, `.` separator, no SPECIAL-USE). Fixed ports, so the example
//! account files in `config/accounts/` can point at them.

use std::path::Path;

use crate::dovecot::{Dovecot, DovecotConfig, Layout, MailboxSpec, Ports};
use crate::error::{HarnessError, io};
use crate::mail::Mail;
use crate::postfix::Postfix;

/// First port of the architect's server (imap, imaps, insecure, lmtp, auth).
pub const ARCHITEKT_PORTS: u16 = 19930;
/// First port of the law office's server.
pub const KANZLEI_PORTS: u16 = 19940;
/// First port of the real-estate agent's Gmail-shaped server.
pub const MAKLER_PORTS: u16 = 19950;
/// First port of the Postfix in front of all three: submission (STARTTLS) and implicit
/// TLS per server, in the order architekt, kanzlei, makler (19960/19961, 19962/19963, …).
pub const POSTFIX_PORTS: u16 = 19960;

/// The port of the demo's webhook receiver (`[[webhooks]]` in config/postfach.toml).
pub const WEBHOOK_PORT: u16 = 19970;
/// The port of the demo's OAuth2 provider (`postfach-mailservers oauth`), where the law
/// office's server checks the tokens of its OAuth2 mailbox.
pub const OAUTH_PORT: u16 = 19971;
/// The law office's mailbox that logs in with OAuth2 (account `buero`).
pub const OAUTH_USER: &str = "buero@ra-schmidt.de";

/// The demo's webhook signing secret (Standard Webhooks `whsec_<base64>`).
pub const WEBHOOK_SECRET: &str = "whsec_RGVtby1XZWJob29rLVNlY3JldC0yMDI2IQ==";

/// A demo account: id, login, password.
pub struct DemoAccount {
    /// Account id (file stem in config/accounts).
    pub id: &'static str,
    /// IMAP login.
    pub user: &'static str,
    /// Password (written to `secrets/<id>.pw`).
    pub password: &'static str,
}

/// The demo accounts.
pub const ACCOUNTS: [DemoAccount; 3] = [
    DemoAccount { id: "architekt", user: "mm@muster-architekten.de", password: "Demo-Architekt-2026" },
    DemoAccount { id: "kanzlei", user: "kanzlei@ra-schmidt.de", password: "Demo-Kanzlei-2026" },
    DemoAccount { id: "makler", user: "immobilien.weber@googlemail.com", password: "Demo-Makler-2026" },
];

/// Starts both demo servers under `dir`, seeds them, writes the secrets, and detaches
/// them. Returns a summary for the console.
pub fn start(dir: &Path) -> Result<String, HarnessError> {
    stop(dir);
    std::fs::create_dir_all(dir.join("secrets")).map_err(io("creating secrets/"))?;
    for a in &ACCOUNTS {
        std::fs::write(dir.join("secrets").join(format!("{}.pw", a.id)), format!("{}\n", a.password))
            .map_err(io("writing a secret"))?;
    }
    // The signing secret shared by postfachd's [[webhooks]] entry and the demo's receiver.
    std::fs::write(dir.join("secrets").join("webhook.secret"), format!("{WEBHOOK_SECRET}\n"))
        .map_err(io("writing the webhook secret"))?;
    let architekt = architekt(&dir.join("architekt"))?;
    let kanzlei = kanzlei(&dir.join("kanzlei"))?;
    let makler = makler(&dir.join("makler"))?;
    let smtp = match Postfix::start_at(&[&architekt, &kanzlei, &makler], &dir.join("postfix"), POSTFIX_PORTS) {
        Ok(pf) => {
            let ports: Vec<String> = pf.listeners.iter().map(|l| l.submission.to_string()).collect();
            pf.detach();
            format!("smtp:      submission 127.0.0.1:{} (Postfix, delivering into the three servers)", ports.join("/"))
        }
        Err(e) => format!("smtp:      not started ({e}); sending is left out of the demo"),
    };
    let summary = format!(
        "architekt: imaps 127.0.0.1:{} (SPECIAL-USE, ProjektPro folders)\n\
         kanzlei:   imaps 127.0.0.1:{} (INBOX. prefix, `.` separator, no attributes)\n\
         makler:    imaps 127.0.0.1:{} (German Gmail layout, [Google Mail]/…)\n{smtp}",
        architekt.imaps_port, kanzlei.imaps_port, makler.imaps_port
    );
    architekt.detach();
    kanzlei.detach();
    makler.detach();
    Ok(summary)
}

/// Stops the demo servers under `dir`.
pub fn stop(dir: &Path) -> bool {
    let a = crate::dovecot::stop_detached(&dir.join("architekt"));
    let k = crate::dovecot::stop_detached(&dir.join("kanzlei"));
    let m = crate::dovecot::stop_detached(&dir.join("makler"));
    let p = crate::postfix::stop_detached(&dir.join("postfix"));
    a || k || m || p
}

fn mail(n: usize, from: &str, subject: &str, body: &str) -> Vec<u8> {
    Mail::new(n, subject).from(from).body(body).to_bytes()
}

fn architekt(dir: &Path) -> Result<Dovecot, HarnessError> {
    let a = &ACCOUNTS[0];
    let config = DovecotConfig::default()
        .user(a.user, a.password)
        .mailbox(MailboxSpec::special("Gesendet", "\\Sent"))
        .mailbox(MailboxSpec::special("Entwürfe", "\\Drafts"))
        .mailbox(MailboxSpec::special("Papierkorb", "\\Trash"))
        .mailbox(MailboxSpec::special("Spam", "\\Junk"))
        .mailbox(MailboxSpec::new("ProjektPro"))
        .mailbox(MailboxSpec::new("ProjektPro/210-01 Musterprojekt Wohnanlage"))
        .mailbox(MailboxSpec::new("ProjektPro/211-07 Schule Süd"));
    let dv = Dovecot::start_at(config, dir, Ports::from_base(ARCHITEKT_PORTS))?;
    let mut c = dv.client(a.user)?;
    let bau = "Bauunternehmung Kraft <info@kraft-bau.de>";
    let statik = "Ingenieurbüro Statik <buero@statik-plan.de>";
    let stadt = "Stadt Musterstadt – Bauamt <bauamt@musterstadt.de>";
    c.append(
        "INBOX",
        &[],
        None,
        &mail(1, bau, "Angebot Fenster Wohnanlage", "Sehr geehrter Herr Mustermann,\r\nanbei unser Angebot.\r\n"),
    )?;
    c.append(
        "INBOX",
        &["\\Seen"],
        None,
        &mail(2, statik, "[P-210-01] Statischer Nachweis Tiefgarage", "Der Nachweis liegt bei.\r\n"),
    )?;
    c.append(
        "INBOX",
        &[],
        None,
        &mail(3, stadt, "Bauantrag Schule Süd – Nachforderung", "Es fehlen die Brandschutzpläne.\r\n"),
    )?;
    c.append(
        "INBOX",
        &[],
        None,
        &Mail::new(4, "Re: Bauantrag Schule Süd – Nachforderung")
            .from(stadt)
            .reply_to("msg-3@fixture.postfach.test")
            .body("Eingang bestätigt.\r\n")
            .to_bytes(),
    )?;
    c.append(
        "INBOX",
        &["\\Seen"],
        None,
        &mail(5, "Newsletter Baustoffe <news@baustoffe.example>", "Neuheiten im November", "Unsere Angebote.\r\n"),
    )?;
    c.append(
        "Gesendet",
        &["\\Seen"],
        None,
        &mail(
            6,
            "Max Mustermann <mm@muster-architekten.de>",
            "Terminvorschlag Baubesprechung",
            "Passt Ihnen Dienstag?\r\n",
        ),
    )?;
    c.append(
        "Entw&APw-rfe",
        &["\\Draft"],
        None,
        &mail(7, "Max Mustermann <mm@muster-architekten.de>", "Entwurf: Kostenschätzung", "…\r\n"),
    )?;
    c.append("Papierkorb", &["\\Seen"], None, &mail(8, bau, "Alte Rechnung", "storniert\r\n"))?;
    c.append(
        "Spam",
        &[],
        None,
        &mail(9, "Gewinnspiel <win@spam.example>", "Sie haben gewonnen!!!", "Klicken Sie hier.\r\n"),
    )?;
    let wohnanlage = "ProjektPro/210-01 Musterprojekt Wohnanlage";
    c.append(wohnanlage, &["\\Seen"], None, &mail(10, bau, "Bauzeitenplan Wohnanlage", "Version 3 im Anhang.\r\n"))?;
    c.append(wohnanlage, &["\\Seen"], None, &mail(11, statik, "Bewehrungspläne Haus B", "Freigabe erbeten.\r\n"))?;
    c.append(
        wohnanlage,
        &[],
        None,
        &mail(
            12,
            "Elektro Licht GmbH <service@elektro-licht.de>",
            "Nachtrag Beleuchtung Außenanlage",
            "Nachtragsangebot anbei.\r\n",
        ),
    )?;
    let schule = "ProjektPro/211-07 Schule S&APw-d";
    c.append(
        schule,
        &["\\Seen"],
        None,
        &mail(13, stadt, "Baugenehmigung Schule Süd", "Die Genehmigung wird erteilt.\r\n"),
    )?;
    c.append(
        schule,
        &[],
        None,
        &mail(14, "Schulverwaltung <verwaltung@schule-sued.de>", "Nutzerbedarf Fachräume", "Liste anbei.\r\n"),
    )?;
    c.logout()?;
    Ok(dv)
}

fn kanzlei(dir: &Path) -> Result<Dovecot, HarnessError> {
    let a = &ACCOUNTS[1];
    let config = DovecotConfig::default()
        .layout(Layout::InboxDot)
        .user(a.user, a.password)
        // Its password only seeds the demo mail; postfachd logs in with OAuth2 tokens.
        .user(OAUTH_USER, "Demo-Buero-2026")
        .oauth2(&format!("http://127.0.0.1:{OAUTH_PORT}/userinfo"))
        .mailbox(MailboxSpec::new("Gesendet"))
        .mailbox(MailboxSpec::new("Entwürfe"))
        .mailbox(MailboxSpec::new("Akten"))
        .mailbox(MailboxSpec::new("Akten.2026-001 Müller & Söhne"));
    let dv = Dovecot::start_at(config, dir, Ports::from_base(KANZLEI_PORTS))?;
    let mut c = dv.client(a.user)?;
    let mut buero = dv.client(OAUTH_USER)?;
    buero.append(
        "INBOX",
        &[],
        None,
        &mail(27, "Mandantin Weber <c.weber@example.de>", "Rückruf wegen Mietvertrag", "Bitte um Rückruf.\r\n"),
    )?;
    buero.append(
        "INBOX",
        &[],
        None,
        &mail(
            28,
            "Amtsgericht Musterstadt <poststelle@ag-musterstadt.de>",
            "Aktenzeichen 3 C 77/26",
            "Eingang bestätigt.\r\n",
        ),
    )?;
    let gericht = "Amtsgericht Musterstadt <poststelle@ag-musterstadt.de>";
    c.append("INBOX", &[], None, &mail(21, gericht, "Terminladung 2 C 123/26", "Termin am 14.12.2026.\r\n"))?;
    c.append(
        "INBOX",
        &[],
        None,
        &mail(22, "Müller & Söhne KG <info@mueller-soehne.de>", "Unterlagen Mietstreit", "Anbei die Unterlagen.\r\n"),
    )?;
    c.append(
        "INBOX",
        &["\\Seen"],
        None,
        &mail(23, "Beck Verlag <service@verlag.example>", "Ihre Bestellung", "Versandbestätigung.\r\n"),
    )?;
    c.append(
        "INBOX.Gesendet",
        &["\\Seen"],
        None,
        &mail(24, "RA Schmidt <kanzlei@ra-schmidt.de>", "Klageerwiderung 2 C 123/26", "Anbei.\r\n"),
    )?;
    c.append(
        "INBOX.Entw&APw-rfe",
        &["\\Draft"],
        None,
        &mail(25, "RA Schmidt <kanzlei@ra-schmidt.de>", "Entwurf: Vergleichsvorschlag", "…\r\n"),
    )?;
    let akte = "INBOX.Akten.2026-001 M&APw-ller &- S&APY-hne";
    c.append(
        akte,
        &["\\Seen"],
        None,
        &mail(26, "Müller & Söhne KG <info@mueller-soehne.de>", "Vollmacht", "Unterschrieben zurück.\r\n"),
    )?;
    c.append(akte, &[], None, &mail(27, gericht, "Aktenzeichen 2 C 123/26", "Bitte stets angeben.\r\n"))?;
    c.logout()?;
    Ok(dv)
}

fn makler(dir: &Path) -> Result<Dovecot, HarnessError> {
    let a = &ACCOUNTS[2];
    let config = DovecotConfig::default()
        .user(a.user, a.password)
        .mailbox(MailboxSpec::special("[Google Mail]/Gesendet", "\\Sent"))
        .mailbox(MailboxSpec::special("[Google Mail]/Entwürfe", "\\Drafts"))
        .mailbox(MailboxSpec::special("[Google Mail]/Papierkorb", "\\Trash"))
        .mailbox(MailboxSpec::special("[Google Mail]/Spam", "\\Junk"))
        .mailbox(MailboxSpec::special("[Google Mail]/Alle Nachrichten", "\\All"))
        .mailbox(MailboxSpec::special("[Google Mail]/Markiert", "\\Flagged"))
        .mailbox(MailboxSpec::special("[Google Mail]/Wichtig", "\\Important"))
        .mailbox(MailboxSpec::new("Objekte"))
        .mailbox(MailboxSpec::new("Objekte/Gartenstraße 12"))
        .server_id(&[("name", "GImap"), ("vendor", "Google, Inc.")]);
    let dv = Dovecot::start_at(config, dir, Ports::from_base(MAKLER_PORTS))?;
    let mut c = dv.client(a.user)?;
    let interessent = "Familie Berger <berger@example.org>";
    c.append(
        "INBOX",
        &[],
        None,
        &mail(31, interessent, "Anfrage Exposé Gartenstraße 12", "Wir interessieren uns für die Wohnung.\r\n"),
    )?;
    c.append(
        "INBOX",
        &[],
        None,
        &mail(
            32,
            "Notariat Hoffmann <notariat@hoffmann.example>",
            "Kaufvertragsentwurf Gartenstraße 12",
            "Entwurf anbei.\r\n",
        ),
    )?;
    c.append(
        "[Google Mail]/Gesendet",
        &["\\Seen"],
        None,
        &mail(33, "Immobilien Weber <immobilien.weber@googlemail.com>", "Besichtigungstermin", "Samstag 11 Uhr?\r\n"),
    )?;
    c.append(
        "Objekte/Gartenstra&AN8-e 12",
        &["\\Seen"],
        None,
        &mail(34, "Hausverwaltung Nord <info@hv-nord.example>", "Energieausweis Gartenstraße 12", "Anbei.\r\n"),
    )?;
    c.logout()?;
    Ok(dv)
}
