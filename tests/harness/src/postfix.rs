//! A private Postfix instance for SMTP submission: its own config directory, queue and
//! ports, SASL through a [`Dovecot`]'s auth listener, and delivery by LMTP into that
//! Dovecot, so a test reads back what it sent from the recipient's INBOX.
//!
//! Two recipients answer on purpose: `reject@<domain>` gets a permanent
//! `554 5.7.1 … Mailbox gesperrt`, `defer@<domain>` a temporary `450 4.2.1 … Mailbox voll`.
//! Postfix's master must run as root.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::dovecot::Dovecot;
use crate::error::{HarnessError, io};
use crate::net::{free_port, wait_for_greeting};
use crate::process;

/// One submission front door: a pair of listeners that authenticate against one Dovecot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listener {
    /// Submission with STARTTLS (and plaintext) on 127.0.0.1.
    pub submission: u16,
    /// Implicit TLS on 127.0.0.1.
    pub smtps: u16,
}

enum Dir {
    Temp(tempfile::TempDir),
    Fixed(PathBuf),
}

/// A running Postfix. Stopped on drop, unless detached.
pub struct Postfix {
    dir: Dir,
    child: Option<Child>,
    /// Submission with STARTTLS (and plaintext) on 127.0.0.1, for the first server's users.
    pub submission_port: u16,
    /// Implicit TLS on 127.0.0.1, for the first server's users.
    pub smtps_port: u16,
    /// One pair of listeners per Dovecot, in the order given.
    pub listeners: Vec<Listener>,
}

impl std::fmt::Debug for Postfix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postfix").field("listeners", &self.listeners).finish()
    }
}

impl Postfix {
    /// Starts Postfix in front of `dovecot` on free ports, accepting mail for the domains
    /// of its users.
    pub fn start(dovecot: &Dovecot) -> Result<Postfix, HarnessError> {
        Self::start_many(&[dovecot])
    }

    /// Starts Postfix in front of several Dovecots on free ports: mail for each server's
    /// domains is delivered to that server, and each server has its own listeners whose
    /// SASL (and TLS certificate) is that server's.
    pub fn start_many(servers: &[&Dovecot]) -> Result<Postfix, HarnessError> {
        preflight()?;
        let dir = tempfile::Builder::new().prefix("postfach-postfix-").tempdir().map_err(io("creating a temp dir"))?;
        let mut pf =
            Postfix { dir: Dir::Temp(dir), child: None, submission_port: 0, smtps_port: 0, listeners: Vec::new() };
        let mut last = None;
        for _ in 0..3 {
            let listeners = servers.iter().map(|_| Listener { submission: free_port(), smtps: free_port() }).collect();
            pf.set_listeners(listeners);
            match pf.launch(servers) {
                Ok(()) => return Ok(pf),
                Err(e) => {
                    pf.stop();
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| HarnessError::Imap("Postfix did not start".into())))
    }

    /// Starts Postfix in `dir` (kept) on fixed ports: server `i` gets submission on
    /// `base + 2i` and implicit TLS on `base + 2i + 1`. For the demo.
    pub fn start_at(servers: &[&Dovecot], dir: &Path, base: u16) -> Result<Postfix, HarnessError> {
        preflight()?;
        std::fs::create_dir_all(dir).map_err(io("creating the Postfix dir"))?;
        // Postfix wants absolute paths in main.cf and for `-c`.
        let dir = &std::fs::canonicalize(dir).map_err(io("resolving the Postfix dir"))?;
        let mut pf = Postfix {
            dir: Dir::Fixed(dir.to_owned()),
            child: None,
            submission_port: 0,
            smtps_port: 0,
            listeners: Vec::new(),
        };
        let listeners =
            (0..servers.len() as u16).map(|i| Listener { submission: base + 2 * i, smtps: base + 2 * i + 1 }).collect();
        pf.set_listeners(listeners);
        for l in &pf.listeners {
            for port in [l.submission, l.smtps] {
                if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
                    return Err(HarnessError::Start {
                        server: "postfix".into(),
                        reason: format!("port {port} is in use (an earlier instance still running?)"),
                        log: String::new(),
                    });
                }
            }
        }
        pf.launch(servers)?;
        Ok(pf)
    }

