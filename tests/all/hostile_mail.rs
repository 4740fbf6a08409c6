//! Hostile mail against a real Dovecot (issue 14, item 4): a 50 MiB message, 10,000 MIME
//! parts, multiparts nested 1,000 deep, 1 MiB header lines, 8-bit and invalid charsets,
//! NUL bytes, messages without headers, and folder names that are not valid modified
//! UTF-7. The sync finishes, every message is stored and listed once, the API's content
//! endpoints answer, and the daemon's memory stays bounded (the figures are printed for
//! RELIABILITY.md; run with `--nocapture` to see them).
//!
//! Two things the server does, not the daemon, shape what is asserted:
//! - Dovecot accepts NUL bytes in an APPEND but, as RFC 3501 requires, sends each as
//!   0x80 in `BODY[]` (only `BINARY[]` would give the NUL back). The daemon stores what
//!   the server sends, so the stored source of the NUL message is the appended bytes
//!   with NUL replaced by 0x80 — checked against Dovecot's own FETCH.
//! - Dovecot 2.3 refuses every name that is not valid modified UTF-7 (`CREATE`, `SELECT`:
//!   "Mailbox name is not valid mUTF-7"), escapes `&` and 8-bit names it finds on disk
//!   when it lists them (`&-Jjo`, `B&APw-ro`), and drops names that are not UTF-8. So the
//!   folders live in Dovecot under valid names, and a small relay in front of it plays a
//!   server that sends them as other servers do: `Q&A Bau` (an unescaped `&`), `Büro`
//!   (raw UTF-8) and `&Jjo` (a shift that never ends, next to a valid `&-Jjo` that
//!   shows as the same name), translating them back on the way in. Everything else on
//!   the wire is Dovecot's, byte for byte.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use postfach_test_harness::mail::Mail;
use postfach_test_harness::{Dovecot, DovecotConfig};
use serde_json::Value;

use crate::api::client::{Api, Reply, token};
use crate::support::{Env, account_toml, account_toml_via, dovecot, postfachd_bin};

const USER: &str = "bauleitung@hostile.test";
const ACCOUNT: &str = "bau";

/// Base64 lines (76 characters and CRLF) of the big message's attachment: 52,439,400
/// bytes, so the message is just over 50 MiB.
const BIG_LINES: usize = 672_300;
/// Leaf parts of the many-parts message.
const PARTS: usize = 10_000;
/// Multipart levels of the deep message.
const DEPTH: usize = 1_000;
/// Length of each long header line, its field name and CRLF included.
const LINE: usize = 1 << 20;

/// One hostile message: what it is, its Message-ID (`None`: it has none) and its bytes.
struct Hostile {
    what: &'static str,
    message_id: Option<&'static str>,
    raw: Vec<u8>,
}

impl Hostile {
    fn new(what: &'static str, message_id: Option<&'static str>, raw: Vec<u8>) -> Hostile {
        Hostile { what, message_id, raw }
    }

    /// The bytes Dovecot serves for it: NUL as 0x80 (see the module comment).
    fn served(&self) -> Vec<u8> {
        self.raw.iter().map(|&b| if b == 0 { 0x80 } else { b }).collect()
    }
}

/// Deterministic bytes that do not compress (xorshift64).
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The attachment of the big message, decoded: 38,321,100 bytes of noise.
fn big_attachment() -> Vec<u8> {
    noise(BIG_LINES * 57)
}

/// Just over 50 MiB: a text part and one base64 attachment of noise.
fn big(attachment: &[u8]) -> Vec<u8> {
    let mut raw = b"Message-ID: <gross@hostile.test>\r\n\
From: Vermessung <vermessung@hostile.test>\r\n\
To: bauleitung@hostile.test\r\n\
Subject: Punktwolke des Gelaendes (50 MiB)\r\n\
Date: Mon, 23 Nov 2026 09:00:00 +0100\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"gross\"\r\n\r\n\
--gross\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
Anbei die Punktwolke der Vermessung.\r\n\
--gross\r\n\
Content-Type: application/octet-stream; name=\"punktwolke.bin\"\r\n\
Content-Disposition: attachment; filename=\"punktwolke.bin\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n"
        .to_vec();
    raw.reserve(BIG_LINES * 78 + 64);
    for chunk in attachment.chunks(57) {
        raw.extend_from_slice(b64(chunk).as_bytes());
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"--gross--\r\n");
    raw
}

