//! Test support: a config directory, the `postfachd` binary, and polling helpers.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use postfach_test_harness::mail::Mail;
use postfach_test_harness::{Dovecot, DovecotConfig, ImapClient, RecordingProxy};
use serde_json::Value;

/// The binary under test.
pub fn postfachd_bin() -> &'static str {
    env!("CARGO_BIN_EXE_postfachd")
}

/// A config directory with `postfach.toml` and `accounts/`.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        bundled_plugins();
        let dir = tempfile::Builder::new().prefix("postfach-test-").tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("accounts")).unwrap();
        // Every test's postfachd shares one cache of compiled plugins.
        let cache = target_dir().join("tmp/plugin-cache");
        std::fs::write(
            dir.path().join("postfach.toml"),
            format!(
                "data_dir = \"data\"\naccounts_dir = \"accounts\"\n[plugins]\ncache_dir = \"{}\"\n\n\
                 # Every test's daemon gets a free port (written to data/api.addr).\n[api]\nlisten = \"127.0.0.1:0\"\n",
                cache.display()
            ),
        )
        .unwrap();
        Env { dir }
    }

    /// The config's own plugin directory (`plugins/`), created.
    pub fn plugin_dir(&self) -> PathBuf {
        let dir = self.dir.path().join("plugins");
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn account_path(&self, id: &str) -> PathBuf {
        self.dir.path().join("accounts").join(format!("{id}.toml"))
    }

    /// Writes (atomically, like an editor's save) an account file.
    pub fn write_account(&self, id: &str, toml: &str) {
        let tmp = self.dir.path().join(format!(".{id}.toml.tmp"));
        std::fs::write(&tmp, toml).unwrap();
        std::fs::rename(&tmp, self.account_path(id)).unwrap();
    }

    pub fn remove_account(&self, id: &str) {
        std::fs::remove_file(self.account_path(id)).unwrap();
    }

    /// Runs `postfachd --config DIR args…`.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(postfachd_bin())
            .arg("--config")
            .arg(self.path())
            .args(args)
            .env("POSTFACH_LOG", "warn")
            .output()
            .unwrap()
    }

    /// Runs a command that must succeed; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "postfachd {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs a listing command with `--json` and parses it.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        serde_json::from_str(&self.ok(&args)).unwrap()
    }

    /// The account entry of `postfachd accounts --json`.
    pub fn account(&self, id: &str) -> Value {
        let all = self.json(&["accounts"]);
        all.as_array().unwrap().iter().find(|a| a["id"] == id).cloned().unwrap_or(Value::Null)
    }

    /// Messages of an account.
    pub fn messages(&self, account: &str) -> Vec<Value> {
        self.json(&["messages", account]).as_array().unwrap().clone()
    }

    /// Subjects of an account's messages, sorted.
    pub fn subjects(&self, account: &str, folder: Option<&str>) -> Vec<String> {
        let mut args = vec!["messages", account];
        if let Some(f) = folder {
            args.extend(["--folder", f]);
        }
        let mut s: Vec<String> = self
            .json(&args)
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["subject"].as_str().unwrap_or("").to_owned())
            .collect();
        s.sort();
        s
    }

    /// Starts `postfachd run` on this config.
    pub fn daemon(&self) -> Daemon {
        self.daemon_with_env(&[])
    }

    /// Starts `postfachd run` with a relative `--config` (as an admin in `/etc` would type
    /// `--config postfach`), to catch paths compared in two different forms.
    pub fn daemon_relative(&self) -> Daemon {
        let log = std::fs::File::create(self.path().join("daemon.log")).unwrap();
        let child = Command::new(postfachd_bin())
            .current_dir(self.path().parent().unwrap())
            .arg("--config")
            .arg(self.path().file_name().unwrap())
            .arg("run")
            .env("POSTFACH_LOG", "postfach=debug")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        Daemon { child: Some(child), log: self.path().join("daemon.log") }
    }

    /// Starts `postfachd run` with extra environment variables.
    pub fn daemon_with_env(&self, vars: &[(&str, &str)]) -> Daemon {
        let log = std::fs::File::create(self.path().join("daemon.log")).unwrap();
        let child = Command::new(postfachd_bin())
            .arg("--config")
            .arg(self.path())
            .arg("run")
            .envs(vars.iter().copied())
            .env("POSTFACH_LOG", "postfach=debug")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        Daemon { child: Some(child), log: self.path().join("daemon.log") }
    }
}

/// A running daemon; killed on drop.
pub struct Daemon {
    pub child: Option<Child>,
    log: PathBuf,
}

