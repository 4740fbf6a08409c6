//! `postfach-bench`: Postfach's benchmarks against real servers on loopback (`make bench`).
//!
//! ```text
//! postfach-bench [all|initial|scale|latency|reload|api|large] [--runs N] [--messages N] [--accounts N]
//!                [--per-account N] [--store-messages N] [--large-messages N] [--write FILE]
//! ```
//! Prints Markdown tables of medians (and percentiles) and the headline ratios; `--write`
//! also writes them, with the machine's description, to FILE (bench/RESULTS.md). Timing
//! goals are reported here, never asserted in tests. `large` takes the size of its mailbox
//! from `--messages` when run alone (`postfach-bench large --messages 100000`), and from
//! `--large-messages` (default 100,000) in `all`. `--per-account` is the number of messages
//! in each of the scale run's accounts (default 50; `scale --accounts 10000 --per-account 5`
//! for ten thousand accounts with a few messages each).
//!
//! For profiling: `POSTFACH_BENCH_ONLY=postfachd,floor` runs only those tools of the
//! initial sync, `POSTFACH_BENCH_PERF=FILE` records postfachd's run with `perf record`
//! (DWARF call graphs), `POSTFACH_BENCH_PAUSE=SECS` keeps the scale run's idle daemon alive
//! for a look at its memory (and the large run's daemon on its synced store).
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod api;
mod corpus;
mod floor;
mod initial;
mod large;
mod latency;
mod measure;
mod scale;

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, bail};

/// How the numbers come about; written below the tables.
const METHOD: &str = "## Method

- Everything runs on this machine against a Dovecot on 127.0.0.1 started by the test
  harness, spoken to over implicit TLS (certificate from a CA made for the run).
- Initial sync: the mailbox is generated from a fixed seed (log-normal sizes, median about
  4 KB, realistic headers, threads, attachments) and written into Dovecot's maildir, which
  Dovecot indexes before the first run. Each tool starts from nothing in every run, the
  order of the tools rotates between runs, and every tool is checked to have fetched every
  message. Wall and CPU time (user + system) and peak RSS come from GNU time.
  - raw floor: one TLS connection, LOGIN, SELECT, `UID FETCH 1:* (FLAGS INTERNALDATE
    BODY.PEEK[])` read to the end and thrown away (`postfach-bench floor`).
  - postfachd: `postfachd sync bench --once` into a new store with the routing chain
    projektpro-folders → subject-tag → sender-map → thread-follow and a project list; the
    plugin cache is warm (compiled once before the runs, as in a running daemon).
  - mbsync: `Sync Pull` of INBOX into a maildir, isync's defaults otherwise (it fsyncs).
  - offlineimap: one account, INBOX only, into a maildir, `-o -u quiet`.
- Scale: 1,000 users with 50 messages each in one Dovecot; one `postfachd run` with an
  account file per user (all with the routing chain). Synced = every account idle with a
  finished first pass, read from the store. RSS per idle account = (RSS with every account
  idle on its IDLE connection, 20 s after the last sync − RSS of the same daemon with no
  accounts) / 1,000.
- Latency: 200 messages appended one at a time by another client; the time until the
  message is in the store with a project assignment. A fresh client IDLEing on the inbox
  shows when Dovecot announces the message: Dovecot holds IDLE notifications back for
  500 ms to batch changes (`NOTIFY_DELAY_MSECS`), which no client can avoid.
- Integration API: a store of 1,000,000 generated messages (median 1.5 KB) filled once
  with `postfachd import` (kept in the target directory for later runs); `postfachd run`
  serves it; a blocking HTTP client with keep-alive on the same machine. Pages: 200
  requests of the newest page and 400 of pages deep in the store (random cursors); search:
  a word in 10 messages; feed: 200,000 events read 1,000 per page; memory: RSS while 100
  client threads send pages, searches and single messages for 10 s, minus RSS before;
  webhooks: the endpoint's cursor moved back 20,000 events, timed from the first delivery
  to the last at the harness's receiver (which checks every signature).
- Large mailbox: the initial-sync corpus continued to 100,000 messages (the first 10,000
  are the initial-sync mailbox), written into Dovecot's maildir as it is generated.
  Initial sync as above, of 10,000 and of 100,000 messages, one run each. kill -9 at 50 %:
  `sync --once` on a new store is killed (SIGSTOP, its socket's receive queue read with
  `ss`, SIGKILL) as soon as a read-only connection sees half the messages committed, then
  `sync --once` runs again to the end; Dovecot's logout line (`body_count`, `body_bytes`
  per session) says what each run downloaded, the store what was committed. Incremental
  pass: `postfachd run` on the synced store, passes asked for with
  `POST /v1/accounts/bench/sync`, each pass's duration read from the daemon's
  `postfach_pass_duration_seconds` histogram (the change of its sum), so process start-up
  and the request are not in it; the routing after the pass is not in it either, so the
  time from the request until the store shows the account `idle` again (read every
  millisecond) is given beside it.
- Reload: the account file is replaced (written beside it, then renamed) 100 times with a
  new description; the time until the store shows it. The config watcher waits 150 ms for
  an editor's writes to settle before it reloads.
";

/// The binaries under test.
pub struct Bins {
    /// The release `postfachd`.
    pub postfachd: PathBuf,
    /// This program (for the raw-floor child).
    pub bench: PathBuf,
}

