//! Latencies of the running daemon, read from its store: a message appended on the server
//! until it is stored and routed (the IDLE path), and an account file changed until the
//! account runs with the new settings.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use postfach_test_harness::mail::Mail;
use postfach_test_harness::{Dovecot, DovecotConfig};

use crate::corpus::{median, percentile};
use crate::{Bins, Table};

const USER: &str = "mm@muster-architekten.de";
const PASSWORD: &str = "Bench-Passwort-1";

fn account(dv: &Dovecot, description: &str) -> String {
    format!(
        "description = \"{description}\"\n[identity]\nemail = \"{USER}\"\n[imap]\nhost = \"127.0.0.1\"\nport = {}\n\
         security = \"tls\"\npassword = \"{PASSWORD}\"\ntls_ca_file = \"{}\"\n[sync]\ninterval_secs = 3600\n\
         [routing]\nplugins = [\"projektpro-folders\", \"subject-tag\", \"sender-map\", \"thread-follow\"]\n",
        dv.imaps_port,
        dv.ca_file().display()
    )
}

struct Daemon {
    child: Child,
    config: PathBuf,
    _dir: tempfile::TempDir,
}

impl Daemon {
    fn start(bins: &Bins, dv: &Dovecot) -> anyhow::Result<Daemon> {
        let dir = tempfile::Builder::new().prefix("postfach-latency-").tempdir()?;
        let config = dir.path().to_owned();
        std::fs::create_dir_all(config.join("accounts"))?;
        std::fs::write(config.join("postfach.toml"), "data_dir = \"data\"\n[api]\nlisten = \"127.0.0.1:0\"\n")?;
        write_atomically(&config.join("accounts/mm.toml"), &account(dv, "Konto 0"))?;
        let child = Command::new(&bins.postfachd)
            .arg("--config")
            .arg(&config)
            .arg("run")
            .env("POSTFACH_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(config.join("daemon.log"))?)
            .spawn()?;
        let d = Daemon { child, config, _dir: dir };
        d.wait("the first pass", Duration::from_secs(60), |db| {
            db.query_row("SELECT state FROM accounts WHERE id = 'mm'", [], |r| r.get::<_, String>(0))
                .ok()
                .filter(|s| s == "idle")
        })?;
        Ok(d)
    }

    fn db(&self) -> Option<rusqlite::Connection> {
        rusqlite::Connection::open(self.config.join("data/postfach.sqlite3")).ok()
    }

    /// Polls the store every millisecond until `f` answers.
    fn wait<T>(
        &self,
        what: &str,
        limit: Duration,
        f: impl Fn(&rusqlite::Connection) -> Option<T>,
    ) -> anyhow::Result<T> {
        let started = Instant::now();
        let mut db = None;
        while started.elapsed() < limit {
            if db.is_none() {
                db = self.db();
            }
            if let Some(v) = db.as_ref().and_then(&f) {
                return Ok(v);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        bail!("{what}: nothing after {limit:?}; daemon log in {}", self.config.join("daemon.log").display())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        postfach_test_harness::terminate(&mut self.child, Duration::from_secs(30));
    }
}

fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp~");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn summary(samples_ms: &[f64]) -> Table {
    let mut t = Table::new(&["samples", "p50 ms", "p90 ms", "p99 ms", "max ms"]);
    t.row(vec![
        samples_ms.len().to_string(),
        format!("{:.1}", median(samples_ms)),
        format!("{:.1}", percentile(samples_ms, 90.0)),
        format!("{:.1}", percentile(samples_ms, 99.0)),
        format!("{:.1}", percentile(samples_ms, 100.0)),
    ]);
    t
}

/// A second client IDLEing on the inbox: when the server itself reports new mail.
/// Dovecot holds IDLE notifications back for 500 ms to batch changes
/// (`NOTIFY_DELAY_MSECS` in its index-mailbox-check.c), which every client waits out.
/// The timer starts at the first change the connection sees, so the watcher is opened
/// afresh for each sample: a long-lived one has its timer started early by the daemon's
/// own activity and hears of new mail sooner than any client that was just waiting.
fn watch_exists(dv: &Dovecot) -> anyhow::Result<Receiver<Instant>> {
    let stream = TcpStream::connect(("127.0.0.1", dv.imap_port))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    let mut expect = |reader: &mut BufReader<TcpStream>, tag: &str| -> anyhow::Result<()> {
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                bail!("the watching client lost its connection");
            }
            if line.starts_with(tag) {
                return Ok(());
            }
        }
    };
    expect(&mut reader, "* OK")?;
    write!(writer, "a LOGIN \"{USER}\" \"{PASSWORD}\"\r\nb SELECT INBOX\r\nc IDLE\r\n")?;
    expect(&mut reader, "a OK")?;
    expect(&mut reader, "b OK")?;
    expect(&mut reader, "+ ")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
            if line.ends_with("EXISTS\r\n") && tx.send(Instant::now()).is_err() {
                break;
            }
            line.clear();
        }
        drop(writer);
    });
    Ok(rx)
}