impl Daemon {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub fn signal(&self, sig: &str) {
        Command::new("kill").arg(format!("-{sig}")).arg(self.pid().to_string()).status().unwrap();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Like [`wait_for`], with the daemon's log in the failure message.
    pub fn wait_for<T>(&self, what: &str, timeout: Duration, f: impl FnMut() -> Option<T>) -> T {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| wait_for(what, timeout, f))) {
            Ok(v) => v,
            Err(_) => panic!("timed out after {timeout:?} waiting for {what}; daemon log:\n{}", self.log()),
        }
    }

    /// kill -9, then wait for the process to be gone.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// SIGTERM and wait; returns whether it exited successfully.
    pub fn stop(&mut self) -> bool {
        let Some(mut c) = self.child.take() else { return false };
        Command::new("kill").arg("-TERM").arg(c.id().to_string()).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = c.try_wait().unwrap() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        false
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Polls `f` until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The password every fixture user has.
pub const PASSWORD: &str = "geheim-Passwort-1";

/// Starts Dovecot with the given users (all with [`PASSWORD`]).
pub fn dovecot(config: DovecotConfig, users: &[&str]) -> Dovecot {
    let mut config = config;
    for u in users {
        config = config.user(u, PASSWORD);
    }
    Dovecot::start(config).unwrap()
}

/// An account file for `user` on `dv` over implicit TLS with the run's CA, plus `extra`
/// TOML (whole sections allowed).
pub fn account_toml(dv: &Dovecot, user: &str, extra: &str) -> String {
    format!(
        r#"description = "Test account {user}"

[identity]
name = "Test User"
email = "{user}"

[imap]
host = "127.0.0.1"
port = {port}
security = "tls"
username = "{user}"
password = "{PASSWORD}"
tls_ca_file = "{ca}"
timeout_secs = 10

{extra}
"#,
        port = dv.imaps_port,
        ca = dv.ca_file().display(),
    )
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).unwrap().to_path_buf()
}

/// Cargo's target directory for this build.
pub fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().to_path_buf()
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Builds the bundled plugins (`make plugins`) next to the postfachd under test, once per
/// test run; returns that directory.
pub fn bundled_plugins() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(postfachd_bin()).parent().unwrap().join("plugins");
        run_ok(
            Command::new(repo_root().join("scripts/build-plugins.sh"))
                .arg(&dir)
                .env("TARGET_DIR", target_dir())
                .env("CARGO", cargo()),
        );
        dir
    })
}

/// A misbehaving test plugin from tests/plugins (built once per test run).
pub fn test_plugin(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let out = BUILT.get_or_init(|| {
        let target = target_dir().join("test-plugins");
        for pkg in
            ["looper", "hog", "panicker", "bad-import", "future-version", "slow-router", "bad-router", "legacy-adapter"]
        {
            run_ok(
                Command::new(cargo())
                    .args(["build", "--quiet", "--release", "--target", "wasm32-wasip2", "-p", &format!("test-{pkg}")])
                    .arg("--manifest-path")
                    .arg(repo_root().join("tests/plugins/Cargo.toml"))
                    .env("CARGO_TARGET_DIR", &target),
            );
        }
        // The second version of the slow router, kept under its own name.
        let release = target.join("wasm32-wasip2/release");
        std::fs::copy(release.join("test_slow_router.wasm"), release.join("test_slow_router_v1.wasm")).unwrap();
        run_ok(
            Command::new(cargo())
                .args([
                    "build",
                    "--quiet",
                    "--release",
                    "--target",
                    "wasm32-wasip2",
                    "-p",
                    "test-slow-router",
                    "--features",
                    "v2",
                ])
                .arg("--manifest-path")
                .arg(repo_root().join("tests/plugins/Cargo.toml"))
                .env("CARGO_TARGET_DIR", &target),
        );
        std::fs::copy(release.join("test_slow_router.wasm"), release.join("test_slow_router_v2.wasm")).unwrap();
        release
    });
    out.join(format!("test_{}.wasm", name.replace('-', "_")))
}