/// 10,000 leaf parts in one multipart/mixed: the body text, then text parts (even
/// numbers) and small named attachments (odd numbers) by turns.
fn many_parts() -> Vec<u8> {
    let mut raw = String::from(
        "Message-ID: <teile@hostile.test>\r\nFrom: Archiv <archiv@hostile.test>\r\nTo: bauleitung@hostile.test\r\n\
         Subject: Zehntausend Teile\r\nDate: Mon, 23 Nov 2026 09:01:00 +0100\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"teil\"\r\n\r\n\
         --teil\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nZehntausend Teile aus dem Archiv.\r\n",
    );
    for n in 2..=PARTS {
        if n % 2 == 0 {
            raw.push_str(&format!("--teil\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nTeil {n}\r\n"));
        } else {
            raw.push_str(&format!(
                "--teil\r\nContent-Type: application/octet-stream\r\n\
                 Content-Disposition: attachment; filename=\"teil-{n:05}.bin\"\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\n{}\r\n",
                b64(format!("Teil {n}").as_bytes())
            ));
        }
    }
    raw.push_str("--teil--\r\n");
    raw.into_bytes()
}

/// The section id of the deep message's attachment: `1.` 999 times, then `2`.
fn deep_attachment_id() -> String {
    format!("{}2", "1.".repeat(DEPTH - 1))
}

/// 1,000 multiparts, each the first part of its parent; the innermost holds a text and
/// an attachment.
fn deep() -> Vec<u8> {
    let mut raw = String::from(
        "Message-ID: <tief@hostile.test>\r\nFrom: Schachtel <schachtel@hostile.test>\r\nTo: bauleitung@hostile.test\r\n\
         Subject: Tausendfach verschachtelt\r\nDate: Mon, 23 Nov 2026 09:02:00 +0100\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"t1\"\r\n\r\n",
    );
    for level in 1..DEPTH {
        raw.push_str(&format!("--t{level}\r\nContent-Type: multipart/mixed; boundary=\"t{}\"\r\n\r\n", level + 1));
    }
    raw.push_str(&format!(
        "--t{DEPTH}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nGanz unten angekommen.\r\n\
         --t{DEPTH}\r\nContent-Type: application/octet-stream; name=\"grund.bin\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--t{DEPTH}--\r\n",
        b64(b"Grund")
    ));
    for level in (1..DEPTH).rev() {
        raw.push_str(&format!("--t{level}--\r\n"));
    }
    raw.into_bytes()
}

/// A header line of exactly [`LINE`] bytes: `name:`, words up to the length, CRLF.
fn long_line(name: &str, mut word: impl FnMut(usize) -> String) -> String {
    let mut line = format!("{name}:");
    let mut n = 0;
    loop {
        let w = word(n);
        if line.len() + 1 + w.len() + 2 > LINE {
            break;
        }
        line.push(' ');
        line.push_str(&w);
        n += 1;
    }
    // Blanks pad to the exact length; they end the field without changing its value.
    while line.len() + 2 < LINE {
        line.push(' ');
    }
    line.push_str("\r\n");
    line
}

/// One unfolded 1 MiB header line of words.
fn long_header() -> Vec<u8> {
    format!(
        "Message-ID: <kopfzeile@hostile.test>\r\nFrom: Bauamt <bauamt@hostile.test>\r\nTo: bauleitung@hostile.test\r\n\
         Subject: Eine Kopfzeile von einem Megabyte\r\nDate: Mon, 23 Nov 2026 09:03:00 +0100\r\n{}\
         Content-Type: text/plain; charset=utf-8\r\n\r\nDer Text nach der langen Kopfzeile.\r\n",
        long_line("X-Lange-Zeile", |n| format!("Bauabschnitt{n}"))
    )
    .into_bytes()
}

/// References of 1 MiB on one line (about 47,000 Message-IDs): each one is looked up
/// when the message is threaded.
fn long_references() -> Vec<u8> {
    format!(
        "Message-ID: <referenzen@hostile.test>\r\nFrom: Verteiler <verteiler@hostile.test>\r\n\
         To: bauleitung@hostile.test\r\nSubject: Re: Re: Re: Rundschreiben\r\nDate: Mon, 23 Nov 2026 09:04:00 +0100\r\n\
         {}In-Reply-To: <r0@hostile.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nEine sehr lange Kette.\r\n",
        long_line("References", |n| format!("<r{n}@hostile.test>"))
    )
    .into_bytes()
}

