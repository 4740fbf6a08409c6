//! Initial sync of one large mailbox, side by side on the same Dovecot in the same run:
//! the raw floor, mbsync, offlineimap and postfachd (full routing chain active). Every
//! tool starts from nothing each run and is checked to have got every message. Also the
//! size of what postfachd and mbsync keep on disk afterwards, per message.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail, ensure};
use postfach_test_harness::{Dovecot, DovecotConfig};

use crate::corpus::{Corpus, median};
use crate::measure::{self, Run};
use crate::{Bins, Table};

const USER: &str = "mm@muster-architekten.de";
const PASSWORD: &str = "Bench-Passwort-1";

/// The tools, in the order of the table; the last is postfachd with `[sync] bodies =
/// "on-demand"` (headers, size and flags only).
const TOOLS: [&str; 5] = ["raw floor", "postfachd", "mbsync", "offlineimap", "postfachd on-demand"];

/// Bytes a tool keeps on disk after a run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Size {
    /// Sum of the sizes (file lengths) of what it wrote.
    pub bytes: u64,
    /// The same in allocated blocks (what `du` shows).
    pub on_disk: u64,
}

/// What the comparison found: the timing table, the headline ratios and the store sizes.
pub struct Report {
    /// One row per tool: wall, CPU, peak RSS, messages/s.
    pub table: Table,
    /// The headline ratios.
    pub ratios: Vec<(String, f64)>,
    /// postfachd's store and mbsync's maildir, per message, next to the messages themselves.
    pub sizes: Table,
}

