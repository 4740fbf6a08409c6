//! A deterministic mailbox of realistic messages: log-normal sizes (median about 4 KB, a
//! long tail of attachments), German business senders and subjects, threads, project tags
//! in some subjects, Received chains, MIME structure. The same seed gives the same bytes.

use postfach_test_harness::mail::encode_word;
use std::fmt::Write as _;

/// Parameters of a corpus.
#[derive(Debug, Clone, Copy)]
pub struct Corpus {
    /// Number of messages.
    pub count: usize,
    /// Median size in bytes.
    pub median: f64,
    /// Spread of ln(size).
    pub sigma: f64,
    /// PRNG seed.
    pub seed: u64,
}

impl Corpus {
    /// The initial-sync corpus of `count` messages.
    pub fn realistic(count: usize) -> Self {
        Corpus { count, median: 4096.0, sigma: 1.0, seed: 20261123 }
    }
}

const SENDERS: &[&str] = &[
    "Bauunternehmung Kraft <info@kraft-bau.de>",
    "Ingenieurbüro Statik <buero@statik-plan.de>",
    "Stadt Musterstadt – Bauamt <bauamt@musterstadt.de>",
    "Elektro Licht GmbH <service@elektro-licht.de>",
    "Max Mustermann <mm@muster-architekten.de>",
    "Schulverwaltung Süd <verwaltung@schule-sued.de>",
    "Newsletter Baustoffe <news@baustoffe.example>",
    "Rechtsanwälte Schmidt & Partner <kanzlei@ra-schmidt.de>",
    "Dachdeckerei Hoch <auftrag@hoch-dach.de>",
    "Vermessungsbüro Winkel <info@winkel-vermessung.de>",
];

const TOPICS: &[&str] = &[
    "Angebot Fenster",
    "Statischer Nachweis Tiefgarage",
    "Bauantrag Nachforderung",
    "Bauzeitenplan",
    "Rechnung Abschlag",
    "Protokoll Baubesprechung",
    "Bewehrungspläne Haus B",
    "Mängelanzeige Fassade",
    "Terminvorschlag",
    "Nachtrag Beleuchtung Außenanlage",
    "Brandschutzkonzept",
    "Lieferschein Beton",
];

const PROJECTS: &[&str] = &["210-01", "211-07", "212-03", "209-11"];

const WORDS: &[&str] = &[
    "der",
    "die",
    "das",
    "Baustelle",
    "Termin",
    "bitte",
    "Unterlagen",
    "Plan",
    "Abnahme",
    "wir",
    "Ihnen",
    "anbei",
    "freundlichen",
    "Grüßen",
    "Prüfung",
    "Ausführung",
    "Frist",
    "Kosten",
    "Angebot",
    "Nachweis",
    "Statik",
    "Genehmigung",
    "Zeichnung",
    "Revision",
    "Fassade",
    "Dach",
    "Keller",
    "Tiefgarage",
    "Fenster",
    "Haus",
];

/// A standard normal sample (Box–Muller).
fn normal(rng: &mut fastrand::Rng) -> f64 {
    let u1 = rng.f64().max(f64::MIN_POSITIVE);
    let u2 = rng.f64();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn body_text(rng: &mut fastrand::Rng, bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 100);
    let mut line = 0;
    while out.len() < bytes {
        let w = WORDS[rng.usize(..WORDS.len())];
        out.push_str(w);
        line += w.len() + 1;
        if line > 68 {
            out.push_str("\r\n");
            line = 0;
        } else {
            out.push(' ');
        }
    }
    out.push_str("\r\n");
    out
}

fn base64_block(rng: &mut fastrand::Rng, bytes: usize) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes + bytes / 76 * 2);
    let mut col = 0;
    for _ in 0..bytes {
        out.push(char::from(B64[rng.usize(..64)]));
        col += 1;
        if col == 76 {
            out.push_str("\r\n");
            col = 0;
        }
    }
    out.push_str("\r\n");
    out
}

