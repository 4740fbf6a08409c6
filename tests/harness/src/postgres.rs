//! A private PostgreSQL server for the cluster tests: `initdb` into a temporary
//! directory, `pg_ctl start` on a free loopback port, password authentication (SCRAM)
//! for the role `postfach`, and a fresh database per [`Postgres::database`] call so the
//! tests of one run can share a server without seeing each other's rows.
//!
//! PostgreSQL refuses to run as root; as root the harness hands the directory to the
//! `postgres` user that Debian's package creates and runs the tools as that user.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::error::{HarnessError, io};
use crate::net::{free_port, wait_for_port};
use crate::process::euid;

/// The role the tests connect as.
pub const USER: &str = "postfach";
/// Its password (the server accepts only SCRAM over TCP).
pub const PASSWORD: &str = "postfach-test-secret";

/// A running PostgreSQL. Stopped (immediately: it holds only test data) on drop.
pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// The TCP port on 127.0.0.1.
    pub port: u16,
    databases: AtomicU32,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres").field("port", &self.port).finish()
    }
}

impl Postgres {
    /// Creates a cluster and starts it on a free port (about a second).
    pub fn start() -> Result<Postgres, HarnessError> {
        let bin = bin_dir()?;
        let dir = tempfile::Builder::new().prefix("postfach-postgres-").tempdir().map_err(io("creating a temp dir"))?;
        let mut pg = Postgres { dir, bin, port: 0, databases: AtomicU32::new(0) };
        std::fs::create_dir_all(pg.socket_dir()).map_err(io("creating the socket dir"))?;
        std::fs::write(pg.root().join("pwfile"), PASSWORD).map_err(io("writing the password file"))?;
        if euid() == 0 {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(pg.root())
                .status()
                .map_err(io("running chown"))?;
            if !status.success() {
                return Err(HarnessError::Setup("cannot hand the PostgreSQL dir to the postgres user".into()));
            }
        }
        let data = pg.data_dir();
        let pwfile = pg.root().join("pwfile");
        pg.tool(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                USER.as_ref(),
                "--pwfile".as_ref(),
                pwfile.as_os_str(),
                "--auth-local=trust".as_ref(),
                "--auth-host=scram-sha-256".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--locale=C.UTF-8".as_ref(),
            ],
        )?;
        let mut last = None;
        for _ in 0..3 {
            let port = free_port();
            let options = format!(
                "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c synchronous_commit=off \
                 -c full_page_writes=off -c max_connections=300 -c log_min_messages=warning",
                pg.socket_dir().display()
            );
            let log = pg.root().join("postgres.log");
            let started = pg.tool(
                "pg_ctl",
                &[
                    "-D".as_ref(),
                    data.as_os_str(),
                    "-o".as_ref(),
                    options.as_ref(),
                    "-l".as_ref(),
                    log.as_os_str(),
                    "-w".as_ref(),
                    "-t".as_ref(),
                    "30".as_ref(),
                    "start".as_ref(),
                ],
            );
            match started {
                Ok(_) if wait_for_port(([127, 0, 0, 1], port).into(), Duration::from_secs(10)) => {
                    pg.port = port;
                    return Ok(pg);
                }
                Ok(_) => {
                    pg.stop();
                    last = Some("the port did not open".to_owned());
                }
                Err(e) => last = Some(e.to_string()),
            }
        }
        Err(HarnessError::Start {
            server: "postgresql".into(),
            reason: last.unwrap_or_default(),
            log: std::fs::read_to_string(pg.root().join("postgres.log")).unwrap_or_default(),
        })
    }

    /// Creates a new, empty database owned by [`USER`] and returns its URL (without the
    /// password, which goes in `[store] password`): `postgres://postfach@127.0.0.1:<port>/<name>`.
    pub fn database(&self) -> Result<String, HarnessError> {
        let n = self.databases.fetch_add(1, Ordering::Relaxed);
        let name = format!("postfach_{n}");
        self.psql("postgres", &format!("CREATE DATABASE {name} OWNER {USER}"))?;
        Ok(self.url(&name))
    }

    /// The URL of database `name`.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{name}", self.port)
    }

    /// Runs `sql` in database `name` through psql on the Unix socket; returns its output
    /// (unaligned, tuples only: one row per line, columns separated by `|`).
    pub fn psql(&self, database: &str, sql: &str) -> Result<String, HarnessError> {
        let socket = self.socket_dir();
        let port = self.port.to_string();
        let out = self.tool(
            "psql",
            &[
                "-h".as_ref(),
                socket.as_os_str(),
                "-p".as_ref(),
                port.as_ref(),
                "-U".as_ref(),
                USER.as_ref(),
                "-d".as_ref(),
                database.as_ref(),
                "-v".as_ref(),
                "ON_ERROR_STOP=1".as_ref(),
                "-At".as_ref(),
                "-c".as_ref(),
                sql.as_ref(),
            ],
        )?;
        Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_owned())
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root().join("postgres.log")).unwrap_or_default()
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn data_dir(&self) -> PathBuf {
        self.root().join("data")
    }

    fn socket_dir(&self) -> PathBuf {
        self.root().join("run")
    }

    /// Runs one of PostgreSQL's programs, as the `postgres` user when we are root.
    fn tool(&self, program: &str, args: &[&std::ffi::OsStr]) -> Result<Output, HarnessError> {
        let path = self.bin.join(program);
        let mut cmd = if euid() == 0 {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        // A test must not pick up the developer's own PG* settings.
        for var in ["PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD", "PGSERVICE"] {
            cmd.env_remove(var);
        }
        let out = cmd
            .args(args)
            .current_dir(self.root())
            .stdin(Stdio::null())
            .output()
            .map_err(io(format!("running {}", path.display())))?;
        if !out.status.success() {
            return Err(HarnessError::Start {
                server: format!("postgresql ({program})"),
                reason: format!("{}; {}", out.status, String::from_utf8_lossy(&out.stderr).trim()),
                log: self.log(),
            });
        }
        Ok(out)
    }
}

impl Postgres {
    fn stop(&self) {
        let data = self.data_dir();
        let _ = self
            .tool("pg_ctl", &["-D".as_ref(), data.as_os_str(), "-m".as_ref(), "immediate".as_ref(), "stop".as_ref()]);
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.port != 0 {
            self.stop();
        }
    }
}

/// The newest installed PostgreSQL's program directory (`/usr/lib/postgresql/<v>/bin`).
fn bin_dir() -> Result<PathBuf, HarnessError> {
    let missing = || HarnessError::Missing {
        program: "PostgreSQL (initdb, pg_ctl)".into(),
        hint: "run scripts/install-deps.sh, or apt-get install postgresql".into(),
    };
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| missing())?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).ok_or_else(missing)
}
