//! Many accounts in one daemon: the time until every account has finished its first pass,
//! and the daemon's resident memory once all of them sit idle (each holding its IDLE
//! connection), against the same daemon with no accounts. Dovecot's processes are counted
//! while it runs (the peak is reported), and failed connection attempts are read from the
//! daemon's log.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use postfach_test_harness::{Dovecot, DovecotConfig};

use crate::corpus::Corpus;
use crate::measure::rss_kib;
use crate::{Bins, Table};

const PASSWORD: &str = "Bench-Passwort-1";
/// Messages per account unless `--per-account` says otherwise.
pub const PER_ACCOUNT: usize = 50;

fn user(i: usize) -> String {
    format!("konto{i:04}@scale.bench")
}

/// Dovecot settings for thousands of simultaneous connections. One `imap` process per
/// connection (Dovecot's default) costs 2–3 MiB each, so every `imap` process serves up to
/// [`IMAP_CLIENTS`] connections; `imap-login` runs in high-performance mode (a few
/// long-lived processes, each holding the TLS sessions of thousands of clients and proxying
/// them to the `imap` processes), with room in its address-space limit for those sessions.
fn many_connections(accounts: usize) -> String {
    // The harness logs every user in once at start, one after another; reconnects after a
    // failure come on top, so leave room beyond one connection per account.
    let connections = accounts * 2 + 1000;
    let imap_processes = connections.div_ceil(IMAP_CLIENTS) + 10;
    let login_clients = connections.div_ceil(LOGIN_PROCESSES).max(1000);
    format!(
        r#"
default_process_limit = 5000
default_client_limit = {clients}
default_vsz_limit = 1G
mail_max_userip_connections = 100
service imap-login {{
  service_count = 0
  client_limit = {login_clients}
  process_min_avail = {LOGIN_PROCESSES}
  process_limit = {login_limit}
  vsz_limit = 4G
}}
service imap {{
  service_count = 0
  client_limit = {IMAP_CLIENTS}
  process_limit = {imap_processes}
}}
"#,
        clients = connections.max(10_000),
        login_limit = LOGIN_PROCESSES * 2,
    )
}

/// Connections one `imap` process serves.
const IMAP_CLIENTS: usize = 50;
/// `imap-login` processes kept running (TLS is their work: one per core and some).
const LOGIN_PROCESSES: usize = 4;