/// 8-bit headers and bodies without a charset, unknown and invalid charsets, invalid
/// UTF-8 under `charset=utf-8`, encoded words with charsets that do not exist.
fn charsets() -> Vec<u8> {
    let mut raw = Vec::new();
    raw.extend_from_slice(b"Message-ID: <zeichensaetze@hostile.test>\r\n");
    raw.extend_from_slice(b"From: J\xfcrgen M\xfcller <jm@hostile.test>\r\n");
    raw.extend_from_slice(b"To: =?x-klingon?Q?Qapla=27?= <klingone@hostile.test>\r\n");
    raw.extend_from_slice(
        b"Subject: =?x-klingon?Q?Qapla=27?= =?utf-8?B?////?= =?nicht ein?Q?Zeichensatz?= Zeichens\xc3\xa4tze \xe4\xf6\xfc\r\n",
    );
    raw.extend_from_slice(b"Date: Mon, 23 Nov 2026 09:05:00 +0100\r\nMIME-Version: 1.0\r\n");
    raw.extend_from_slice(b"Content-Type: multipart/mixed; boundary=\"zs\"\r\n\r\n");
    raw.extend_from_slice(b"--zs\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\n");
    raw.extend_from_slice(b"Ohne Zeichensatz: Gr\xfc\xdfe aus K\xf6ln.\r\n");
    raw.extend_from_slice(b"--zs\r\nContent-Type: text/plain; charset=x-klingon\r\n\r\n");
    raw.extend_from_slice(b"Klingonisch: tlhIngan Hol \xe2\x80\x94 \xff\xfe\x80\r\n");
    raw.extend_from_slice(
        b"--zs\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n",
    );
    raw.extend_from_slice(b"Kaputtes Utf8: =C3=28 =FF =ED=A0=80 Ende.\r\n");
    raw.extend_from_slice(b"--zs\r\nContent-Type: text/plain; charset=\"\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n");
    raw.extend_from_slice(b"Leerer Zeichensatz: \xc3\x28 \xf0\x28\x8c\x28 Ende.\r\n");
    raw.extend_from_slice(b"--zs\r\nContent-Type: application/octet-stream; name=\"=?x-unbekannt?B?w6Q=?=.bin\"\r\n");
    raw.extend_from_slice(b"Content-Disposition: attachment; filename*=x-unbekannt''%FF%FE%00.bin\r\n");
    raw.extend_from_slice(b"Content-Transfer-Encoding: base64\r\n\r\nQW5oYW5n\r\n--zs--\r\n");
    raw
}

/// NUL bytes in a header field, the subject and the body.
fn nul_bytes() -> Vec<u8> {
    b"Message-ID: <nul@hostile.test>\r\nFrom: Maschine <maschine@hostile.test>\r\nTo: bauleitung@hostile.test\r\n\
Subject: Nullbyte\0im Betreff\r\nX-Null: a\0b\r\nDate: Mon, 23 Nov 2026 09:06:00 +0100\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\nVor dem Nullbyte\0nach dem Nullbyte.\r\n\0\0\0\r\nEnde.\r\n"
        .to_vec()
}

/// Every hostile message and one ordinary one, in the order they are appended.
fn hostile_messages(big_attachment: &[u8]) -> Vec<Hostile> {
    let ordinary = Mail::new(1, "Baubesprechung am Donnerstag")
        .message_id(Some("gewoehnlich@hostile.test"))
        .body("Die Baubesprechung ist am Donnerstag um 10 Uhr.\r\n");
    vec![
        Hostile::new("ordinary", Some("gewoehnlich@hostile.test"), ordinary.to_bytes()),
        Hostile::new("50 MiB", Some("gross@hostile.test"), big(big_attachment)),
        Hostile::new("10,000 parts", Some("teile@hostile.test"), many_parts()),
        Hostile::new("1,000 deep", Some("tief@hostile.test"), deep()),
        Hostile::new("1 MiB header line", Some("kopfzeile@hostile.test"), long_header()),
        Hostile::new("1 MiB References", Some("referenzen@hostile.test"), long_references()),
        Hostile::new("charsets", Some("zeichensaetze@hostile.test"), charsets()),
        Hostile::new("NUL bytes", Some("nul@hostile.test"), nul_bytes()),
        Hostile::new("empty header", None, b"\r\nNur ein Text, ohne eine einzige Kopfzeile.\r\n".to_vec()),
        Hostile::new(
            "only a body",
            None,
            b"Nur ein Text ohne Kopfzeilen und ohne Leerzeile davor.\r\nZweite Zeile.\r\n".to_vec(),
        ),
    ]
}

/// Dovecot whose INBOX holds every message of `messages`.
fn seeded(messages: &[Hostile]) -> Dovecot {
    let dv = dovecot(DovecotConfig::default(), &[USER]);
    let mut c = dv.client(USER).unwrap();
    for m in messages {
        c.append("INBOX", &[], None, &m.raw).unwrap_or_else(|e| panic!("APPEND of {}: {e}", m.what));
    }
    c.logout().unwrap();
    dv
}