/// A Markdown table.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these columns.
    pub fn new(header: &[&str]) -> Self {
        Table { header: header.iter().map(|h| (*h).to_owned()).collect(), rows: Vec::new() }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn render(&self) -> String {
        let mut out = format!("| {} |\n|{}|\n", self.header.join(" | "), vec!["---"; self.header.len()].join("|"));
        for r in &self.rows {
            let _ = writeln!(out, "| {} |", r.join(" | "));
        }
        out
    }
}

struct Options {
    what: String,
    runs: usize,
    messages: usize,
    accounts: usize,
    /// Messages per account in the scale run.
    per_account: usize,
    store_messages: usize,
    /// Messages in the `large` mailbox; `None`: `--messages` when `large` runs alone, else
    /// 100,000.
    large_messages: Option<usize>,
    write: Option<PathBuf>,
}

fn options() -> anyhow::Result<Options> {
    let mut o = Options {
        what: "all".into(),
        runs: 3,
        messages: 10_000,
        accounts: 1000,
        per_account: scale::PER_ACCOUNT,
        store_messages: 1_000_000,
        large_messages: None,
        write: None,
    };
    let mut messages_given = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--runs" => o.runs = value()?.parse()?,
            "--messages" => {
                o.messages = value()?.parse()?;
                messages_given = true;
            }
            "--large-messages" => o.large_messages = Some(value()?.parse()?),
            "--accounts" => o.accounts = value()?.parse()?,
            "--per-account" => o.per_account = value()?.parse()?,
            "--store-messages" => o.store_messages = value()?.parse()?,
            "--write" => o.write = Some(PathBuf::from(value()?)),
            "all" | "initial" | "scale" | "latency" | "reload" | "api" | "large" => o.what = a,
            other => bail!("unknown argument {other}; see the top of bench/src/main.rs"),
        }
    }
    if o.large_messages.is_none() && o.what == "large" && messages_given {
        o.large_messages = Some(o.messages);
    }
    Ok(o)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next().and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok()))
        .map_or_else(|| "?".into(), |kb| format!("{:.0} GiB", kb as f64 / 1048576.0));
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_owned();
    let version = |cmd: &str, arg: &str| {
        std::process::Command::new(cmd)
            .arg(arg)
            .output()
            .ok()
            .map(|o| {
                String::from_utf8_lossy(if o.stdout.is_empty() { &o.stderr } else { &o.stdout })
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_owned()
            })
            .unwrap_or_else(|| "not installed".into())
    };
    format!(
        "{cpu}, {cores} cores, {mem} RAM, Linux {kernel}; Dovecot {}; {}; offlineimap {}",
        version("dovecot", "--version"),
        version("mbsync", "--version"),
        version("offlineimap", "--version")
    )
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("floor") {
        let [_, _, port, ca, user, password] = &args[..] else { bail!("floor PORT CA USER PASSWORD") };
        let bytes = floor::fetch_all(port.parse()?, std::path::Path::new(ca), user, password)?;
        eprintln!("raw floor: {bytes} bytes");
        return Ok(());
    }
    let o = options()?;
    let exe = std::env::current_exe()?;
    let dir = exe.parent().context("no directory of the executable")?;
    let bins = Bins { postfachd: dir.join("postfachd"), bench: exe.clone() };
    if !bins.postfachd.exists() {
        bail!("{} is missing: cargo build --release -p postfach", bins.postfachd.display());
    }
    let mut report = format!("Machine: {}\n\n", machine());
    let all = o.what == "all";
    if all || o.what == "initial" {
        let initial = initial::run(&bins, o.messages, o.runs)?;
        let _ = writeln!(
            report,
            "## Initial sync: {} messages, medians of {} runs\n\n{}",
            o.messages,
            o.runs,
            initial.table.render()
        );
        for (name, value) in initial.ratios {
            let _ = writeln!(report, "- {name}: **{value:.2}×**");
        }
        let _ = writeln!(report, "\n### Store size after the initial sync\n\n{}", initial.sizes.render());
    }
    if all || o.what == "scale" {
        let table = scale::run(&bins, o.accounts, o.per_account)?;
        let _ = writeln!(report, "## Scale: {} accounts in one daemon\n\n{}", o.accounts, table.render());
    }
    if all || o.what == "latency" {
        let table = latency::push(&bins, 200)?;
        let _ = writeln!(report, "## Latency: appended on the server → stored and routed (IDLE)\n\n{}", table.render());
    }
    if all || o.what == "reload" {
        let table = latency::reload(&bins, 100)?;
        let _ = writeln!(report, "## Reload: account file changed → new settings in effect\n\n{}", table.render());
    }
    if all || o.what == "large" {
        let messages = o.large_messages.unwrap_or(100_000);
        let table = large::run(&bins, messages)?;
        let _ = writeln!(report, "## Large mailbox: {messages} messages in one folder\n\n{}", table.render());
    }
    if all || o.what == "api" {
        let table = api::run(&bins, o.store_messages)?;
        let _ =
            writeln!(report, "## Integration API on a store of {} messages\n\n{}", o.store_messages, table.render());
    }
    println!("{report}");
    if let Some(path) = o.write {
        let text = format!(
            "# Postfach benchmark results\n\nReproduce: `make bench` (release build, installs isync and offlineimap3), or \
             `target/release/postfach-bench {} --runs {} --messages {} --accounts {}{}`.\n\n{report}{METHOD}",
            o.what,
            o.runs,
            o.messages,
            o.accounts,
            if o.per_account == scale::PER_ACCOUNT {
                String::new()
            } else {
                format!(" --per-account {}", o.per_account)
            }
        );
        std::fs::write(&path, text)?;
        eprintln!("written to {}", path.display());
    }
    Ok(())
}