/// Runs the scale benchmark.
pub fn run(bins: &Bins, accounts: usize, per_account: usize) -> anyhow::Result<Table> {
    let mut config = DovecotConfig { extra: many_connections(accounts), ..DovecotConfig::default() };
    for i in 0..accounts {
        config = config.user(&user(i), PASSWORD);
    }
    let clock = Instant::now();
    // Dovecot's start includes one login per user (the harness creates their mailboxes).
    let dv = Dovecot::start(config)?;
    eprintln!("scale: Dovecot up with {accounts} users after {:.1} s", clock.elapsed().as_secs_f64());
    let watch = DovecotWatch::start(&dv.dir().join("dovecot.conf"));
    eprintln!("scale: seeding {accounts} accounts with {per_account} messages each…");
    let clock = Instant::now();
    let corpus = Corpus { count: per_account, median: 3000.0, sigma: 0.8, seed: 7 }.messages();
    let users: Vec<String> = (0..accounts).map(user).collect();
    dv.seed_inboxes(&users, &corpus)?;
    eprintln!("scale: seeded and indexed after {:.1} s", clock.elapsed().as_secs_f64());

    let scratch = tempfile::Builder::new().prefix("postfach-scale-").tempdir()?;
    let cache = scratch.path().join("plugin-cache");
    // The empty daemon: what every account's memory is measured against.
    let empty = config_dir(&scratch.path().join("empty"), &cache, &dv, 0)?;
    let mut daemon = start(bins, &empty)?;
    std::thread::sleep(Duration::from_secs(5));
    let baseline = rss_kib(daemon.id()).context("reading the daemon's RSS")?;
    stop(&mut daemon);

    let full = config_dir(&scratch.path().join("full"), &cache, &dv, accounts)?;
    let started = Instant::now();
    let mut daemon = start(bins, &full)?;
    let db_path = full.join("data/postfach.sqlite3");
    let mut synced_after = None;
    let limit = Duration::from_secs(600.max(accounts as u64 / 10));
    let mut last_progress = Instant::now();
    while started.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(100));
        let Ok(db) = rusqlite::Connection::open(&db_path) else { continue };
        let done: usize = db
            .query_row("SELECT COUNT(*) FROM accounts WHERE state = 'idle' AND last_sync IS NOT NULL", [], |r| r.get(0))
            .unwrap_or(0);
        if done == accounts {
            synced_after = Some(started.elapsed().as_secs_f64());
            break;
        }
        if last_progress.elapsed() >= Duration::from_secs(10) {
            last_progress = Instant::now();
            eprintln!(
                "scale: {:.0} s: {done} of {accounts} synced; states {}; {} Dovecot processes",
                started.elapsed().as_secs_f64(),
                states(&db),
                watch.now()
            );
        }
    }
    let Some(synced_after) = synced_after else {
        let states = rusqlite::Connection::open(&db_path).map(|db| states(&db)).unwrap_or_default();
        stop(&mut daemon);
        bail!(
            "not every account synced within {} s (states: {states}); daemon log {}, Dovecot log {}",
            limit.as_secs(),
            full.join("daemon.log").display(),
            dv.dir().join("log/dovecot.log").display()
        );
    };
    let db = rusqlite::Connection::open(&db_path)?;
    let stored: usize = db.query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))?;
    if stored != accounts * per_account {
        stop(&mut daemon);
        bail!("stored {stored} of {} messages", accounts * per_account);
    }
    // Steady state: every account idle on its connection for a while.
    std::thread::sleep(Duration::from_secs(20));
    let idle = rss_kib(daemon.id()).context("reading the daemon's RSS")?;
    let threads = std::fs::read_dir(format!("/proc/{}/task", daemon.id())).map(|d| d.count()).unwrap_or(0);
    let fds = std::fs::read_dir(format!("/proc/{}/fd", daemon.id())).map(|d| d.count()).unwrap_or(0);
    let dovecot_idle = watch.sample();
    // POSTFACH_BENCH_PAUSE=SECS keeps the idle daemon running for a look at it.
    if let Some(secs) = std::env::var("POSTFACH_BENCH_PAUSE").ok().and_then(|s| s.parse().ok()) {
        eprintln!("daemon pid {} with config {} idle for {secs} s", daemon.id(), full.display());
        std::thread::sleep(Duration::from_secs(secs));
    }
    stop(&mut daemon);
    let peak = watch.finish();
    let retries = failed_attempts(&full.join("daemon.log"));

    let kib_per_account = (idle.saturating_sub(baseline)) as f64 / accounts as f64;
    let mut table = Table::new(&["measure", "value"]);
    table.row(vec!["accounts × messages".into(), format!("{accounts} × {per_account}")]);
    table.row(vec!["all accounts synced after".into(), format!("{synced_after:.1} s")]);
    table.row(vec!["messages stored per second".into(), format!("{:.0}", stored as f64 / synced_after)]);
    table.row(vec!["daemon RSS, no accounts".into(), format!("{:.1} MiB", baseline as f64 / 1024.0)]);
    table.row(vec!["daemon RSS, all accounts idle".into(), format!("{:.1} MiB", idle as f64 / 1024.0)]);
    table.row(vec!["RSS per idle account (IDLE connection included)".into(), format!("{kib_per_account:.0} KiB")]);
    table.row(vec!["daemon threads".into(), threads.to_string()]);
    table.row(vec!["daemon open files, all accounts idle".into(), fds.to_string()]);
    table.row(vec![
        "failed connection attempts (retried with backoff)".into(),
        format!("{} ({} accounts)", retries.attempts, retries.accounts),
    ]);
    table.row(vec!["Dovecot processes, peak".into(), format!("{} ({})", peak.count, peak.kinds)]);
    table.row(vec![
        "Dovecot processes and RSS, all accounts idle".into(),
        format!("{} ({}), {:.0} MiB", dovecot_idle.count, dovecot_idle.kinds, dovecot_idle.rss_kib as f64 / 1024.0),
    ]);
    Ok(table)
}