/// A process's `VmHWM` (peak resident set) and `VmRSS` in KiB.
fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Bytes of the store's files (database, WAL, shared memory).
fn store_bytes(env: &Env) -> u64 {
    std::fs::read_dir(env.path().join("data"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("postfach.sqlite3"))
        .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
        .sum()
}

/// Runs `postfachd sync --once`; returns its output, its wall time and the peak `VmHWM`
/// seen while it ran (polled, so a peak in its last milliseconds could be missed).
fn sync_once(env: &Env) -> (std::process::Output, Duration, u64) {
    let start = Instant::now();
    let mut child = Command::new(postfachd_bin())
        .arg("--config")
        .arg(env.path())
        .args(["sync", "--once"])
        .env("POSTFACH_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // The pipes are drained by threads so a chatty child never blocks on them.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut v).unwrap();
        v
    });
    let err = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut stderr, &mut v).unwrap();
        v
    });
    let mut peak = 0;
    let status = loop {
        if let Some((hwm, _)) = memory_kib(pid) {
            peak = peak.max(hwm);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "sync --once still runs after 2 minutes");
        std::thread::sleep(Duration::from_millis(10));
    };
    let output = std::process::Output { status, stdout: out.join().unwrap(), stderr: err.join().unwrap() };
    (output, start.elapsed(), peak)
}

/// Every message of the account over the API, by local id.
fn listed(api: &Api, admin: &str) -> Vec<Value> {
    let page = api.get(admin, &format!("/v1/messages?account={ACCOUNT}&limit=500")).ok();
    page["items"].as_array().unwrap().clone()
}

/// GETs `path` and returns the answer with the time it took.
fn timed_get(api: &Api, admin: &str, path: &str) -> (Reply, Duration) {
    let start = Instant::now();
    let reply = api.get(admin, path);
    (reply, start.elapsed())
}

/// The longest an API answer about one message may take. A debug build answers the
/// 50 MiB message's detail in about a second on an idle machine; this leaves room for a
/// loaded CI runner and still fails a request that hangs or goes quadratic.
const ANSWER_BOUND: Duration = Duration::from_secs(20);

/// The most resident memory a process may have used for the hostile mailbox: 8 × the
/// 50 MiB message. Measured (debug build): about 200 MiB for `sync --once` and for the
/// daemon, which rests at about 41 MiB; the other 160 MiB fit the largest message held
/// in about three copies at once (by the code: async-imap's read buffer, the copy handed
/// to the store, SQLite's record of the blob) plus its decoded attachment while it is
/// indexed. Twice the measured peak leaves room for allocator noise and still fails
/// anything that grows with the whole mailbox or holds a batch in several copies.
const PEAK_BOUND_KIB: u64 = 400 * 1024;