    fn set_listeners(&mut self, listeners: Vec<Listener>) {
        self.listeners = listeners;
        if let Some(first) = self.listeners.first() {
            self.submission_port = first.submission;
            self.smtps_port = first.smtps;
        }
    }

    fn launch(&mut self, servers: &[&Dovecot]) -> Result<(), HarnessError> {
        let root = self.dir().to_owned();
        for sub in ["queue", "data", "log"] {
            std::fs::create_dir_all(root.join(sub)).map_err(io(format!("creating {sub}/")))?;
        }
        set_mode(&root, 0o755)?;
        set_mode(&root.join("log"), 0o755)?;
        // The data directory belongs to Postfix's own user.
        let _ = Command::new("chown").arg("postfix:postfix").arg(root.join("data")).status();
        let first = servers.first().ok_or_else(|| HarnessError::Imap("Postfix needs a Dovecot".into()))?;
        let mut domains: Vec<String> = Vec::new();
        let mut transports: Vec<String> = Vec::new();
        for dv in servers {
            for d in dv.config().users.iter().filter_map(|u| u.name.split_once('@').map(|(_, d)| d.to_owned())) {
                if !domains.contains(&d) {
                    transports.push(format!("{{{d} = lmtp:inet:127.0.0.1:{}}}", dv.lmtp_port));
                    domains.push(d);
                }
            }
        }
        if domains.is_empty() {
            domains.push("localhost".into());
        }
        let access: String = domains
            .iter()
            .map(|d| format!("{{reject@{d} = 554 5.7.1 Mailbox gesperrt}} {{defer@{d} = 450 4.2.1 Mailbox voll}}"))
            .collect::<Vec<_>>()
            .join(" ");
        let transport_maps = if transports.is_empty() {
            String::new()
        } else {
            format!("transport_maps = inline:{{ {} }}\n", transports.join(" "))
        };
        let r = root.display();
        let main_cf = format!(
            "compatibility_level = 3.6
queue_directory = {r}/queue
data_directory = {r}/data
mail_owner = postfix
myhostname = localhost
mydomain = localdomain
myorigin = localhost
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
virtual_mailbox_domains = {domains}
virtual_transport = lmtp:inet:127.0.0.1:{lmtp}
{transport_maps}smtpd_sasl_type = dovecot
smtpd_sasl_path = inet:127.0.0.1:{auth}
smtpd_sasl_auth_enable = yes
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_tls_security_level = may
smtpd_relay_restrictions = permit_sasl_authenticated, reject
smtpd_recipient_restrictions = check_recipient_access inline:{{ {access} }}, permit_sasl_authenticated, reject
maillog_file = {r}/log/postfix.log
maillog_file_prefixes = {r}
smtputf8_enable = no
message_size_limit = 52428800
",
            domains = domains.join(" "),
            lmtp = first.lmtp_port,
            auth = first.auth_port,
            cert = first.ca().cert_pem.display(),
            key = first.ca().key_pem.display(),
        );
        std::fs::write(root.join("main.cf"), main_cf).map_err(io("writing main.cf"))?;
        let mut master = String::new();
        for (dv, l) in servers.iter().zip(&self.listeners) {
            let own = format!(
                "-o smtpd_sasl_path=inet:127.0.0.1:{} -o smtpd_tls_cert_file={} -o smtpd_tls_key_file={}",
                dv.auth_port,
                dv.ca().cert_pem.display(),
                dv.ca().key_pem.display()
            );
            let _ = writeln!(master, "127.0.0.1:{} inet n - n - - smtpd {own}", l.submission);
            let _ = writeln!(master, "127.0.0.1:{} inet n - n - - smtpd {own} -o smtpd_tls_wrappermode=yes", l.smtps);
        }
        for line in [
            "cleanup unix n - n - 0 cleanup",
            "qmgr unix n - n 300 1 qmgr",
            "tlsmgr unix - - n 1000? 1 tlsmgr",
            "rewrite unix - - n - - trivial-rewrite",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
            "verify unix - - n - 1 verify",
            "flush unix n - n 1000? 0 flush",
            "proxymap unix - - n - - proxymap",
            "smtp unix - - n - - smtp",
            "relay unix - - n - - smtp",
            "showq unix n - n - - showq",
            "error unix - - n - - error",
            "retry unix - - n - - error",
            "discard unix - - n - - discard",
            "lmtp unix - - n - - lmtp",
            "anvil unix - - n - 1 anvil",
            "scache unix - - n - 1 scache",
            "postlog unix-dgram n - n - 1 postlogd",
        ] {
            let _ = writeln!(master, "{line}");
        }
        std::fs::write(root.join("master.cf"), master).map_err(io("writing master.cf"))?;
        self.resume()
    }

