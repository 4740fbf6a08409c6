//! A large mailbox: one folder of 100,000 messages (the initial-sync corpus continued).
//! The initial sync of it next to one of 10,000 (peak RSS must not grow with the
//! mailbox), a `sync --once` killed with SIGKILL halfway and run again (what is
//! downloaded twice), and the incremental pass with nothing new on the synced store,
//! timed inside the running daemon.

use std::os::unix::fs::chown;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail, ensure};
use postfach_test_harness::{Dovecot, DovecotConfig, running_as_root};
use reqwest::blocking::Client;

use crate::corpus::{Corpus, median};
use crate::initial::{Size, check_stored, postfachd_config_for, store_size, warm_plugin_cache};
use crate::measure::{self, Run, rss_kib};
use crate::{Bins, Table};

/// The user with the large mailbox.
const LARGE: &str = "gross@muster-architekten.de";
/// The user with the 10,000 messages it is compared with.
const SMALL: &str = "klein@muster-architekten.de";
const PASSWORD: &str = "Bench-Passwort-1";
/// Messages of the comparison mailbox.
const SMALL_MESSAGES: usize = 10_000;
/// Passes asked for on the synced store; the median is reported.
const PASSES: usize = 15;
/// No scheduled full pass gets between the passes asked for.
const SYNC_TABLE: &str = "[sync]\ninterval_secs = 3600\n";
/// What the daemon commits at once (`BATCH_MESSAGES`, `BATCH_BYTES` in daemon/imap/src/sync.rs).
const BATCH_MESSAGES: u64 = 250;
const BATCH_BYTES: u64 = 16 << 20;