/// Runs the comparison.
pub fn run(bins: &Bins, messages: usize, runs: usize) -> anyhow::Result<Report> {
    let dv = Dovecot::start(DovecotConfig::default().user(USER, PASSWORD))?;
    let corpus = Corpus::realistic(messages).messages();
    let total: usize = corpus.iter().map(Vec::len).sum();
    eprintln!(
        "initial sync: {} messages, {:.1} MB (median {:.1} KB), seeding Dovecot…",
        corpus.len(),
        total as f64 / 1e6,
        crate::corpus::median(&corpus.iter().map(|m| m.len() as f64).collect::<Vec<_>>()) / 1024.0
    );
    dv.seed_inbox(USER, &corpus)?;
    let scratch = tempfile::Builder::new().prefix("postfach-bench-").tempdir()?;
    let cache = scratch.path().join("plugin-cache");
    warm_plugin_cache(bins, scratch.path(), &cache, &dv)?;

    // POSTFACH_BENCH_ONLY=postfachd,floor runs only those tools (while profiling).
    let only = std::env::var("POSTFACH_BENCH_ONLY").ok();
    let wanted = |name: &str| only.as_deref().is_none_or(|o| o.split(',').any(|w| name.contains(w.trim())));
    let mut results: Vec<Vec<Run>> = vec![Vec::new(); TOOLS.len()];
    let mut sizes: Vec<Option<Size>> = vec![None; TOOLS.len()];
    for r in 0..runs {
        // Rotate the order so no tool always runs on a cold or warm page cache.
        for k in 0..TOOLS.len() {
            let i = (k + r) % TOOLS.len();
            if !wanted(TOOLS[i]) {
                continue;
            }
            let dir = scratch.path().join(format!("run-{r}-{i}"));
            std::fs::create_dir_all(&dir)?;
            let run = match TOOLS[i] {
                "raw floor" => floor(bins, &dv, &dir)?,
                "postfachd" => {
                    let (run, size) = postfachd(bins, &dv, &dir, &cache, messages, "")?;
                    sizes[i] = Some(size);
                    run
                }
                "postfachd on-demand" => {
                    let (run, size) = postfachd(bins, &dv, &dir, &cache, messages, ON_DEMAND)?;
                    sizes[i] = Some(size);
                    run
                }
                "mbsync" => {
                    let run = mbsync(&dv, &dir, messages)?;
                    sizes[i] = Some(tree_size(&dir.join("mail"))?);
                    run
                }
                _ => offlineimap(&dv, &dir, messages)?,
            };
            eprintln!(
                "  run {} {:<12} {:>7.2} s wall {:>7.2} s CPU {:>7.1} MiB",
                r + 1,
                TOOLS[i],
                run.wall,
                run.cpu,
                run.rss_mib
            );
            results[i].push(run);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    let med = |i: usize, f: fn(&Run) -> f64| median(&results[i].iter().map(f).collect::<Vec<_>>());
    let mut table = Table::new(&["client", "wall s", "CPU s", "peak RSS MiB", "messages/s"]);
    for (i, name) in TOOLS.iter().enumerate() {
        let wall = med(i, |r| r.wall);
        table.row(vec![
            (*name).to_owned(),
            format!("{wall:.2}"),
            format!("{:.2}", med(i, |r| r.cpu)),
            format!("{:.1}", med(i, |r| r.rss_mib)),
            format!("{:.0}", messages as f64 / wall),
        ]);
    }
    let wall = |i: usize| med(i, |r| r.wall);
    let ratios = vec![
        ("postfachd / raw floor (wall)".to_owned(), wall(1) / wall(0)),
        ("mbsync / postfachd (wall)".to_owned(), wall(2) / wall(1)),
        ("offlineimap / postfachd (wall)".to_owned(), wall(3) / wall(1)),
        ("postfachd / raw floor (CPU)".to_owned(), med(1, |r| r.cpu) / med(0, |r| r.cpu)),
        ("postfachd on-demand / postfachd (wall)".to_owned(), wall(4) / wall(1)),
    ];
    let mut size_table = Table::new(&["what", "MiB", "bytes per message", "on disk per message"]);
    let per = |bytes: u64| format!("{:.0}", bytes as f64 / messages as f64);
    size_table.row(vec![
        "the messages themselves (RFC 822)".into(),
        format!("{:.1}", total as f64 / 1048576.0),
        per(total as u64),
        "–".into(),
    ]);
    for (name, i) in [
        ("postfachd store (SQLite + WAL)", 1),
        ("postfachd store, bodies on demand (none fetched yet)", 4),
        ("mbsync maildir", 2),
    ] {
        let row = match sizes[i] {
            Some(s) => vec![format!("{:.1}", s.bytes as f64 / 1048576.0), per(s.bytes), per(s.on_disk)],
            None => vec!["–".into(); 3],
        };
        size_table.row([vec![name.to_owned()], row].concat());
    }
    Ok(Report { table, ratios, sizes: size_table })
}

/// The size of a postfachd store: SQLite's pages (`page_count × page_size`) and the WAL
/// file if one is left. Reads the WAL's size before opening the database, which may
/// checkpoint it.
pub fn store_size(db_path: &Path) -> anyhow::Result<Size> {
    let wal = std::fs::metadata(db_path.with_extension("sqlite3-wal")).ok();
    let db = rusqlite::Connection::open_with_flags(db_path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let pages: u64 = db.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    let page_size: u64 = db.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    let file = std::fs::metadata(db_path)?;
    let wal_bytes = wal.as_ref().map_or(0, std::fs::Metadata::len);
    let wal_blocks = wal.as_ref().map_or(0, |m| m.blocks() * 512);
    Ok(Size { bytes: pages * page_size + wal_bytes, on_disk: file.blocks() * 512 + wal_blocks })
}

/// The sizes of every file below `dir`, summed.
fn tree_size(dir: &Path) -> anyhow::Result<Size> {
    let mut size = Size::default();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        if meta.is_dir() {
            let sub = tree_size(&entry.path())?;
            size.bytes += sub.bytes;
            size.on_disk += sub.on_disk;
        } else {
            size.bytes += meta.len();
            size.on_disk += meta.blocks() * 512;
        }
    }
    Ok(size)
}

/// Compiles the bundled plugins once, as a long-running daemon would have; the runs then
/// measure syncing, not compiling.
pub fn warm_plugin_cache(bins: &Bins, scratch: &Path, cache: &Path, dv: &Dovecot) -> anyhow::Result<()> {
    let config = postfachd_config(&scratch.join("warm"), cache, dv)?;
    let out = Command::new(&bins.postfachd).arg("--config").arg(&config).arg("plugins").output()?;
    ensure!(out.status.success(), "postfachd plugins: {}", String::from_utf8_lossy(&out.stderr));
    Ok(())
}

/// A config directory with one account and the full routing chain.
fn postfachd_config(dir: &Path, cache: &Path, dv: &Dovecot) -> anyhow::Result<PathBuf> {
    postfachd_config_for(dir, cache, dv, USER, PASSWORD, "")
}

/// [`postfachd_config`] for the account `bench` logging in as `user`; `extra` is appended
/// to the account file (e.g. a `[sync]` table).
pub fn postfachd_config_for(
    dir: &Path,
    cache: &Path,
    dv: &Dovecot,
    user: &str,
    password: &str,
    extra: &str,
) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir.join("accounts"))?;
    std::fs::write(
        dir.join("postfach.toml"),
        format!(
            "data_dir = \"data\"\nprojects_file = \"projects.toml\"\n[plugins]\ncache_dir = \"{}\"\n[api]\nlisten = \"127.0.0.1:0\"\n",
            cache.display()
        ),
    )?;
    std::fs::write(
        dir.join("projects.toml"),
        "[projects]\n\"209-11\" = \"Kita\"\n\"210-01\" = \"Wohnanlage\"\n\"211-07\" = \"Schule Süd\"\n\"212-03\" = \"Rathaus\"\n",
    )?;
    std::fs::write(
        dir.join("accounts/bench.toml"),
        format!(
            r#"description = "Benchmark"
[identity]
email = "{USER}"
[imap]
host = "127.0.0.1"
port = {port}
username = "{user}"
security = "tls"
password = "{password}"
tls_ca_file = "{ca}"
[routing]
plugins = ["projektpro-folders", "subject-tag", "sender-map", "thread-follow"]
[routing.options]
"sender-map.map" = {{ "bauamt@musterstadt.de" = "211-07", "kraft-bau.de" = "210-01" }}
{extra}"#,
            port = dv.imaps_port,
            ca = dv.ca_file().display()
        ),
    )?;
    Ok(dir.to_owned())
}