#[test]
fn a_mailbox_of_hostile_mail_syncs_completely_and_every_message_answers_over_the_api() {
    let attachment = big_attachment();
    let messages = hostile_messages(&attachment);
    let dv = seeded(&messages);

    // What Dovecot serves for the NUL message is the appended bytes with NUL as 0x80.
    let mut c = dv.client(USER).unwrap();
    c.select("INBOX").unwrap();
    let nul_uid = messages.iter().position(|m| m.what == "NUL bytes").unwrap() as u32 + 1;
    let nul = messages.iter().find(|m| m.what == "NUL bytes").unwrap();
    assert_eq!(c.body(nul_uid).unwrap(), nul.served(), "Dovecot's BODY[] of the NUL message");
    c.logout().unwrap();

    let env = Env::new();
    env.write_account(ACCOUNT, &account_toml(&dv, USER, ""));
    let (out, took, peak) = sync_once(&env);
    assert!(
        out.status.success(),
        "sync --once failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(peak < PEAK_BOUND_KIB, "sync --once peak RSS {:.1} MiB", mib(peak));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("{ACCOUNT}: {} new", messages.len())), "{stdout}");
    let total: usize = messages.iter().map(|m| m.raw.len()).sum();
    for m in &messages {
        eprintln!("hostile mail: {:<18} {:>10} bytes", m.what, m.raw.len());
    }
    eprintln!(
        "hostile mail: sync --once of {} messages ({:.1} MiB) took {:.2} s, peak RSS {:.1} MiB, store {:.1} MiB",
        messages.len(),
        total as f64 / 1048576.0,
        took.as_secs_f64(),
        mib(peak),
        store_bytes(&env) as f64 / 1048576.0
    );

    // The command line lists each message exactly once.
    let cli = env.messages(ACCOUNT);
    assert_eq!(cli.len(), messages.len(), "{:#}", Value::Array(cli.iter().map(|m| m["message_id"].clone()).collect()));
    let mut ids: Vec<Option<String>> = cli.iter().map(|m| m["message_id"].as_str().map(str::to_owned)).collect();
    ids.sort();
    let mut wanted: Vec<Option<String>> = messages.iter().map(|m| m.message_id.map(str::to_owned)).collect();
    wanted.sort();
    assert_eq!(ids, wanted);
    // A second pass finds nothing new.
    let again = env.ok(&["sync", "--once"]);
    assert!(again.contains(&format!("{ACCOUNT}: 0 new")), "{again}");
    assert_eq!(env.messages(ACCOUNT).len(), messages.len());

    // Through the daemon's API: every message's raw source is what Dovecot serves, its
    // detail answers, and so do its attachments (the first, one in the middle, the last).
    let admin = token(&env, &["--user", "root", "--admin"]);
    let daemon = env.daemon();
    let api = Api::of(&env, &daemon);
    let items = listed(&api, &admin);
    assert_eq!(items.len(), messages.len());
    let served: Vec<Vec<u8>> = messages.iter().map(Hostile::served).collect();
    let mut matched = vec![false; messages.len()];
    let mut downloads: BTreeMap<(&str, String), Vec<u8>> = BTreeMap::new();
    let mut times: Vec<(String, &str, Duration, usize)> = Vec::new();
    let mut details: BTreeMap<&str, Value> = BTreeMap::new();
    for item in &items {
        let id = item["local_id"].as_i64().unwrap();
        let (raw, t) = timed_get(&api, &admin, &format!("/v1/messages/{id}/raw"));
        assert_eq!(raw.status, 200, "raw of {item}");
        assert_eq!(raw.content_type, "message/rfc822");
        let which = served
            .iter()
            .position(|s| *s == raw.body)
            .unwrap_or_else(|| panic!("the raw source of {item} is none of the appended messages"));
        assert!(!std::mem::replace(&mut matched[which], true), "{} listed twice", messages[which].what);
        let what = messages[which].what;
        times.push(("raw".into(), what, t, raw.body.len()));

        let (detail, t) = timed_get(&api, &admin, &format!("/v1/messages/{id}"));
        assert_eq!(detail.status, 200, "detail of {what}: {}", String::from_utf8_lossy(&detail.body));
        times.push(("detail".into(), what, t, detail.body.len()));
        let detail = detail.json();
        let attachments = detail["attachments"].as_array().unwrap().clone();
        let picks: Vec<&Value> = match attachments.len() {
            0 => vec![],
            n => {
                let mut p = vec![&attachments[0], &attachments[n / 2], &attachments[n - 1]];
                p.dedup_by(|a, b| a["id"] == b["id"]);
                p
            }
        };
        for a in picks {
            let aid = a["id"].as_str().unwrap();
            let (got, t) = timed_get(&api, &admin, &format!("/v1/messages/{id}/attachments/{aid}"));
            assert_eq!(got.status, 200, "attachment {aid} of {what}: {}", String::from_utf8_lossy(&got.body));
            assert_eq!(got.body.len() as u64, a["size"].as_u64().unwrap(), "attachment {aid} of {what}");
            times.push((
                format!("attachment {}", if aid.len() > 12 { "1.1.….2" } else { aid }),
                what,
                t,
                got.body.len(),
            ));
            downloads.insert((what, aid.to_owned()), got.body);
        }
        details.insert(what, detail);
    }
    assert!(matched.iter().all(|m| *m), "every appended message is listed");
    for (endpoint, what, t, bytes) in &times {
        eprintln!("hostile mail: GET {endpoint:<20} {what:<18} {:>7} ms {bytes:>10} bytes", t.as_millis());
        assert!(*t < ANSWER_BOUND, "{endpoint} of {what} took {t:?}");
    }

    // What each one shows.
    let big = &details["50 MiB"];
    assert_eq!(big["attachments"].as_array().unwrap().len(), 1);
    assert_eq!(big["attachments"][0]["size"], attachment.len());
    assert!(big["text"].as_str().unwrap().contains("Punktwolke"));
    let got = &downloads[&("50 MiB", "2".to_owned())];
    assert!(*got == attachment, "the 50 MiB message's attachment, decoded, byte for byte");
    let parts = &details["10,000 parts"];
    let listed_parts = parts["attachments"].as_array().unwrap();
    assert_eq!(listed_parts.len(), PARTS / 2 - 1, "every odd part from 3 on is an attachment");
    assert_eq!(listed_parts[0]["filename"], "teil-00003.bin");
    assert_eq!(listed_parts.last().unwrap()["id"], (PARTS - 1).to_string());
    assert_eq!(downloads[&("10,000 parts", (PARTS - 1).to_string())], format!("Teil {}", PARTS - 1).as_bytes());
    assert!(parts["text"].as_str().unwrap().contains("Zehntausend Teile"));
    let deep = &details["1,000 deep"];
    assert!(deep["text"].as_str().unwrap_or("").contains("Ganz unten angekommen"), "{deep}");
    assert_eq!(deep["attachments"][0]["id"], deep_attachment_id());
    assert_eq!(downloads[&("1,000 deep", deep_attachment_id())], b"Grund");
    let references = long_references();
    let line = references.split(|b| *b == b'\n').find(|l| l.starts_with(b"References:")).unwrap();
    let count = line.windows(2).filter(|w| w == b"<r").count();
    assert!(count > 45_000, "{count}");
    assert_eq!(details["1 MiB References"]["references"].as_array().unwrap().len(), count, "every reference kept");
    assert!(details["1 MiB header line"]["text"].as_str().unwrap().contains("nach der langen Kopfzeile"));
    let charset = details["charsets"]["text"].as_str().unwrap();
    for words in ["Ohne Zeichensatz", "Klingonisch", "Kaputtes Utf8", "Leerer Zeichensatz"] {
        assert!(charset.contains(words), "{words} in {charset}");
    }
    assert!(details["NUL bytes"]["text"].as_str().unwrap().contains("nach dem Nullbyte"));
    assert_eq!(details["NUL bytes"]["subject"], "Nullbyte\u{fffd}im Betreff", "0x80 from Dovecot, shown as U+FFFD");
    assert_eq!(details["empty header"]["text"].as_str().unwrap().trim(), "Nur ein Text, ohne eine einzige Kopfzeile.");
    // Without a header section the whole message is the body (it used to show no text).
    let body_only = details["only a body"]["text"].as_str().unwrap_or("");
    assert!(
        body_only.starts_with("Nur ein Text ohne Kopfzeilen") && body_only.contains("Zweite Zeile"),
        "{body_only:?}"
    );
    for m in ["empty header", "only a body"] {
        assert!(details[m]["subject"].is_null() && details[m]["message_id"].is_null(), "{}", details[m]);
    }

    // Search still answers, and finds words of the hostile messages.
    let found = |q: &str| -> Vec<String> {
        let r = api.get(&admin, &format!("/v1/search?q={q}&limit=50")).ok();
        r["items"].as_array().unwrap().iter().map(|m| m["message_id"].as_str().unwrap_or("-").to_owned()).collect()
    };
    assert_eq!(found("Baubesprechung"), ["gewoehnlich@hostile.test"]);
    assert_eq!(found("Punktwolke"), ["gross@hostile.test"]);
    assert_eq!(found("Zehntausend"), ["teile@hostile.test"]);
    assert_eq!(found("angekommen"), ["tief@hostile.test"]);
    assert_eq!(found("Klingonisch"), ["zeichensaetze@hostile.test"]);
    assert_eq!(found("Nullbyte"), ["nul@hostile.test"]);
    assert_eq!(found("einzige"), ["-"], "the message with an empty header");
    assert_eq!(found("Leerzeile"), ["-"], "the message that is only a body");
    drop(daemon);
}

#[test]
fn the_daemons_memory_stays_bounded_while_it_syncs_and_serves_hostile_mail() {
    let attachment = big_attachment();
    let messages = hostile_messages(&attachment);
    let dv = seeded(&messages);
    drop(attachment);

    // The daemon starts without the account, so its resting size is known first.
    let env = Env::new();
    let admin = token(&env, &["--user", "root", "--admin"]);
    let daemon = env.daemon();
    let api = Api::of(&env, &daemon);
    api.get(&admin, "/v1/accounts").ok();
    let (resting, _) = memory_kib(daemon.pid()).unwrap();

    let start = Instant::now();
    env.write_account(ACCOUNT, &account_toml(&dv, USER, ""));
    daemon.wait_for("the hostile mailbox synced", Duration::from_secs(120), || {
        let account = api.get(&admin, &format!("/v1/accounts/{ACCOUNT}"));
        let idle = account.status.is_success() && account.json()["state"] == "idle";
        (idle && listed(&api, &admin).len() == messages.len()).then_some(())
    });
    let took = start.elapsed();
    let (after_sync, rss_after_sync) = memory_kib(daemon.pid()).unwrap();

    // Serving the 50 MiB message: its detail, its source and its attachment.
    let id = listed(&api, &admin).iter().find(|m| m["message_id"] == "gross@hostile.test").unwrap()["local_id"]
        .as_i64()
        .unwrap();
    for path in
        [format!("/v1/messages/{id}"), format!("/v1/messages/{id}/raw"), format!("/v1/messages/{id}/attachments/2")]
    {
        let (reply, t) = timed_get(&api, &admin, &path);
        assert_eq!(reply.status, 200, "{path}");
        eprintln!("hostile mail: daemon GET {path} {} ms", t.as_millis());
    }
    let (after_api, rss_after_api) = memory_kib(daemon.pid()).unwrap();
    eprintln!(
        "hostile mail: daemon synced in {:.2} s; VmHWM resting {:.1} MiB, after the sync {:.1} MiB (VmRSS {:.1}), \
         after serving the 50 MiB message {:.1} MiB (VmRSS {:.1}); store {:.1} MiB",
        took.as_secs_f64(),
        mib(resting),
        mib(after_sync),
        mib(rss_after_sync),
        mib(after_api),
        mib(rss_after_api),
        store_bytes(&env) as f64 / 1048576.0
    );
    assert!(after_api < PEAK_BOUND_KIB, "peak RSS {:.1} MiB", mib(after_api));
}

/// Folder names as Dovecot keeps them (valid modified UTF-7) and as the relay sends them:
/// an unescaped `&`, raw UTF-8, and a shift that never ends.
const NAMES: &[(&str, &str)] = &[("Q&-A Bau", "Q&A Bau"), ("B&APw-ro", "Büro"), ("Jjo kaputt", "&Jjo")];

/// A valid name the relay leaves alone, which decodes to what `&Jjo` is shown as.
const TWIN: &str = "&-Jjo";

#[test]
fn folders_whose_names_are_not_valid_modified_utf7_are_listed_readably_and_synced_once() {
    let dv = dovecot(DovecotConfig::default(), &[USER]);
    let mut c = dv.client(USER).unwrap();
    let folders: Vec<&str> = NAMES.iter().map(|(d, _)| *d).chain([TWIN]).collect();
    for (n, dovecot_name) in folders.iter().enumerate() {
        c.create(dovecot_name).unwrap();
        for k in 0..2 {
            let mail = Mail::new(10 * n + k, &format!("Ordner {n} Nachricht {k}"));
            c.append(dovecot_name, &[], None, &mail.to_bytes()).unwrap();
        }
    }
    c.append("INBOX", &[], None, &Mail::new(99, "Im Posteingang").to_bytes()).unwrap();
    c.logout().unwrap();
    let relay = NameRelay::start(([127, 0, 0, 1], dv.imap_port).into(), NAMES);

    // The relay's LIST answer really carries the invalid names.
    let mut seen = postfach_test_harness::ImapClient::connect(("127.0.0.1", relay.port)).unwrap();
    seen.login(USER, crate::support::PASSWORD).unwrap();
    let raw: Vec<String> = seen.list().unwrap().into_iter().map(|l| l.raw).collect();
    for (_, sent) in NAMES {
        assert!(raw.iter().any(|r| r == sent), "{sent} in {raw:?}");
        // The decoder takes raw UTF-8 as it is; the other two it refuses.
        assert!(postfach_imap::decode_mailbox_name(sent).is_err() || !sent.is_ascii(), "{sent}");
    }
    assert!(raw.iter().any(|r| r == TWIN), "{raw:?}");
    seen.logout().unwrap();

    let env = Env::new();
    env.write_account(ACCOUNT, &account_toml_via(&dv, USER, relay.port, ""));
    let out = env.ok(&["sync", "--once"]);
    assert!(out.contains(&format!("{ACCOUNT}: 9 new")), "{out}");
    let listed = env.json(&["folders", ACCOUNT]);
    let folder = |raw: &str| -> Value {
        let all = listed.as_array().unwrap();
        all.iter().find(|f| f["raw"] == raw).cloned().unwrap_or_else(|| panic!("no folder {raw} in {listed:#}"))
    };
    for (n, (_, sent)) in NAMES.iter().enumerate() {
        let f = folder(sent);
        assert_eq!(f["name"], *sent, "shown as the server sent it: {f}");
        assert_eq!(f["path"], serde_json::json!([sent]), "{f}");
        assert_eq!(f["messages"], 2, "{f}");
        if *sent != "&Jjo" {
            assert_eq!(
                env.subjects(ACCOUNT, Some(sent)),
                [format!("Ordner {n} Nachricht 0"), format!("Ordner {n} Nachricht 1")]
            );
        }
    }
    // Two folders on the server, one name on screen: both kept apart in the store, and
    // the name lists the mail of both.
    let twin = folder(TWIN);
    assert_eq!(twin["name"], "&Jjo", "{twin}");
    assert_eq!(twin["messages"], 2, "{twin}");
    assert_eq!(
        env.subjects(ACCOUNT, Some("&Jjo")),
        ["Ordner 2 Nachricht 0", "Ordner 2 Nachricht 1", "Ordner 3 Nachricht 0", "Ordner 3 Nachricht 1"]
    );

    // Again: nothing new, nothing twice.
    let out = env.ok(&["sync", "--once"]);
    assert!(out.contains(&format!("{ACCOUNT}: 0 new")), "{out}");
    assert_eq!(env.messages(ACCOUNT).len(), 9);
    drop(relay);
}

/// A relay in front of Dovecot's plain IMAP port that plays a server with folder names
/// that are not valid modified UTF-7: in every line from the server it replaces
/// Dovecot's names by the hostile ones, in every line from the client the other way
/// round. Literals (message bodies) pass untouched. Stops accepting on drop.
struct NameRelay {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl NameRelay {
    fn start(target: SocketAddr, names: &'static [(&'static str, &'static str)]) -> NameRelay {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let down: Vec<(Vec<u8>, Vec<u8>)> =
            names.iter().map(|(d, h)| (d.as_bytes().into(), h.as_bytes().into())).collect();
        let up: Vec<(Vec<u8>, Vec<u8>)> =
            names.iter().map(|(d, h)| (h.as_bytes().into(), d.as_bytes().into())).collect();
        std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let Ok(server) = TcpStream::connect(target) else { continue };
                        let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                        let (down, up) = (down.clone(), up.clone());
                        std::thread::spawn(move || pump(server, c2, &down));
                        std::thread::spawn(move || pump(client, s2, &up));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        NameRelay { port, stop }
    }
}

impl Drop for NameRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Copies lines from `from` to `to`, rewriting names per `map`, and the literals a line
/// announces (`{n}`, `{n+}`) verbatim.
fn pump(from: TcpStream, mut to: TcpStream, map: &[(Vec<u8>, Vec<u8>)]) {
    let mut from = BufReader::new(from);
    loop {
        let mut line = Vec::new();
        if from.read_until(b'\n', &mut line).unwrap_or(0) == 0 {
            let _ = to.shutdown(std::net::Shutdown::Both);
            return;
        }
        let literal = literal_len(&line);
        for (a, b) in map {
            line = replace(&line, a, b);
        }
        if to.write_all(&line).is_err() {
            return;
        }
        if let Some(n) = literal {
            let mut data = vec![0; n];
            if std::io::Read::read_exact(&mut from, &mut data).is_err() || to.write_all(&data).is_err() {
                return;
            }
        }
    }
}

fn literal_len(line: &[u8]) -> Option<usize> {
    let body = line.strip_suffix(b"\r\n")?.strip_suffix(b"}")?;
    let open = body.iter().rposition(|b| *b == b'{')?;
    std::str::from_utf8(&body[open + 1..]).ok()?.trim_end_matches('+').parse().ok()
}

fn replace(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

#[test]
fn the_generated_messages_have_the_sizes_they_claim() {
    let attachment = big_attachment();
    let big = big(&attachment);
    assert!(big.len() > 50 << 20, "{}", big.len());
    let parts = many_parts();
    assert_eq!(parts.windows(8).filter(|w| w == b"--teil\r\n").count(), PARTS);
    let deep = deep();
    assert_eq!(deep.windows(25).filter(|w| w.starts_with(b"Content-Type: multipart/")).count(), DEPTH);
    for raw in [long_header(), long_references()] {
        assert!(raw.split(|b| *b == b'\n').any(|l| l.len() + 1 == LINE), "one line of exactly 1 MiB");
    }
}

/// `[sync] max_message_mib`: a message over the limit stays on the server, named in the
/// account's status with its size; the rest of the folder is stored, in the daemon and in
/// `sync --once` alike, and raising the limit fetches it.
#[test]
fn a_message_over_max_message_mib_is_left_on_the_server_and_named_in_the_status() {
    let dv = dovecot(DovecotConfig::default(), &[USER]);
    let mut client = dv.client(USER).unwrap();
    client.append("INBOX", &[], None, &Mail::new(1, "Klein").to_bytes()).unwrap();
    let line = "Bestandsplan Geschoss 2, Achse A bis F, Maßstab 1:50, Revision C.............\r\n";
    let large = Mail::new(2, "Groß").body(&line.repeat((3 << 20) / line.len())).to_bytes();
    client.append("INBOX", &[], None, &large).unwrap();
    client.append("INBOX", &[], None, &Mail::new(3, "Auch klein").to_bytes()).unwrap();
    let env = Env::new();
    let file = account_toml(&dv, USER, "[sync]\nmax_message_mib = 1\n");
    env.write_account(ACCOUNT, &file);
    let out = env.run(&["sync", ACCOUNT, "--once"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(env.subjects(ACCOUNT, None), ["Auch klein", "Klein"]);
    let note = env.account(ACCOUNT)["last_error"].as_str().unwrap_or("").to_owned();
    assert!(
        note.contains("INBOX: 1 message not fetched (UID 2: 4 MiB, over the limit of 1 MiB ([sync] max_message_mib); left on the server)"),
        "{note}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("max_message_mib"), "sync --once does not say it");
    // The running daemon says the same, and fetches it once the limit allows.
    let daemon = env.daemon();
    daemon.wait_for("the note", Duration::from_secs(60), || {
        let a = env.account(ACCOUNT);
        (a["state"] == "idle" && a["last_error"].as_str().unwrap_or("").contains("UID 2: 4 MiB")).then_some(())
    });
    env.write_account(ACCOUNT, &file.replace("max_message_mib = 1", "max_message_mib = 8"));
    daemon.wait_for("the large message", Duration::from_secs(60), || {
        (env.subjects(ACCOUNT, None) == ["Auch klein", "Groß", "Klein"]).then_some(())
    });
    assert_eq!(env.messages(ACCOUNT).len(), 3);
}