/// Appends `n` messages one by one and times each until it is stored and routed, next to
/// the moment the server announced it to an IDLEing client.
pub fn push(bins: &Bins, n: usize) -> anyhow::Result<Table> {
    let dv = Dovecot::start(DovecotConfig::default().user(USER, PASSWORD))?;
    let daemon = Daemon::start(bins, &dv)?;
    let mut c = dv.client(USER)?;
    std::thread::sleep(Duration::from_millis(500));
    let (mut total, mut server, mut ours) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let raw = Mail::new(100_000 + i, &format!("[P-210-01] Latenz {i}")).to_bytes();
        let message_id = format!("msg-{}@fixture.postfach.test", 100_000 + i);
        let announced = watch_exists(&dv)?;
        let started = Instant::now();
        c.append("INBOX", &[], None, &raw)?;
        daemon.wait("stored and routed", Duration::from_secs(30), |db| {
            db.query_row(
                "SELECT 1 FROM messages m JOIN assignments a ON a.message = m.id WHERE m.message_id = ?1",
                [&message_id],
                |r| r.get::<_, i64>(0),
            )
            .ok()
        })?;
        let done = Instant::now();
        let told = announced.recv_timeout(Duration::from_secs(30)).context("the IDLEing client heard nothing")?;
        total.push(ms(done - started));
        server.push(ms(told.saturating_duration_since(started)));
        ours.push(ms(done.saturating_duration_since(told)));
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("latency: {} appends measured", total.len());
    let mut t = Table::new(&["span", "p50 ms", "p90 ms", "p99 ms", "max ms"]);
    for (name, samples) in [
        ("APPEND → stored and routed (total)", &total),
        ("APPEND → server announces it in IDLE (Dovecot)", &server),
        ("announced → stored and routed (postfachd)", &ours),
    ] {
        t.row(vec![
            name.to_owned(),
            format!("{:.1}", median(samples)),
            format!("{:.1}", percentile(samples, 90.0)),
            format!("{:.1}", percentile(samples, 99.0)),
            format!("{:.1}", percentile(samples, 100.0)),
        ]);
    }
    Ok(t)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Rewrites the account file `n` times and times each until the account runs with it.
pub fn reload(bins: &Bins, n: usize) -> anyhow::Result<Table> {
    let dv = Dovecot::start(DovecotConfig::default().user(USER, PASSWORD))?;
    let daemon = Daemon::start(bins, &dv)?;
    let file = daemon.config.join("accounts/mm.toml");
    let mut samples = Vec::with_capacity(n);
    for i in 1..=n {
        let description = format!("Konto {i}");
        let started = Instant::now();
        write_atomically(&file, &account(&dv, &description)).context("writing the account file")?;
        daemon.wait("the new description", Duration::from_secs(30), |db| {
            db.query_row("SELECT description FROM accounts WHERE id = 'mm'", [], |r| r.get::<_, String>(0))
                .ok()
                .filter(|d| *d == description)
        })?;
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("reload: {} changes measured", samples.len());
    Ok(summary(&samples))
}