/// The accounts' states in the store, as `state=count` pairs.
fn states(db: &rusqlite::Connection) -> String {
    let Ok(mut q) = db.prepare("SELECT state, COUNT(*) FROM accounts GROUP BY state ORDER BY state") else {
        return String::new();
    };
    q.query_map([], |r| Ok(format!("{}={}", r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .map(|rows| rows.filter_map(Result::ok).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Failed connection attempts in the daemon's log: `sync failed` warnings, and the accounts
/// they came from.
struct Retries {
    attempts: usize,
    accounts: usize,
}

fn failed_attempts(log: &Path) -> Retries {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut accounts = HashSet::new();
    let mut attempts = 0;
    for line in text.lines().filter(|l| l.contains("sync failed")) {
        attempts += 1;
        if let Some(at) = line.find("konto") {
            let id: String = line[at..].chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
            accounts.insert(id);
        }
    }
    Retries { attempts, accounts: accounts.len() }
}

/// Dovecot's processes at one moment: how many, of which kind, their summed RSS.
#[derive(Debug, Clone, Default)]
struct Processes {
    count: usize,
    kinds: String,
    rss_kib: u64,
}

/// Counts the processes of one Dovecot instance (its master and everything below it) every
/// 200 ms, keeping the peak.
struct DovecotWatch {
    conf: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Processes>>,
}

impl DovecotWatch {
    fn start(conf: &Path) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, path) = (stop.clone(), conf.to_owned());
        let thread = std::thread::spawn(move || {
            let mut peak = Processes::default();
            while !flag.load(Ordering::Relaxed) {
                let now = dovecot_processes(&path, false);
                if now.count > peak.count {
                    peak = now;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            peak
        });
        DovecotWatch { conf: conf.to_owned(), stop, thread: Some(thread) }
    }

    /// The number of processes now.
    fn now(&self) -> usize {
        dovecot_processes(&self.conf, false).count
    }

    /// The processes now, with their RSS.
    fn sample(&self) -> Processes {
        dovecot_processes(&self.conf, true)
    }

    /// Stops watching; returns the peak.
    fn finish(mut self) -> Processes {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().and_then(|t| t.join().ok()).unwrap_or_default()
    }
}

/// The Dovecot master started with `conf` and its descendants.
fn dovecot_processes(conf: &Path, with_rss: bool) -> Processes {
    let conf = conf.to_string_lossy();
    let mut parent = HashMap::new();
    let mut name = HashMap::new();
    let mut master = None;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // pid (comm) state ppid …; comm may hold spaces and parentheses.
        let Some(close) = stat.rfind(')') else { continue };
        let comm = stat[stat.find('(').map_or(0, |o| o + 1)..close].to_owned();
        let Some(ppid) = stat[close + 1..].split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        parent.insert(pid, ppid);
        if comm == "dovecot"
            && master.is_none()
            && std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).replace('\0', " ").contains(conf.as_ref()))
        {
            master = Some(pid);
        }
        name.insert(pid, comm);
    }
    let Some(master) = master else { return Processes::default() };
    let mut kinds = BTreeMap::new();
    let mut out = Processes::default();
    for (&pid, _) in parent.iter() {
        let mut p = pid;
        while p != master && p > 1 {
            p = parent.get(&p).copied().unwrap_or(0);
        }
        if p != master {
            continue;
        }
        out.count += 1;
        *kinds.entry(name.get(&pid).cloned().unwrap_or_default()).or_insert(0usize) += 1;
        if with_rss {
            out.rss_kib += rss_kib(pid).unwrap_or(0);
        }
    }
    out.kinds = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ");
    out
}

fn config_dir(dir: &Path, cache: &Path, dv: &Dovecot, accounts: usize) -> anyhow::Result<std::path::PathBuf> {
    std::fs::create_dir_all(dir.join("accounts"))?;
    std::fs::write(
        dir.join("postfach.toml"),
        format!(
            "data_dir = \"data\"\nlog_format = \"json\"\n[plugins]\ncache_dir = \"{}\"\n[api]\nlisten = \"127.0.0.1:0\"\n",
            cache.display()
        ),
    )?;
    for i in 0..accounts {
        std::fs::write(
            dir.join(format!("accounts/konto{i:04}.toml")),
            format!(
                "description = \"Konto {i}\"\n[identity]\nemail = \"{}\"\n[imap]\nhost = \"127.0.0.1\"\nport = {}\n\
                 security = \"tls\"\npassword = \"{PASSWORD}\"\ntls_ca_file = \"{}\"\n[sync]\ninterval_secs = 3600\n\
                 [routing]\nplugins = [\"projektpro-folders\", \"subject-tag\", \"sender-map\", \"thread-follow\"]\n",
                user(i),
                dv.imaps_port,
                dv.ca_file().display()
            ),
        )?;
    }
    Ok(dir.to_owned())
}

fn start(bins: &Bins, config: &Path) -> anyhow::Result<Child> {
    let log = std::fs::File::create(config.join("daemon.log"))?;
    Ok(Command::new(&bins.postfachd)
        .arg("--config")
        .arg(config)
        .arg("run")
        .env("POSTFACH_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()?)
}

fn stop(child: &mut Child) {
    postfach_test_harness::terminate(child, Duration::from_secs(30));
}