/// An example of the plugin SDK, built for wasm32-wasip2.
pub fn sdk_example(name: &str, feature: &str) -> PathBuf {
    let target = target_dir().join("sdk-examples");
    run_ok(
        Command::new(cargo())
            .args(["build", "--quiet", "--release", "--target", "wasm32-wasip2", "-p", "postfach-plugin-sdk"])
            .args(["--example", name, "--features", feature])
            .arg("--manifest-path")
            .arg(repo_root().join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", &target),
    );
    target.join(format!("wasm32-wasip2/release/examples/{name}.wasm"))
}

/// Dovecot 2.3's capabilities after login, for fixtures that hide some of them.
pub const DOVECOT_CAPS: &str = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES \
    THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS \
    LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY \
    MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY SPECIAL-USE";

/// [`DOVECOT_CAPS`] without the named capabilities (the server still understands them,
/// but a client that reads CAPABILITY must not use them).
pub fn caps_without(drop: &[&str]) -> String {
    DOVECOT_CAPS.split_whitespace().filter(|c| !drop.contains(c)).collect::<Vec<_>>().join(" ")
}

/// An account file that talks plain IMAP to `port` (a recording relay in front of `dv`).
pub fn account_toml_via(dv: &Dovecot, user: &str, port: u16, extra: &str) -> String {
    account_toml(dv, user, extra)
        .replace(&format!("port = {}", dv.imaps_port), &format!("port = {port}"))
        .replace("security = \"tls\"", "security = \"plain\"\nallow_plaintext = true")
}

/// A message's entry in `postfachd messages --json`, by subject.
pub fn message_by_subject(env: &Env, account: &str, subject: &str) -> Option<Value> {
    env.messages(account).into_iter().find(|m| m["subject"] == subject)
}

/// An account's events as `(kind, message local id)`, in order (read from the store).
pub fn events(env: &Env, account: &str) -> Vec<(String, i64)> {
    let db = rusqlite::Connection::open(env.path().join("data/postfach.sqlite3")).unwrap();
    let mut stmt = db.prepare("SELECT kind, COALESCE(message, 0) FROM events WHERE account = ?1 ORDER BY seq").unwrap();
    stmt.query_map([account], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
}

/// Dovecot (with `caps` instead of its own capabilities, if given) whose `user` has
/// "Nachricht 1" to "Nachricht 3" in the INBOX, a recording relay in front of it, and a
/// client of that user: the setup of tests where another client changes mail.
pub fn three_messages_behind_a_relay(
    config: DovecotConfig,
    caps: Option<&str>,
    user: &str,
) -> (Dovecot, RecordingProxy, ImapClient) {
    let mut config = config;
    if let Some(c) = caps {
        config = config.capability(c);
    }
    let dv = dovecot(config, &[user]);
    let proxy = RecordingProxy::start(([127, 0, 0, 1], dv.imap_port).into()).unwrap();
    let mut c = dv.client(user).unwrap();
    for n in 1..=3 {
        c.append("INBOX", &[], None, &Mail::new(n, &format!("Nachricht {n}")).to_bytes()).unwrap();
    }
    (dv, proxy, c)
}

/// The flags of a message entry of `postfachd messages --json`.
pub fn flags(m: &Value) -> Vec<String> {
    m["flags"].as_array().map(|a| a.iter().map(|f| f.as_str().unwrap_or("").to_owned()).collect()).unwrap_or_default()
}

/// How many of the daemon's connections through `proxy` are in IDLE right now: IDLE
/// commands the server answered with `+ idling`, less those the daemon ended with DONE.
pub fn idle_connections(proxy: &RecordingProxy) -> usize {
    let started = proxy.server_text().matches("+ idling").count();
    started.saturating_sub(proxy.client_text().matches("DONE\r\n").count())
}

/// How one `postfachd sync --once` ended.
#[derive(Debug)]
pub struct SyncOutcome {
    pub code: Option<i32>,
    pub stderr: String,
    pub elapsed: Duration,
    /// Peak resident set (VmHWM) sampled while it ran, in KiB.
    pub peak_kib: u64,
    /// It still ran at the limit and was killed.
    pub killed: bool,
}

/// The peak resident set (VmHWM) of a running process, in KiB.
pub fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `postfachd sync --once` (debug log), killing it after `limit` so that a hang fails
/// the test instead of stalling it, and sampling its peak memory.
pub fn sync_once_within(env: &Env, limit: Duration) -> SyncOutcome {
    let err_path = env.path().join("sync.stderr");
    let start = Instant::now();
    let mut child = Command::new(postfachd_bin())
        .arg("--config")
        .arg(env.path())
        .args(["sync", "--once"])
        .env("POSTFACH_LOG", "postfach=debug")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (mut peak, mut killed) = (0, false);
    let status = loop {
        if let Some(kib) = peak_kib(pid) {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            killed = true;
            child.kill().unwrap();
            break child.wait().unwrap();
        }
        // Polling the child's exit (and its memory).
        std::thread::sleep(Duration::from_millis(5));
    };
    SyncOutcome {
        code: status.code(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
        elapsed: start.elapsed(),
        peak_kib: peak,
        killed,
    }
}
