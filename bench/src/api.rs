//! The Integration API on a large store: a page of messages, a search for a rare word,
//! reading the event feed, webhook delivery to a local receiver, and the memory the API
//! adds under 100 concurrent clients. The store (default 1,000,000 messages) is filled
//! once with `postfachd import` from generated mbox files and kept in the target
//! directory for later runs.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use postfach_test_harness::WebhookReceiver;
use reqwest::blocking::Client;

use crate::corpus::{Corpus, median, percentile};
use crate::measure::rss_kib;
use crate::{Bins, Table};

/// Messages per generated mbox file.
const CHUNK: usize = 100_000;
/// The word only a few messages contain.
const RARE: &str = "Zwischenabnahmeprotokoll";
/// Webhook events delivered in the throughput run.
const WEBHOOK_EVENTS: i64 = 20_000;
const SECRET: &str = "whsec_YmVuY2gtd2ViaG9vay1zZWNyZXQ=";

fn db(config: &Path) -> anyhow::Result<rusqlite::Connection> {
    Ok(rusqlite::Connection::open(config.join("data/postfach.sqlite3"))?)
}

fn stored(config: &Path) -> usize {
    db(config)
        .and_then(|c| Ok(c.query_row("SELECT COUNT(*) FROM messages", [], |r| r.get::<_, i64>(0))?))
        .map_or(0, |n| n as usize)
}

/// An mbox of one chunk of the corpus; one message in every 100,000 carries the rare word.
fn mbox(chunk: usize) -> Vec<u8> {
    let corpus = Corpus { count: CHUNK, median: 1500.0, sigma: 0.6, seed: 7_000 + chunk as u64 };
    let mut out = Vec::new();
    for (i, mut raw) in corpus.messages().into_iter().enumerate() {
        if i == 777
            && let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n")
        {
            raw.splice(at + 4..at + 4, format!("{RARE} liegt bei. ").into_bytes());
        }
        out.extend_from_slice(b"From bench@postfach.bench Mon Nov 23 08:00:00 2026\n");
        for line in raw.split(|b| *b == b'\n') {
            if line.starts_with(b"From ") {
                out.push(b'>');
            }
            out.extend_from_slice(line);
            out.push(b'\n');
        }
    }
    out
}