fn floor(bins: &Bins, dv: &Dovecot, dir: &Path) -> anyhow::Result<Run> {
    let mut cmd = Command::new(&bins.bench);
    cmd.args(["floor", &dv.imaps_port.to_string()]).arg(dv.ca_file()).args([USER, PASSWORD]);
    measure::run(&mut cmd, dir)
}

/// The account file's addition for on-demand bodies.
const ON_DEMAND: &str = "[sync]\nbodies = \"on-demand\"\n";

fn postfachd(
    bins: &Bins,
    dv: &Dovecot,
    dir: &Path,
    cache: &Path,
    messages: usize,
    extra: &str,
) -> anyhow::Result<(Run, Size)> {
    let config = postfachd_config_for(&dir.join("config"), cache, dv, USER, PASSWORD, extra)?;
    // POSTFACH_BENCH_PERF=FILE records a profile of the run (perf record).
    let mut cmd = match std::env::var_os("POSTFACH_BENCH_PERF") {
        Some(out) => {
            let mut c = Command::new("perf");
            c.args(["record", "-F", "999", "--call-graph", "dwarf,32768", "-o"]).arg(out).arg(&bins.postfachd);
            c
        }
        None => Command::new(&bins.postfachd),
    };
    cmd.arg("--config").arg(&config).args(["sync", "bench", "--once"]);
    let run = measure::run(&mut cmd, dir)?;
    let db_path = config.join("data/postfach.sqlite3");
    // Before anything opens the store again: the WAL as the daemon left it.
    let size = store_size(&db_path)?;
    check_stored(&db_path, messages)?;
    eprintln!(
        "    store: {:.1} MiB ({:.0} bytes per message)",
        size.bytes as f64 / 1048576.0,
        size.bytes as f64 / messages as f64
    );
    Ok((run, size))
}