/// Runs the large-mailbox benchmark on `messages` messages.
pub fn run(bins: &Bins, messages: usize) -> anyhow::Result<Table> {
    let small = SMALL_MESSAGES.min(messages);
    let dv = Dovecot::start(DovecotConfig::default().user(SMALL, PASSWORD).user(LARGE, PASSWORD))?;
    let started = Instant::now();
    let small_bytes = seed(&dv, SMALL, Corpus::realistic(small))?;
    let bytes = seed(&dv, LARGE, Corpus::realistic(messages))?;
    eprintln!(
        "large: seeded {small} messages ({:.1} MB) and {messages} messages ({:.1} MB) in {:.0} s",
        small_bytes as f64 / 1e6,
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    let scratch = tempfile::Builder::new().prefix("postfach-large-").tempdir()?;
    let cache = scratch.path().join("plugin-cache");
    warm_plugin_cache(bins, scratch.path(), &cache, &dv)?;
    let mut table = Table::new(&["measure", "result", "goal"]);

    // Initial sync of both mailboxes.
    let small_dir = scratch.path().join("small");
    let (small_run, small_size) = initial_sync(bins, &dv, &small_dir, &cache, SMALL, small)?;
    let _ = std::fs::remove_dir_all(&small_dir);
    let large_dir = scratch.path().join("large");
    let (large_run, large_size) = initial_sync(bins, &dv, &large_dir, &cache, LARGE, messages)?;
    for (n, b, r) in [(small, small_bytes, &small_run), (messages, bytes, &large_run)] {
        table.row(vec![
            format!("initial sync, {n} messages ({:.0} MB)", b as f64 / 1e6),
            format!("{:.2} s wall, {:.2} s CPU, peak RSS {:.1} MiB", r.wall, r.cpu, r.rss_mib),
            "–".into(),
        ]);
    }
    table.row(vec![
        format!("peak RSS, {small} vs {messages} messages"),
        format!(
            "{:.1} MiB vs {:.1} MiB ({:+.1} MiB)",
            small_run.rss_mib,
            large_run.rss_mib,
            large_run.rss_mib - small_run.rss_mib
        ),
        format!("≤ 100 MiB at {messages}, no growth with mailbox size"),
    ]);
    let per = |s: Size, n: usize| s.bytes as f64 / n as f64;
    table.row(vec![
        format!("store per message, {small} vs {messages} messages"),
        format!(
            "{:.0} vs {:.0} bytes ({:.0} MiB in all; the messages: {:.0} bytes each)",
            per(small_size, small),
            per(large_size, messages),
            large_size.bytes as f64 / 1048576.0,
            bytes as f64 / messages as f64
        ),
        "–".into(),
    ]);

    // The incremental pass, on the store just synced.
    let config = large_dir.join("config");
    let passes = incremental(bins, &config, messages)?;
    let _ = std::fs::remove_dir_all(&large_dir);
    table.row(vec![
        format!("first pass after `postfachd run` starts ({messages} messages, full check: SEARCH ALL)"),
        format!("{:.1} ms", passes.first * 1000.0),
        "–".into(),
    ]);
    let ms: Vec<f64> = passes.asked.iter().map(|s| s * 1000.0).collect();
    let (lo, hi) = ms.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &m| (lo.min(m), hi.max(m)));
    table.row(vec![
        format!("incremental pass, nothing new, CONDSTORE ({messages} messages; pass histogram, median of {PASSES})"),
        format!("{:.1} ms (min {lo:.1}, max {hi:.1})", median(&ms)),
        "≤ 50 ms".into(),
    ]);
    let rt: Vec<f64> = passes.round_trip.iter().map(|s| s * 1000.0).collect();
    table.row(vec![
        format!("the same, request → account idle again (routing and state included; {} passes seen)", rt.len()),
        format!("{:.1} ms", median(&rt)),
        "–".into(),
    ]);
    table.row(vec![
        "daemon RSS, idle on the synced store after the passes".into(),
        format!("{:.1} MiB", passes.idle_rss_kib as f64 / 1024.0),
        "–".into(),
    ]);

    // kill -9 at 50 % and the second run.
    let kill_dir = scratch.path().join("kill");
    let k = kill_at_half(bins, &dv, &kill_dir, &cache, messages, bytes)?;
    let _ = std::fs::remove_dir_all(&kill_dir);
    let mib = |b: u64| b as f64 / 1048576.0;
    table.row(vec![
        "kill -9 at 50 %: committed".into(),
        format!("{} of {messages} ({} seen before the kill)", k.committed, k.seen),
        "–".into(),
    ]);
    let (refetched, refetched_bytes) =
        (k.second.count.saturating_sub(k.missing), k.second.bytes.saturating_sub(k.missing_bytes));
    table.row(vec![
        "refetched after kill -9 at 50 %: downloaded by the second run beyond the N − C missing".into(),
        format!(
            "{refetched} messages, {refetched_bytes} bytes (it downloaded {} messages, {:.1} MiB; {:.1} MiB by its own count; {:.1} s)",
            k.second.count,
            mib(k.second.bytes),
            mib(k.reported_bytes),
            k.second_wall
        ),
        format!("only the uncommitted batch, ≤ {BATCH_MESSAGES} messages / {} MiB", BATCH_BYTES >> 20),
    ]);
    let (lost, lost_bytes) =
        (k.first.count.saturating_sub(k.committed), k.first.bytes.saturating_sub(k.committed_bytes));
    table.row(vec![
        "sent to the killed run but not committed (so downloaded twice; Dovecot's count)".into(),
        format!("{lost} messages, {:.1} MiB", mib(lost_bytes)),
        "–".into(),
    ]);
    if let Some(unread) = k.unread {
        // What postfachd had read but not committed: the above less the socket's queue;
        // messages in proportion (those sent last are the ones still queued).
        let read_bytes = lost_bytes.saturating_sub(unread);
        let read =
            if lost_bytes == 0 { 0 } else { (lost as f64 * read_bytes as f64 / lost_bytes as f64).round() as u64 };
        let verdict = if read <= BATCH_MESSAGES && read_bytes <= BATCH_BYTES { "" } else { " — more than one batch" };
        table.row(vec![
            "of these read by postfachd (at most: all not in the socket's receive queue at the kill)".into(),
            format!(
                "≈ {read} messages, {:.1} MiB ({:.1} MiB unread in the queue){verdict}",
                mib(read_bytes),
                mib(unread)
            ),
            format!("≤ {BATCH_MESSAGES} messages / {} MiB", BATCH_BYTES >> 20),
        ]);
    }
    table.row(vec![
        "routed after the second run".into(),
        format!("{} of {messages}", k.routed),
        format!("{messages} of {messages}"),
    ]);
    Ok(table)
}