    /// (Re)starts the master in the foreground of a child process.
    pub fn resume(&mut self) -> Result<(), HarnessError> {
        let root = self.dir().to_owned();
        let out = std::fs::File::create(root.join("log/start.out")).map_err(io("creating start.out"))?;
        let child = Command::new("postfix")
            .arg("-c")
            .arg(&root)
            .arg("start-fg")
            .stdin(Stdio::null())
            .stdout(out.try_clone().map_err(io("start.out"))?)
            .stderr(out)
            .spawn()
            .map_err(io("starting postfix"))?;
        self.child = Some(child);
        let addr: SocketAddr = ([127, 0, 0, 1], self.submission_port).into();
        if !wait_for_greeting(addr, "220", Duration::from_secs(30)) {
            return Err(HarnessError::Start {
                server: "postfix".into(),
                reason: format!("no SMTP greeting on {addr}"),
                log: self.log(),
            });
        }
        Ok(())
    }

    /// The instance's directory.
    pub fn dir(&self) -> &Path {
        match &self.dir {
            Dir::Temp(t) => t.path(),
            Dir::Fixed(p) => p,
        }
    }

    /// Leaves the server running after this value is dropped (the demo); stop it with
    /// [`stop_detached`].
    pub fn detach(mut self) {
        // The start-fg process keeps running on its own; forgetting it keeps it alive.
        let _ = self.child.take();
        if let Dir::Temp(t) = std::mem::replace(&mut self.dir, Dir::Fixed(PathBuf::new())) {
            let _ = t.keep();
        }
    }

    /// Postfix's log so far (and the start command's output).
    pub fn log(&self) -> String {
        let read = |p: PathBuf| std::fs::read_to_string(p).unwrap_or_default();
        format!("{}{}", read(self.dir().join("log/postfix.log")), read(self.dir().join("log/start.out")))
    }

    /// Stops the server and waits until its master is gone (also done on drop).
    pub fn stop(&mut self) {
        if self.dir().as_os_str().is_empty() {
            return;
        }
        postfix_stop(self.dir());
        if let Some(mut child) = self.child.take() {
            process::wait_or_kill(&mut child, Duration::from_secs(10));
        }
        // Listening sockets close with the master; wait for them so a restart can bind.
        let addr: SocketAddr = ([127, 0, 0, 1], self.submission_port).into();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline
            && std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(50)).is_ok()
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Runs `postfix -c DIR stop`.
fn postfix_stop(dir: &Path) -> bool {
    Command::new("postfix")
        .arg("-c")
        .arg(dir)
        .arg("stop")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Stops an instance that was [`Postfix::detach`]ed into `dir`; returns whether one ran.
/// Waits until the master is gone, since `postfix start` fails while one still runs.
pub fn stop_detached(dir: &Path) -> bool {
    if !dir.join("main.cf").exists() {
        return false;
    }
    // `postfix -c` needs an absolute path.
    let Ok(dir) = &std::fs::canonicalize(dir) else { return false };
    let stopped = postfix_stop(dir);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let running = Command::new("postfix")
            .arg("-c")
            .arg(dir)
            .arg("status")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !running {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    stopped
}

/// Root and the `postfix` program are required.
fn preflight() -> Result<(), HarnessError> {
    if process::euid() != 0 {
        return Err(HarnessError::Missing { program: "root".into(), hint: "Postfix's master runs as root".into() });
    }
    if Command::new("postfix").arg("-h").output().is_err() && !Path::new("/usr/sbin/postfix").exists() {
        return Err(HarnessError::Missing { program: "postfix".into(), hint: "apt-get install postfix".into() });
    }
    Ok(())
}

impl Drop for Postfix {
    fn drop(&mut self) {
        self.stop();
    }
}

fn set_mode(path: &Path, mode: u32) -> Result<(), HarnessError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(io(format!("chmod {}", path.display())))
}
