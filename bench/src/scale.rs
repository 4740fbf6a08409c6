//! Many accounts in one daemon: the time until every account has finished its first pass,
//! and the daemon's resident memory once all of them sit idle (each holding its IDLE
//! connection), against the same daemon with no accounts.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use postfach_test_harness::{Dovecot, DovecotConfig};

use crate::corpus::Corpus;
use crate::measure::rss_kib;
use crate::{Bins, Table};

const PASSWORD: &str = "Bench-Passwort-1";
const PER_ACCOUNT: usize = 50;

fn user(i: usize) -> String {
    format!("konto{i:04}@scale.bench")
}

/// Dovecot settings for thousands of simultaneous connections: one login process for all
/// clients, and room for one imap process per connection.
const MANY_CONNECTIONS: &str = r#"
default_process_limit = 5000
default_client_limit = 10000
mail_max_userip_connections = 100
service imap-login {
  service_count = 0
  client_limit = 5000
  process_min_avail = 2
}
service imap {
  process_limit = 5000
}
"#;

/// Runs the scale benchmark.
pub fn run(bins: &Bins, accounts: usize) -> anyhow::Result<Table> {
    let mut config = DovecotConfig { extra: MANY_CONNECTIONS.to_owned(), ..DovecotConfig::default() };
    for i in 0..accounts {
        config = config.user(&user(i), PASSWORD);
    }
    let dv = Dovecot::start(config)?;
    eprintln!("scale: seeding {accounts} accounts with {PER_ACCOUNT} messages each…");
    let corpus = Corpus { count: PER_ACCOUNT, median: 3000.0, sigma: 0.8, seed: 7 }.messages();
    let users: Vec<String> = (0..accounts).map(user).collect();
    dv.seed_inboxes(&users, &corpus)?;

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
    while started.elapsed() < Duration::from_secs(600) {
        std::thread::sleep(Duration::from_millis(100));
        let Ok(db) = rusqlite::Connection::open(&db_path) else { continue };
        let done: usize = db
            .query_row("SELECT COUNT(*) FROM accounts WHERE state = 'idle' AND last_sync IS NOT NULL", [], |r| r.get(0))
            .unwrap_or(0);
        if done == accounts {
            synced_after = Some(started.elapsed().as_secs_f64());
            break;
        }
    }
    let Some(synced_after) = synced_after else {
        stop(&mut daemon);
        bail!("not every account synced within 600 s");
    };
    let db = rusqlite::Connection::open(&db_path)?;
    let stored: usize = db.query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))?;
    if stored != accounts * PER_ACCOUNT {
        stop(&mut daemon);
        bail!("stored {stored} of {} messages", accounts * PER_ACCOUNT);
    }
    // Steady state: every account idle on its connection for a while.
    std::thread::sleep(Duration::from_secs(20));
    let idle = rss_kib(daemon.id()).context("reading the daemon's RSS")?;
    let threads = std::fs::read_dir(format!("/proc/{}/task", daemon.id())).map(|d| d.count()).unwrap_or(0);
    // POSTFACH_BENCH_PAUSE=SECS keeps the idle daemon running for a look at it.
    if let Some(secs) = std::env::var("POSTFACH_BENCH_PAUSE").ok().and_then(|s| s.parse().ok()) {
        eprintln!("daemon pid {} with config {} idle for {secs} s", daemon.id(), full.display());
        std::thread::sleep(Duration::from_secs(secs));
    }
    stop(&mut daemon);

    let per_account = (idle.saturating_sub(baseline)) as f64 / accounts as f64;
    let mut table = Table::new(&["measure", "value"]);
    table.row(vec!["accounts × messages".into(), format!("{accounts} × {PER_ACCOUNT}")]);
    table.row(vec!["all accounts synced after".into(), format!("{synced_after:.1} s")]);
    table.row(vec!["messages stored per second".into(), format!("{:.0}", stored as f64 / synced_after)]);
    table.row(vec!["daemon RSS, no accounts".into(), format!("{:.1} MiB", baseline as f64 / 1024.0)]);
    table.row(vec!["daemon RSS, all accounts idle".into(), format!("{:.1} MiB", idle as f64 / 1024.0)]);
    table.row(vec!["RSS per idle account (IDLE connection included)".into(), format!("{per_account:.0} KiB")]);
    table.row(vec!["daemon threads".into(), threads.to_string()]);
    Ok(table)
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