/// Writes `corpus` into `user`'s INBOX maildir one message at a time as it is generated
/// (the harness's `seed_inbox` wants every message in memory at once), then lets Dovecot
/// index the folder. Returns the bytes written. File names sort in the corpus's order.
fn seed(dv: &Dovecot, user: &str, corpus: Corpus) -> anyhow::Result<u64> {
    let home = dv.dir().join("mail").join(user);
    let maildir = home.join("Maildir");
    let dirs = [home.clone(), maildir.clone(), maildir.join("cur"), maildir.join("new"), maildir.join("tmp")];
    for dir in &dirs {
        std::fs::create_dir_all(dir)?;
    }
    // As root, Dovecot reads the mail as `mail` (uid and gid 8), as the harness sets it up.
    let owner = running_as_root().then_some(8);
    let stamp = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let mut bytes = 0u64;
    for (i, raw) in corpus.iter().enumerate() {
        let path = maildir.join("cur").join(format!("{stamp}.B{i:07}.bench:2,"));
        std::fs::write(&path, &raw).with_context(|| format!("writing {}", path.display()))?;
        if owner.is_some() {
            chown(&path, owner, owner)?;
        }
        bytes += raw.len() as u64;
    }
    if owner.is_some() {
        for dir in &dirs {
            chown(dir, owner, owner)?;
        }
    }
    let status = dv.doveadm(&["-f", "flow", "mailbox", "status", "-u", user, "messages", "INBOX"])?;
    let indexed: usize =
        status.split_whitespace().find_map(|w| w.strip_prefix("messages=")).and_then(|n| n.parse().ok()).unwrap_or(0);
    ensure!(
        indexed == corpus.count,
        "Dovecot indexed {indexed} of {} seeded messages ({})",
        corpus.count,
        status.trim()
    );
    Ok(bytes)
}

/// `postfachd sync bench --once` into a new store under `dir/config` (kept for later use),
/// checked to have stored and routed every message.
fn initial_sync(
    bins: &Bins,
    dv: &Dovecot,
    dir: &Path,
    cache: &Path,
    user: &str,
    messages: usize,
) -> anyhow::Result<(Run, Size)> {
    let config = postfachd_config_for(&dir.join("config"), cache, dv, user, PASSWORD, SYNC_TABLE)?;
    let mut cmd = Command::new(&bins.postfachd);
    cmd.arg("--config").arg(&config).args(["sync", "bench", "--once"]).env("POSTFACH_LOG", "warn");
    let run = measure::run(&mut cmd, dir)?;
    let db = config.join("data/postfach.sqlite3");
    let size = store_size(&db)?;
    check_stored(&db, messages)?;
    eprintln!(
        "  initial sync of {messages}: {:.2} s wall {:.2} s CPU {:.1} MiB peak RSS, store {:.1} MiB",
        run.wall,
        run.cpu,
        run.rss_mib,
        size.bytes as f64 / 1048576.0
    );
    Ok((run, size))
}

/// Messages and bytes Dovecot sent as message bodies (`BODY[]`), from the logout lines of
/// the sessions it logged.
#[derive(Debug, Clone, Copy, Default)]
struct Sent {
    count: u64,
    bytes: u64,
}