/// The config directory with a store of `messages` messages (built once, then reused).
fn store(bins: &Bins, messages: usize) -> anyhow::Result<PathBuf> {
    let config = bins.postfachd.parent().context("no target dir")?.join(format!("bench-api-{messages}"));
    if stored(&config) >= messages {
        return Ok(config);
    }
    let _ = std::fs::remove_dir_all(&config);
    std::fs::create_dir_all(config.join("accounts"))?;
    std::fs::write(config.join("postfach.toml"), "data_dir = \"data\"\n[api]\nlisten = \"127.0.0.1:0\"\n")?;
    // A send-only account: it exists for `import` and the API, and never connects.
    std::fs::write(
        config.join("accounts/bench.toml"),
        "description = \"Bench\"\nreceive = false\nsend = false\n[identity]\nemail = \"mm@muster-architekten.de\"\n",
    )?;
    let started = Instant::now();
    for chunk in 0..messages.div_ceil(CHUNK) {
        let file = config.join("chunk.mbox");
        std::fs::write(&file, mbox(chunk))?;
        let out = Command::new(&bins.postfachd)
            .arg("--config")
            .arg(&config)
            .args(["import", "bench"])
            .arg(&file)
            .env("POSTFACH_LOG", "warn")
            .output()?;
        if !out.status.success() {
            bail!("import failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        eprintln!("api: {} messages stored ({:.0} s)", (chunk + 1) * CHUNK, started.elapsed().as_secs_f64());
    }
    let _ = std::fs::remove_file(config.join("chunk.mbox"));
    Ok(config)
}

struct Daemon {
    child: Child,
    base: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

fn start(bins: &Bins, config: &Path) -> anyhow::Result<Daemon> {
    let (child, base) = run_with_api(bins, config, &[("POSTFACH_WEBHOOK_SECRET", SECRET)])?;
    Ok(Daemon { child, base })
}

/// Starts `postfachd run` on `config` (log in `daemon.log`) with `env` added, and waits
/// until its API listens; returns the process and the API's base URL.
pub fn run_with_api(bins: &Bins, config: &Path, env: &[(&str, &str)]) -> anyhow::Result<(Child, String)> {
    let addr_file = config.join("data/api.addr");
    let _ = std::fs::remove_file(&addr_file);
    let mut child = Command::new(&bins.postfachd)
        .arg("--config")
        .arg(config)
        .arg("run")
        .env("POSTFACH_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(config.join("daemon.log"))?)
        .spawn()?;
    let started = Instant::now();
    loop {
        if let Ok(addr) = std::fs::read_to_string(&addr_file)
            && !addr.trim().is_empty()
        {
            return Ok((child, format!("http://{}", addr.trim())));
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the daemon did not start its API; see {}", config.join("daemon.log").display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An admin API token for the daemon of `config`.
pub fn token(bins: &Bins, config: &Path) -> anyhow::Result<String> {
    let out = Command::new(&bins.postfachd)
        .arg("--config")
        .arg(config)
        .args(["token", "create", "--user", "bench", "--admin", "--json"])
        .output()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).context("token create --json")?;
    Ok(v["token"].as_str().context("no token")?.to_owned())
}

/// Milliseconds of `n` sequential requests to the paths `path(i)`.
fn timings(
    client: &Client,
    base: &str,
    token: &str,
    n: usize,
    path: impl Fn(usize) -> String,
) -> anyhow::Result<Vec<f64>> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let started = Instant::now();
        let r = client.get(format!("{base}{}", path(i))).bearer_auth(token).send()?;
        let status = r.status();
        let _ = r.bytes()?;
        out.push(started.elapsed().as_secs_f64() * 1000.0);
        if !status.is_success() {
            bail!("{} answered {status}", path(i));
        }
    }
    Ok(out)
}

/// Runs the API benchmarks on a store of `messages` messages.
pub fn run(bins: &Bins, messages: usize) -> anyhow::Result<Table> {
    let config = store(bins, messages)?;
    let token = token(bins, &config)?;
    let receiver = WebhookReceiver::start(SECRET).map_err(|e| anyhow::anyhow!("{e}"))?;
    let toml = format!(
        "data_dir = \"data\"\n[api]\nlisten = \"127.0.0.1:0\"\n[[webhooks]]\nurl = \"{}\"\nsecret = {{ env = \"POSTFACH_WEBHOOK_SECRET\" }}\n",
        receiver.url()
    );
    std::fs::write(config.join("postfach.toml"), toml)?;
    let mut table = Table::new(&["measure", "result", "goal"]);
    let daemon = start(bins, &config)?;
    let client = Client::builder().timeout(Duration::from_secs(120)).build()?;
    let base = daemon.base.clone();

    // Pages of 100: the newest, and pages deep in the store (by cursor).
    let _ = timings(&client, &base, &token, 20, |_| "/v1/messages?limit=100".into())?;
    let mut rng = fastrand::Rng::with_seed(11);
    let cursors: Vec<usize> = (0..400).map(|_| rng.usize(1000..messages)).collect();
    let mut pages = timings(&client, &base, &token, 200, |_| "/v1/messages?limit=100".into())?;
    pages.extend(timings(&client, &base, &token, 400, |i| format!("/v1/messages?limit=100&cursor=m{}", cursors[i]))?);
    table.row(vec![
        format!("GET /v1/messages, page of 100 ({} requests)", pages.len()),
        format!("p50 {:.1} ms, p99 {:.1} ms", median(&pages), percentile(&pages, 99.0)),
        "p50 ≤ 5 ms, p99 ≤ 20 ms".into(),
    ]);
    let search = timings(&client, &base, &token, 50, |_| format!("/v1/search?q={RARE}"))?;
    let hits =
        client.get(format!("{base}/v1/search?q={RARE}")).bearer_auth(&token).send()?.json::<serde_json::Value>()?;
    table.row(vec![
        format!("GET /v1/search, a rare word ({} hits)", hits["items"].as_array().map_or(0, Vec::len)),
        format!("p50 {:.1} ms, p99 {:.1} ms", median(&search), percentile(&search, 99.0)),
        "p50 ≤ 50 ms".into(),
    ]);
    let common = timings(&client, &base, &token, 20, |_| "/v1/search?q=Angebot&limit=50".into())?;
    table.row(vec![
        "GET /v1/search, a common word (top 50)".into(),
        format!("p50 {:.1} ms", median(&common)),
        "–".into(),
    ]);

    // The feed: 200,000 events read a page of 1,000 at a time.
    let started = Instant::now();
    let mut after = 0i64;
    let mut read = 0usize;
    while read < 200_000 {
        let page: serde_json::Value =
            client.get(format!("{base}/v1/events?after={after}&limit=1000")).bearer_auth(&token).send()?.json()?;
        let n = page["items"].as_array().map_or(0, Vec::len);
        if n == 0 {
            break;
        }
        read += n;
        after = page["last_seq"].as_i64().unwrap_or(after);
    }
    let rate = read as f64 / started.elapsed().as_secs_f64();
    table.row(vec![
        format!("event feed read ({read} events, pages of 1,000)"),
        format!("{rate:.0} events/s"),
        "≥ 50,000 events/s".into(),
    ]);

    // Memory the API adds under 100 concurrent clients.
    std::thread::sleep(Duration::from_secs(1));
    let pid = daemon.child.id();
    let idle = rss_kib(pid).unwrap_or(0);
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut peak = idle;
    let clients: Vec<_> = (0..100)
        .map(|i| {
            let (stop, done, base, token) = (Arc::clone(&stop), Arc::clone(&done), base.clone(), token.clone());
            std::thread::spawn(move || {
                let client = Client::builder().timeout(Duration::from_secs(120)).build().ok();
                let Some(client) = client else { return };
                let mut rng = fastrand::Rng::with_seed(i);
                while !stop.load(Ordering::Relaxed) {
                    let path = match rng.u8(..4) {
                        0 => format!("/v1/search?q={RARE}"),
                        1 => format!("/v1/messages/{}", rng.usize(1..1000)),
                        _ => format!("/v1/messages?limit=100&cursor=m{}", rng.usize(1000..1_000_000)),
                    };
                    if let Ok(r) = client.get(format!("{base}{path}")).bearer_auth(&token).send()
                        && r.bytes().is_ok()
                    {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    let load_started = Instant::now();
    while load_started.elapsed() < Duration::from_secs(10) {
        peak = peak.max(rss_kib(pid).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        let _ = c.join();
    }
    let throughput = done.load(Ordering::Relaxed) as f64 / load_started.elapsed().as_secs_f64();
    table.row(vec![
        "added RSS under 100 concurrent clients (10 s of pages, searches, messages)".into(),
        format!("{:.1} MiB ({:.0} requests/s)", (peak.saturating_sub(idle)) as f64 / 1024.0, throughput),
        "report".into(),
    ]);
    drop(daemon);

    // Webhooks: move the endpoint's cursor back and time the backlog's delivery.
    {
        let conn = db(&config)?;
        conn.execute(
            "UPDATE webhook_cursors SET delivered_seq = (SELECT MAX(seq) FROM events) - ?1, state = 'ok'",
            [WEBHOOK_EVENTS],
        )?;
    }
    let before = receiver.deliveries().len();
    let started = Instant::now();
    let daemon = start(bins, &config)?;
    let wanted = before + WEBHOOK_EVENTS as usize;
    let mut first: Option<Instant> = None;
    while receiver.deliveries().len() < wanted {
        if first.is_none() && receiver.deliveries().len() > before {
            first = Some(Instant::now());
        }
        if started.elapsed() > Duration::from_secs(600) {
            bail!(
                "webhooks: only {} of {WEBHOOK_EVENTS} delivered in 10 minutes",
                receiver.deliveries().len() - before
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = first.map_or(started.elapsed(), |f| f.elapsed());
    let verified = receiver.deliveries()[before..].iter().all(|d| d.verified);
    drop(daemon);
    table.row(vec![
        format!("webhook delivery to a local receiver ({WEBHOOK_EVENTS} events, signed, one at a time)"),
        format!(
            "{:.0} events/s{}",
            WEBHOOK_EVENTS as f64 / elapsed.as_secs_f64(),
            if verified { "" } else { " (SIGNATURES WRONG)" }
        ),
        "≥ 2,000 events/s".into(),
    ]);
    let size = std::fs::metadata(config.join("data/postfach.sqlite3")).map_or(0, |m| m.len());
    table.row(vec![
        format!("store: {} messages", stored(&config)),
        format!("{:.1} GiB", size as f64 / (1u64 << 30) as f64),
        "–".into(),
    ]);
    let _ = std::io::stderr().flush();
    Ok(table)
}