/// Checks that the store at `db_path` holds and routed `messages` messages.
pub fn check_stored(db_path: &Path, messages: usize) -> anyhow::Result<()> {
    let db = rusqlite::Connection::open_with_flags(db_path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let stored: usize = db.query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))?;
    let routed: usize = db.query_row("SELECT COUNT(*) FROM route_traces", [], |r| r.get(0)).unwrap_or(0);
    ensure!(stored == messages, "postfachd stored {stored} of {messages} messages");
    ensure!(routed == messages, "postfachd routed {routed} of {messages} messages");
    Ok(())
}

fn count_files(dir: &Path) -> usize {
    let mut n = 0;
    for sub in ["cur", "new"] {
        if let Ok(entries) = std::fs::read_dir(dir.join(sub)) {
            n += entries.count();
        }
    }
    n
}

fn mbsync(dv: &Dovecot, dir: &Path, messages: usize) -> anyhow::Result<Run> {
    let maildir = dir.join("mail");
    std::fs::create_dir_all(&maildir)?;
    let config = dir.join("mbsyncrc");
    std::fs::write(
        &config,
        format!(
            "IMAPAccount bench\nHost localhost\nPort {port}\nUser {USER}\nPass {PASSWORD}\nSSLType IMAPS\nCertificateFile {ca}\n\n\
             IMAPStore remote\nAccount bench\n\n\
             MaildirStore local\nPath {m}/\nInbox {m}/INBOX\n\n\
             Channel bench\nFar :remote:\nNear :local:\nPatterns INBOX\nCreate Near\nSync Pull\nSyncState *\n",
            port = dv.imaps_port,
            ca = dv.ca_file().display(),
            m = maildir.display()
        ),
    )?;
    let mut cmd = Command::new("mbsync");
    cmd.arg("-c").arg(&config).args(["-q", "bench"]);
    let run = measure::run(&mut cmd, dir).context("mbsync (apt-get install isync)")?;
    let got = count_files(&maildir.join("INBOX"));
    if got != messages {
        bail!("mbsync fetched {got} of {messages} messages");
    }
    Ok(run)
}

fn offlineimap(dv: &Dovecot, dir: &Path, messages: usize) -> anyhow::Result<Run> {
    let maildir = dir.join("mail");
    let config = dir.join("offlineimaprc");
    std::fs::write(
        &config,
        format!(
            "[general]\naccounts = bench\nmetadata = {meta}\n\n\
             [Account bench]\nlocalrepository = local\nremoterepository = remote\n\n\
             [Repository local]\ntype = Maildir\nlocalfolders = {m}\n\n\
             [Repository remote]\ntype = IMAP\nremotehost = localhost\nremoteport = {port}\nremoteuser = {USER}\n\
             remotepass = {PASSWORD}\nssl = yes\nsslcacertfile = {ca}\nfolderfilter = lambda f: f == 'INBOX'\n",
            meta = dir.join("meta").display(),
            m = maildir.display(),
            port = dv.imaps_port,
            ca = dv.ca_file().display()
        ),
    )?;
    let mut cmd = Command::new("offlineimap");
    cmd.arg("-c").arg(&config).args(["-o", "-u", "quiet"]);
    let run = measure::run(&mut cmd, dir).context("offlineimap (apt-get install offlineimap3)")?;
    let got = count_files(&maildir.join("INBOX"));
    if got != messages {
        bail!("offlineimap fetched {got} of {messages} messages");
    }
    Ok(run)
}