impl Corpus {
    /// Every message, in order.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        self.iter().collect()
    }

    /// The messages one at a time, in order: the same bytes as [`Corpus::messages`]
    /// without holding the whole mailbox in memory (100,000 messages are about 1 GB).
    pub fn iter(&self) -> Messages {
        Messages { corpus: *self, rng: fastrand::Rng::with_seed(self.seed), next: 0 }
    }

    /// The Message-ID (without angle brackets) of message `n`.
    fn id(&self, n: usize) -> String {
        format!("bench-{n}-{}@postfach.bench", self.seed)
    }

    /// Message `n`; a reply refers to one of the 200 messages before it.
    fn message(&self, rng: &mut fastrand::Rng, n: usize, size: usize) -> Vec<u8> {
        let from = SENDERS[rng.usize(..SENDERS.len())];
        let mut subject = TOPICS[rng.usize(..TOPICS.len())].to_owned();
        if rng.u8(..) < 64 {
            subject = format!("[P-{}] {subject}", PROJECTS[rng.usize(..PROJECTS.len())]);
        }
        let reply = n > 0 && rng.u8(..) < 80;
        if reply {
            subject = format!("Re: {subject}");
        }
        let day = 1 + (n % 28);
        let mut h = String::new();
        for hop in 0..(2 + rng.usize(..3)) {
            let _ = write!(
                h,
                "Received: from mx{hop}.example.net (mx{hop}.example.net [192.0.2.{}])\r\n\tby mail.postfach.bench with ESMTPS id {:016x}\r\n\tfor <mm@muster-architekten.de>; Mon, {day} Nov 2026 08:{:02}:00 +0100\r\n",
                rng.u8(1..250),
                rng.u64(..),
                n % 60
            );
        }
        let _ = write!(h, "Message-ID: <{}>\r\n", self.id(n));
        let _ = write!(h, "Date: Mon, {day} Nov 2026 08:{:02}:{:02} +0100\r\n", n % 60, (n / 60) % 60);
        let _ = write!(h, "From: {from}\r\nTo: Max Mustermann <mm@muster-architekten.de>\r\n");
        if rng.u8(..) < 60 {
            let _ = write!(h, "Cc: {}\r\n", SENDERS[rng.usize(..SENDERS.len())]);
        }
        let _ = write!(h, "Subject: {}\r\n", encode_word(&subject));
        if reply {
            let parent = self.id(rng.usize(n.saturating_sub(200)..n));
            let _ = write!(h, "In-Reply-To: <{parent}>\r\nReferences: <{parent}>\r\n");
        }
        h.push_str("MIME-Version: 1.0\r\nX-Mailer: Postfach-Bench\r\n");
        let text_len = size.saturating_sub(h.len() + 200).max(200);
        let raw = if size > 12_000 {
            // Larger messages carry an attachment, as they do in real mailboxes.
            let boundary = format!("=_bench_{n}");
            let text = body_text(rng, 600);
            let attachment = base64_block(rng, text_len.saturating_sub(900) * 3 / 4 * 4 / 3);
            format!(
                "{h}Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{text}--{boundary}\r\nContent-Type: application/pdf; name=\"Plan-{n}.pdf\"\r\nContent-Disposition: attachment; filename=\"Plan-{n}.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{attachment}--{boundary}--\r\n"
            )
        } else {
            format!(
                "{h}Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}",
                body_text(rng, text_len)
            )
        };
        raw.into_bytes()
    }
}

/// The messages of a [`Corpus`], generated one at a time ([`Corpus::iter`]).
pub struct Messages {
    corpus: Corpus,
    rng: fastrand::Rng,
    next: usize,
}

impl Iterator for Messages {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        let n = self.next;
        if n >= self.corpus.count {
            return None;
        }
        self.next += 1;
        let c = &self.corpus;
        let size = (c.median * (c.sigma * normal(&mut self.rng)).exp()).clamp(600.0, 4_000_000.0) as usize;
        Some(c.message(&mut self.rng, n, size))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.corpus.count - self.next;
        (left, Some(left))
    }
}

/// The median of some values (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The p-th percentile (nearest rank) of some values.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
    v[rank.min(v.len()) - 1]
}