/// The sessions of `user` in Dovecot's log from byte `from` on: (logins, logouts, what
/// the logged-out ones were sent). Every session's last line (`Logged out`,
/// `Disconnected: …`) carries `body_count=` and `body_bytes=` (`imap_logout_format`).
fn sessions(dv: &Dovecot, user: &str, from: usize) -> (usize, usize, Sent) {
    let log = dv.full_log();
    let tail = log.get(from..).unwrap_or("");
    let login = format!("Login: user=<{user}>");
    let ours = format!("imap({user})");
    let mut sent = Sent::default();
    let (mut logins, mut logouts) = (0, 0);
    for line in tail.lines() {
        if line.contains(&login) {
            logins += 1;
        } else if line.contains(&ours) && line.contains("body_count=") {
            logouts += 1;
            let field = |name: &str| {
                line.split(|c: char| c.is_whitespace() || c == ',')
                    .find_map(|w| w.strip_prefix(name))
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            sent.count += field("body_count=");
            sent.bytes += field("body_bytes=");
        }
    }
    (logins, logouts, sent)
}

/// Waits until every session of `user` since byte `from` of the log has logged out;
/// returns what they were sent.
fn sent_since(dv: &Dovecot, user: &str, from: usize) -> anyhow::Result<Sent> {
    let started = Instant::now();
    loop {
        let (logins, logouts, sent) = sessions(dv, user, from);
        if logins > 0 && logouts >= logins {
            return Ok(sent);
        }
        if started.elapsed() > Duration::from_secs(30) {
            bail!("Dovecot logged {logouts} logouts for {logins} logins of {user}:\n{}", dv.log());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What the kill -9 run and the run after it did.
struct Kill {
    /// Messages the poll saw committed before the kill.
    seen: u64,
    /// Messages (and their bytes) in the store after the kill.
    committed: u64,
    committed_bytes: u64,
    /// What was still missing then.
    missing: u64,
    missing_bytes: u64,
    /// What Dovecot sent the killed run, and the second run.
    first: Sent,
    second: Sent,
    /// The bytes the second run reports fetched (`sync --once --json`).
    reported_bytes: u64,
    /// Bytes in the kernel's receive queue of postfachd's connection at the kill: sent by
    /// Dovecot, not read by postfachd (None: `ss` failed).
    unread: Option<u64>,
    /// Wall seconds of the second run.
    second_wall: f64,
    /// Messages with a routing decision in the end.
    routed: u64,
}

/// Counts the messages of the store at `db` and their bytes.
fn stored(db: &rusqlite::Connection) -> rusqlite::Result<(u64, u64)> {
    db.query_row("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM messages", [], |r| Ok((r.get(0)?, r.get(1)?)))
}

/// `sync --once` on a new store, killed with SIGKILL once half of the `messages`
/// (`bytes` in all) are committed; then `sync --once` again to the end.
fn kill_at_half(
    bins: &Bins,
    dv: &Dovecot,
    dir: &Path,
    cache: &Path,
    messages: usize,
    bytes: u64,
) -> anyhow::Result<Kill> {
    let config = postfachd_config_for(&dir.join("config"), cache, dv, LARGE, PASSWORD, SYNC_TABLE)?;
    let db_path = config.join("data/postfach.sqlite3");
    let half = messages.div_ceil(2) as u64;
    let log_start = dv.full_log().len();
    let mut child = Command::new(&bins.postfachd)
        .arg("--config")
        .arg(&config)
        .args(["sync", "bench", "--once"])
        .env("POSTFACH_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("first.log"))?)
        .spawn()?;
    let started = Instant::now();
    let mut db: Option<rusqlite::Connection> = None;
    let mut seen = 0u64;
    while seen < half {
        if let Some(status) = child.try_wait()? {
            bail!("the first sync ended ({status}) before half the messages were committed ({seen} of {messages})");
        }
        if started.elapsed() > Duration::from_secs(3600) {
            let _ = child.kill();
            let _ = child.wait();
            bail!("not half of {messages} messages committed within an hour");
        }
        std::thread::sleep(Duration::from_millis(10));
        // Read-only, beside the daemon's writes (the store is in WAL mode); opened once the
        // daemon has created the store, and again after an error.
        if db.is_none() && db_path.exists() {
            db = rusqlite::Connection::open_with_flags(&db_path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).ok();
        }
        if let Some(conn) = &db {
            match conn.query_row("SELECT COUNT(*) FROM messages", [], |r| r.get::<_, u64>(0)) {
                Ok(n) => seen = n,
                Err(_) => db = None,
            }
        }
    }
    // Stopped first, so that the socket's queue is read at the moment of the kill.
    let _ = Command::new("kill").arg("-STOP").arg(child.id().to_string()).status();
    let unread = unread_bytes(dv.imaps_port);
    kill(&mut child)?;
    drop(db);
    let (committed, committed_bytes) = stored(&rusqlite::Connection::open(&db_path)?)?;
    let first = sent_since(dv, LARGE, log_start)?;
    eprintln!(
        "  killed after {:.1} s: {seen} committed when seen, {committed} after the kill; Dovecot sent {} messages",
        started.elapsed().as_secs_f64(),
        first.count
    );

    let log_start = dv.full_log().len();
    let started = Instant::now();
    let out = Command::new(&bins.postfachd)
        .arg("--config")
        .arg(&config)
        .args(["sync", "bench", "--once", "--json"])
        .env("POSTFACH_LOG", "warn")
        .output()?;
    let second_wall = started.elapsed().as_secs_f64();
    ensure!(out.status.success(), "the second sync failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
    let results: serde_json::Value = serde_json::from_slice(&out.stdout).context("sync --once --json")?;
    let result = results
        .as_array()
        .and_then(|a| a.iter().find(|r| r["account"] == "bench"))
        .context("no result for the account in sync --once --json")?;
    let reported_bytes = result["bytes"].as_u64().context("no bytes in sync --once --json")?;
    let db = rusqlite::Connection::open_with_flags(&db_path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let (total, _) = stored(&db)?;
    ensure!(total == messages as u64, "after the second sync the store holds {total} of {messages} messages");
    let routed: u64 = db.query_row("SELECT COUNT(*) FROM route_traces", [], |r| r.get(0))?;
    drop(db);
    let second = sent_since(dv, LARGE, log_start)?;
    eprintln!(
        "  second run: {:.1} s, {} new, Dovecot sent {} messages ({} bytes), postfachd reports {reported_bytes} bytes",
        second_wall, result["new_messages"], second.count, second.bytes
    );
    Ok(Kill {
        seen,
        committed,
        committed_bytes,
        missing: messages as u64 - committed,
        missing_bytes: bytes.saturating_sub(committed_bytes),
        first,
        second,
        reported_bytes,
        unread,
        second_wall,
        routed,
    })
}

/// The bytes waiting unread in the receive queues of the connections to Dovecot's port
/// (`ss`: Recv-Q of the client's side).
fn unread_bytes(port: u16) -> Option<u64> {
    let out =
        Command::new("ss").args(["-tnH", "state", "established"]).arg(format!("( dport = :{port} )")).output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split_whitespace().next().and_then(|q| q.parse::<u64>().ok()))
        .sum()
}

/// SIGKILL, and the exit reaped.
fn kill(child: &mut Child) -> anyhow::Result<()> {
    child.kill()?;
    child.wait()?;
    Ok(())
}

/// Pass durations from the running daemon.
struct Passes {
    /// The first pass after start (full check), seconds.
    first: f64,
    /// The passes asked for, seconds each.
    asked: Vec<f64>,
    /// The same passes from the request to the account back in state `idle` (routing of
    /// the pass and the state written included), seconds; only those seen in `syncing`.
    round_trip: Vec<f64>,
    /// The daemon's RSS afterwards, KiB.
    idle_rss_kib: u64,
}

/// A running `postfachd run` and its API.
struct Daemon {
    child: Child,
    base: String,
    token: String,
    client: Client,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        postfach_test_harness::terminate(&mut self.child, Duration::from_secs(30));
    }
}

impl Daemon {
    /// `_count` and `_sum` of the pass-duration histogram (0 before the first pass).
    fn pass_histogram(&self) -> anyhow::Result<(u64, f64)> {
        let r = self.client.get(format!("{}/metrics", self.base)).bearer_auth(&self.token).send()?;
        ensure!(r.status().is_success(), "GET /metrics answered {}", r.status());
        let text = r.text()?;
        let value =
            |name: &str| text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse::<f64>().ok());
        let count = value("postfach_pass_duration_seconds_count").unwrap_or(0.0) as u64;
        let sum = value("postfach_pass_duration_seconds_sum").unwrap_or(0.0);
        Ok((count, sum))
    }

    /// Waits until the histogram counts more than `count` passes.
    fn wait_past(&self, count: u64, timeout: Duration) -> anyhow::Result<(u64, f64)> {
        let started = Instant::now();
        loop {
            let (n, sum) = self.pass_histogram()?;
            if n > count {
                return Ok((n, sum));
            }
            if started.elapsed() > timeout {
                bail!("no pass within {} s", timeout.as_secs());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn start(bins: &Bins, config: &Path) -> anyhow::Result<Daemon> {
    let token = crate::api::token(bins, config)?;
    let (child, base) = crate::api::run_with_api(bins, config, &[])?;
    let client = Client::builder().timeout(Duration::from_secs(60)).build()?;
    Ok(Daemon { child, base, token, client })
}

/// `postfachd run` on the synced store: the first pass after start, then [`PASSES`] passes
/// asked for with `POST /v1/accounts/bench/sync`, each timed by the change of the
/// `postfach_pass_duration_seconds` histogram's sum (the pass alone: not the request, not
/// the wake from IDLE).
fn incremental(bins: &Bins, config: &Path, messages: usize) -> anyhow::Result<Passes> {
    let daemon = start(bins, config)?;
    let (count, first) = daemon.wait_past(0, Duration::from_secs(600))?;
    ensure!(count == 1, "{count} passes after start, expected 1");
    let db = rusqlite::Connection::open_with_flags(
        config.join("data/postfach.sqlite3"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    let state = || db.query_row("SELECT state FROM accounts WHERE id = 'bench'", [], |r| r.get::<_, String>(0));
    let mut asked = Vec::with_capacity(PASSES);
    let mut round_trip = Vec::with_capacity(PASSES);
    for _ in 0..PASSES {
        // Back in IDLE after the inbox's quick pass.
        std::thread::sleep(Duration::from_millis(500));
        let (count, sum) = daemon.pass_histogram()?;
        ensure!(state()? == "idle", "the account is {} before the pass", state()?);
        let started = Instant::now();
        let r =
            daemon.client.post(format!("{}/v1/accounts/bench/sync", daemon.base)).bearer_auth(&daemon.token).send()?;
        ensure!(r.status().as_u16() == 202, "POST /v1/accounts/bench/sync answered {}", r.status());
        // The store shows the account `syncing` during the pass and `idle` once it is
        // finished; read every millisecond (a pass too short to be seen is not counted).
        let mut syncing = false;
        while started.elapsed() < Duration::from_secs(120) {
            let now = state()?;
            if now == "syncing" {
                syncing = true;
            } else if syncing && now == "idle" {
                round_trip.push(started.elapsed().as_secs_f64());
                break;
            } else if !syncing && started.elapsed() > Duration::from_secs(1) {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let (after, sum_after) = daemon.wait_past(count, Duration::from_secs(120))?;
        ensure!(after == count + 1, "{} passes recorded for one request", after - count);
        asked.push(sum_after - sum);
    }
    drop(db);
    std::thread::sleep(Duration::from_millis(500));
    let idle_rss_kib = rss_kib(daemon.child.id()).unwrap_or(0);
    // POSTFACH_BENCH_PAUSE=SECS keeps the daemon on the synced store running for a look.
    if let Some(secs) = std::env::var("POSTFACH_BENCH_PAUSE").ok().and_then(|s| s.parse().ok()) {
        eprintln!(
            "daemon pid {} with config {} at {} (token {}) running for {secs} s",
            daemon.child.id(),
            config.display(),
            daemon.base,
            daemon.token
        );
        std::thread::sleep(Duration::from_secs(secs));
    }
    drop(daemon);
    check_stored(&config.join("data/postfach.sqlite3"), messages)?;
    eprintln!(
        "  passes: first {:.1} ms, asked {:?} ms",
        first * 1000.0,
        asked.iter().map(|s| (s * 1000.0 * 10.0).round() / 10.0).collect::<Vec<_>>()
    );
    Ok(Passes { first, asked, round_trip, idle_rss_kib })
}
