//! A private Dovecot instance: IMAP (TLS, STARTTLS, plain), LMTP and an auth listener,
//! with its own config, users, maildirs and logs in a temporary directory.
//!
//! As root, Dovecot runs its login processes as `dovenull`, internal ones as `dovecot`,
//! and mail as `mail` (uid 8). As another user, everything runs as that user.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::ca::TestCa;
use crate::client::ImapClient;
use crate::error::{HarnessError, io};
use crate::net::{free_port, wait_for_port};
use crate::process;

/// How folders are named and nested on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// `/` separator, folders beside INBOX (Gmail, GMX, iCloud, Outlook).
    #[default]
    Slash,
    /// Courier / old Cyrus: everything under `INBOX.`, `.` separator.
    InboxDot,
}

impl Layout {
    /// The hierarchy separator.
    pub fn separator(self) -> char {
        match self {
            Layout::Slash => '/',
            Layout::InboxDot => '.',
        }
    }
}

/// A mailbox every user gets at start, optionally with a SPECIAL-USE attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxSpec {
    /// Name below the namespace prefix, UTF-8, with the layout's separator
    /// (`[Google Mail]/Gesendet`, `Entwürfe`).
    pub name: String,
    /// e.g. `\Sent`.
    pub special_use: Option<String>,
}

impl MailboxSpec {
    /// A plain mailbox.
    pub fn new(name: &str) -> Self {
        MailboxSpec { name: name.to_owned(), special_use: None }
    }

    /// A mailbox with a SPECIAL-USE attribute.
    pub fn special(name: &str, attribute: &str) -> Self {
        MailboxSpec { name: name.to_owned(), special_use: Some(attribute.to_owned()) }
    }
}

/// A mail user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Login name (often the address).
    pub name: String,
    /// Password (stored in plain so CRAM-MD5 works).
    pub password: String,
}

/// What to start.
#[derive(Debug, Clone, Default)]
pub struct DovecotConfig {
    /// Folder layout.
    pub layout: Layout,
    /// Users.
    pub users: Vec<User>,
    /// Mailboxes created for every user.
    pub mailboxes: Vec<MailboxSpec>,
    /// Replace the advertised capabilities (`imap_capability`), e.g. to hide QRESYNC.
    pub capability: Option<String>,
    /// What the server answers to `ID` (`imap_id_send`), e.g. `[("name", "GImap")]`.
    pub server_id: Vec<(String, String)>,
    /// Raw config lines appended at the end.
    pub extra: String,
    /// The introspection URL of an OAuth2 provider: logins with XOAUTH2 and OAUTHBEARER
    /// are checked there (`passdb { driver = oauth2 }`).
    pub oauth2: Option<String>,
    /// Offer XOAUTH2 only, not OAUTHBEARER (as Microsoft 365 does).
    pub xoauth2_only: bool,
}

impl DovecotConfig {
    /// Adds a user.
    pub fn user(mut self, name: &str, password: &str) -> Self {
        self.users.push(User { name: name.to_owned(), password: password.to_owned() });
        self
    }

    /// Uses a layout.
    pub fn layout(mut self, layout: Layout) -> Self {
        self.layout = layout;
        self
    }

    /// Adds a mailbox for every user.
    pub fn mailbox(mut self, spec: MailboxSpec) -> Self {
        self.mailboxes.push(spec);
        self
    }

    /// Accepts OAuth2 logins (XOAUTH2, OAUTHBEARER) whose tokens the provider at
    /// `introspection_url` confirms (`{"active": true, "email": <user>}`).
    pub fn oauth2(mut self, introspection_url: &str) -> Self {
        self.oauth2 = Some(introspection_url.to_owned());
        self
    }

    /// With [`DovecotConfig::oauth2`]: offer XOAUTH2 only, as Microsoft 365 does (IMAP and,
    /// through Dovecot's SASL, Postfix submission).
    pub fn xoauth2_only(mut self) -> Self {
        self.xoauth2_only = true;
        self
    }

    /// Appends lines to the generated `dovecot.conf` (quota, workarounds, limits).
    pub fn settings(mut self, lines: &str) -> Self {
        self.extra.push_str(lines);
        self.extra.push('\n');
        self
    }

    /// Announces `caps` instead of Dovecot's own capabilities (`imap_capability`).
    pub fn capability(mut self, caps: &str) -> Self {
        self.capability = Some(caps.to_owned());
        self
    }

    /// Sets the server's `ID` answer.
    pub fn server_id(mut self, pairs: &[(&str, &str)]) -> Self {
        self.server_id = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        self
    }
}

/// Fixed ports for a long-lived instance (the demo); tests use free ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    /// Plain IMAP / STARTTLS on 127.0.0.1.
    pub imap: u16,
    /// Implicit TLS on 127.0.0.1.
    pub imaps: u16,
    /// Plain IMAP on 127.0.0.2.
    pub imap_insecure: u16,
    /// LMTP.
    pub lmtp: u16,
    /// Auth (SASL for Postfix).
    pub auth: u16,
}

impl Ports {
    /// Five consecutive ports from `base`: imap, imaps, insecure, lmtp, auth.
    pub fn from_base(base: u16) -> Ports {
        Ports { imap: base, imaps: base + 1, imap_insecure: base + 2, lmtp: base + 3, auth: base + 4 }
    }
}

enum Dir {
    Temp(tempfile::TempDir),
    Fixed(PathBuf),
}

impl Dir {
    fn path(&self) -> &Path {
        match self {
            Dir::Temp(t) => t.path(),
            Dir::Fixed(p) => p,
        }
    }
}

/// A running Dovecot. Stopped (and its temp dir deleted) on drop, unless detached.
pub struct Dovecot {
    dir: Dir,
    child: Option<Child>,
    config: DovecotConfig,
    conf_path: PathBuf,
    ca: TestCa,
    /// Plain IMAP (STARTTLS offered) on 127.0.0.1; secured because client and server
    /// addresses match, so plaintext LOGIN works here.
    pub imap_port: u16,
    /// Plain IMAP on 127.0.0.2: Dovecot sees a remote client and refuses plaintext login.
    pub imap_insecure_port: u16,
    /// Implicit TLS on 127.0.0.1.
    pub imaps_port: u16,
    /// LMTP (for Postfix delivery).
    pub lmtp_port: u16,
    /// Auth service (for Postfix SASL).
    pub auth_port: u16,
}

impl std::fmt::Debug for Dovecot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dovecot").field("dir", &self.dir.path()).field("imaps_port", &self.imaps_port).finish()
    }
}

const START_TIMEOUT: Duration = Duration::from_secs(15);

impl Dovecot {
    /// Starts Dovecot in the foreground of a child process and waits until it accepts
    /// connections.
    pub fn start(config: DovecotConfig) -> Result<Dovecot, HarnessError> {
        Self::start_in(config, None)
    }

    /// Like [`Dovecot::start`], in a directory under `parent` (kept after drop only if the
    /// caller keeps the directory).
    pub fn start_in(config: DovecotConfig, parent: Option<&Path>) -> Result<Dovecot, HarnessError> {
        let dir = match parent {
            Some(p) => tempfile::Builder::new().prefix("dovecot-").tempdir_in(p),
            None => tempfile::Builder::new().prefix("postfach-dovecot-").tempdir(),
        }
        .map_err(io("creating a temp dir"))?;
        Self::start_with(config, Dir::Temp(dir), None)
    }

    /// Starts an instance in a fixed directory on fixed ports (for the demo), replacing
    /// whatever an earlier run left there.
    pub fn start_at(config: DovecotConfig, dir: &Path, ports: Ports) -> Result<Dovecot, HarnessError> {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        // Dovecot resolves paths in its config against its own working directory.
        let dir = dir.canonicalize().map_err(io(format!("resolving {}", dir.display())))?;
        Self::start_with(config, Dir::Fixed(dir), Some(ports))
    }

    fn start_with(config: DovecotConfig, dir: Dir, ports: Option<Ports>) -> Result<Dovecot, HarnessError> {
        if Command::new("dovecot").arg("--version").output().is_err() {
            return Err(HarnessError::Missing {
                program: "dovecot".into(),
                hint: "apt-get install dovecot-imapd dovecot-lmtpd; `make test` does this".into(),
            });
        }
        set_mode(dir.path(), 0o755)?;
        let ca = TestCa::create(dir.path())?;
        let mut dv = Dovecot {
            conf_path: dir.path().join("dovecot.conf"),
            dir,
            child: None,
            config,
            ca,
            imap_port: 0,
            imap_insecure_port: 0,
            imaps_port: 0,
            lmtp_port: 0,
            auth_port: 0,
        };
        // A port picked as free may be taken by the time Dovecot binds it; retry with
        // fresh ports.
        let mut last_error = None;
        for _ in 0..3 {
            let p = ports.unwrap_or_else(|| Ports {
                imap: free_port(),
                imaps: free_port(),
                imap_insecure: free_port(),
                lmtp: free_port(),
                auth: free_port(),
            });
            (dv.imap_port, dv.imaps_port, dv.imap_insecure_port, dv.lmtp_port, dv.auth_port) =
                (p.imap, p.imaps, p.imap_insecure, p.lmtp, p.auth);
            match dv.launch() {
                Ok(()) => return Ok(dv),
                Err(e) => {
                    dv.stop();
                    last_error = Some(e);
                }
            }
        }
        Err(last_error.unwrap_or_else(|| HarnessError::Imap("Dovecot did not start".into())))
    }

    fn launch(&mut self) -> Result<(), HarnessError> {
        let root = self.dir.path().to_owned();
        for sub in ["run", "state", "mail", "log"] {
            std::fs::create_dir_all(root.join(sub)).map_err(io(format!("creating {sub}/")))?;
        }
        let _ = std::fs::remove_file(root.join("log/dovecot.log"));
        let as_root = process::euid() == 0;
        if as_root {
            chown_mail(&root.join("mail"))?;
        }
        let mut users = String::new();
        for u in &self.config.users {
            let _ = writeln!(users, "{}:{{PLAIN}}{}::::", u.name, u.password);
        }
        std::fs::write(root.join("users"), users).map_err(io("writing users"))?;
        if let Some(url) = &self.config.oauth2 {
            // An answer of 200 {"active": false} is a refused login; a 401 would be a
            // temporary failure to Dovecot, so the provider never answers that.
            let conf = format!(
                "introspection_mode = auth\nintrospection_url = {url}\nusername_attribute = email\n\
                 active_attribute = active\nactive_value = true\nforce_introspection = yes\n"
            );
            std::fs::write(root.join("dovecot-oauth2.conf.ext"), conf)
                .map_err(io("writing dovecot-oauth2.conf.ext"))?;
        }
        std::fs::write(&self.conf_path, self.render(&root, as_root)).map_err(io("writing dovecot.conf"))?;

        let log = std::fs::File::create(root.join("log/stderr.log")).map_err(io("creating stderr.log"))?;
        let child = Command::new("dovecot")
            .arg("-F")
            .arg("-c")
            .arg(&self.conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(io("starting dovecot"))?;
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        for port in [self.imap_port, self.imaps_port, self.lmtp_port, self.auth_port] {
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let left = deadline.saturating_duration_since(Instant::now());
            if !wait_for_port(addr, left) || self.exited() {
                return Err(HarnessError::Start {
                    server: "dovecot".into(),
                    reason: format!("nothing listens on {addr}"),
                    log: self.log(),
                });
            }
        }
        // Log every user in once so `auto = subscribe` mailboxes exist from the start, and
        // give nested ones a hierarchy-only parent (`\Noselect`), as Gmail's `[Gmail]`.
        let parents = self.parents();
        for u in self.config.users.clone() {
            let mut c = self.client(&u.name)?;
            for parent in &parents {
                // RFC 3501: a trailing separator asks for a name that only holds children.
                let _ = c.create(&format!("{parent}/"));
            }
            c.logout()?;
        }
        Ok(())
    }

    /// Parents of configured nested mailboxes that are not mailboxes themselves (ASCII names
    /// only; the `/` layout).
    fn parents(&self) -> Vec<String> {
        if self.config.layout != Layout::Slash {
            return Vec::new();
        }
        let names: Vec<&str> = self.config.mailboxes.iter().map(|m| m.name.as_str()).collect();
        let mut parents: Vec<String> = Vec::new();
        for name in &names {
            let mut prefix = String::new();
            for segment in name.split('/').collect::<Vec<_>>().iter().rev().skip(1).rev() {
                if !prefix.is_empty() {
                    prefix.push('/');
                }
                prefix.push_str(segment);
                if prefix.is_ascii() && !names.contains(&prefix.as_str()) && !parents.contains(&prefix) {
                    parents.push(prefix.clone());
                }
            }
        }
        parents
    }

    fn exited(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))))
    }

    fn render(&self, root: &Path, as_root: bool) -> String {
        let r = root.display();
        let layout = &self.config.layout;
        let (location, ns) = match layout {
            Layout::Slash => ("maildir:~/Maildir:LAYOUT=fs".to_owned(), "  separator = /\n  prefix =\n".to_owned()),
            Layout::InboxDot => ("maildir:~/Maildir".to_owned(), "  separator = .\n  prefix = INBOX.\n".to_owned()),
        };
        let mut mailboxes = String::new();
        for m in &self.config.mailboxes {
            let _ = writeln!(mailboxes, "  mailbox \"{}\" {{\n    auto = subscribe", m.name.replace('"', "\\\""));
            if let Some(su) = &m.special_use {
                let _ = writeln!(mailboxes, "    special_use = {su}");
            }
            mailboxes.push_str("  }\n");
        }
        let (login_user, internal_user, internal_group, uid, gid, first_uid, chroot) = if as_root {
            (
                "dovenull".to_owned(),
                "dovecot".to_owned(),
                "dovecot".to_owned(),
                "mail".to_owned(),
                "mail".to_owned(),
                8,
                "",
            )
        } else {
            let name = process::user_name();
            let uid = process::euid();
            let gid = process::egid().to_string();
            (name.clone(), name, process::group_name(), uid.to_string(), gid, uid.min(8), "  chroot =\n")
        };
        let mut capability =
            self.config.capability.as_ref().map(|c| format!("imap_capability = {c}\n")).unwrap_or_default();
        if !self.config.server_id.is_empty() {
            let pairs: Vec<String> =
                self.config.server_id.iter().map(|(k, v)| format!("{k} \"{}\"", v.replace('"', ""))).collect();
            let _ = writeln!(capability, "imap_id_send = {}", pairs.join(" "));
        }
        format!(
            r#"# Generated by postfach-test-harness.
base_dir = {r}/run
state_dir = {r}/state
instance_name = postfach-test-{imaps}
protocols = imap lmtp
listen = 127.0.0.1
log_path = {r}/log/dovecot.log
info_log_path = {r}/log/dovecot.log
auth_verbose = yes
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain login cram-md5{oauth_mechanisms}
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
first_valid_uid = {first_uid}
mail_location = {location}
postmaster_address = postmaster@localhost
lmtp_save_to_detail_mailbox = no
{capability}
{oauth_passdb}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {r}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {r}/users
  default_fields = uid={uid} gid={gid} home={r}/mail/%u
}}
service imap-login {{
{chroot}  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imap_insecure {{
    address = 127.0.0.2
    port = {insecure}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps}
    ssl = yes
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp}
  }}
}}
service auth {{
  inet_listener {{
    address = 127.0.0.1
    port = {auth}
  }}
}}
service anvil {{
{chroot}}}
namespace inbox {{
  inbox = yes
{ns}{mailboxes}}}
{extra}
"#,
            cert = self.ca.cert_pem.display(),
            key = self.ca.key_pem.display(),
            imap = self.imap_port,
            insecure = self.imap_insecure_port,
            imaps = self.imaps_port,
            lmtp = self.lmtp_port,
            auth = self.auth_port,
            oauth_mechanisms = match (&self.config.oauth2, self.config.xoauth2_only) {
                (None, _) => "",
                (Some(_), true) => " xoauth2",
                (Some(_), false) => " xoauth2 oauthbearer",
            },
            oauth_passdb = if self.config.oauth2.is_some() {
                let mechanisms = if self.config.xoauth2_only { "xoauth2" } else { "xoauth2 oauthbearer" };
                format!(
                    "passdb {{\n  driver = oauth2\n  mechanisms = {mechanisms}\n  args = {}/dovecot-oauth2.conf.ext\n}}\n",
                    r
                )
            } else {
                String::new()
            },
            extra = self.config.extra,
        )
    }

    /// The run's CA certificate (PEM), for `tls_ca_file`.
    pub fn ca_file(&self) -> &Path {
        &self.ca.ca_pem
    }

    /// The CA and server certificate files.
    pub fn ca(&self) -> &TestCa {
        &self.ca
    }

    /// The instance's directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The config in use.
    pub fn config(&self) -> &DovecotConfig {
        &self.config
    }

    /// Dovecot's whole log file so far (for counting lines; [`Dovecot::log`] is for messages).
    pub fn full_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log/dovecot.log")).unwrap_or_default()
    }

    /// Dovecot's log so far: the last 60 lines, and what it wrote to stderr.
    pub fn log(&self) -> String {
        let main = std::fs::read_to_string(self.dir.path().join("log/dovecot.log")).unwrap_or_default();
        let stderr = std::fs::read_to_string(self.dir.path().join("log/stderr.log")).unwrap_or_default();
        let tail: Vec<&str> = main.lines().rev().take(60).collect::<Vec<_>>().into_iter().rev().collect();
        format!("{}{}", tail.join("\n"), if stderr.is_empty() { String::new() } else { format!("\n{stderr}") })
    }

    /// A logged-in fixture client for `user` (plain IMAP on 127.0.0.1).
    pub fn client(&self, user: &str) -> Result<ImapClient, HarnessError> {
        let password = self
            .config
            .users
            .iter()
            .find(|u| u.name == user)
            .map(|u| u.password.clone())
            .ok_or_else(|| HarnessError::Imap(format!("no user {user}")))?;
        let mut c = ImapClient::connect(("127.0.0.1", self.imap_port))?;
        c.login(user, &password)?;
        Ok(c)
    }

    /// Runs `doveadm` against this instance.
    pub fn doveadm(&self, args: &[&str]) -> Result<String, HarnessError> {
        let out = Command::new("doveadm")
            .arg("-c")
            .arg(&self.conf_path)
            .args(args)
            .output()
            .map_err(io("running doveadm"))?;
        if !out.status.success() {
            return Err(HarnessError::Imap(format!(
                "doveadm {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Writes messages straight into `user`'s INBOX maildir and lets Dovecot index them,
    /// for seeding large mailboxes: one APPEND after another makes Dovecot rescan the
    /// growing maildir each time, which is quadratic. Files get the mail user's ownership
    /// and, as INTERNALDATE, the current time.
    pub fn seed_inbox(&self, user: &str, messages: &[Vec<u8>]) -> Result<(), HarnessError> {
        self.write_inbox(user, messages)?;
        let status = self.doveadm(&["-f", "flow", "mailbox", "status", "-u", user, "messages", "INBOX"])?;
        check_seeded(&status, messages.len())
    }

    /// [`seed_inbox`](Self::seed_inbox) for many users at once (one index pass for all).
    pub fn seed_inboxes(&self, users: &[String], messages: &[Vec<u8>]) -> Result<(), HarnessError> {
        for user in users {
            self.write_inbox(user, messages)?;
        }
        let status = self.doveadm(&["-f", "flow", "mailbox", "status", "-A", "messages", "INBOX"])?;
        for line in status.lines().filter(|l| !l.trim().is_empty()) {
            check_seeded(line, messages.len())?;
        }
        Ok(())
    }

    fn write_inbox(&self, user: &str, messages: &[Vec<u8>]) -> Result<(), HarnessError> {
        let home = self.dir.path().join("mail").join(user);
        let maildir = home.join("Maildir");
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(maildir.join(sub)).map_err(io(format!("creating {sub}/")))?;
        }
        let as_root = process::euid() == 0;
        let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        for (i, m) in messages.iter().enumerate() {
            let path = maildir.join("cur").join(format!("{stamp}.Q{i}.harness:2,"));
            std::fs::write(&path, m).map_err(io(format!("writing {}", path.display())))?;
            if as_root {
                chown_mail(&path)?;
            }
        }
        if as_root {
            for dir in [home.clone(), maildir.clone(), maildir.join("cur"), maildir.join("new"), maildir.join("tmp")] {
                chown_mail(&dir)?;
            }
        }
        Ok(())
    }

    /// Forces a new UIDVALIDITY on a mailbox (name as Dovecot's config spells it, UTF-8),
    /// as a server does after rebuilding its index.
    pub fn set_uidvalidity(&self, user: &str, mailbox: &str, value: u32) -> Result<(), HarnessError> {
        self.doveadm(&["mailbox", "update", "-u", user, "--uid-validity", &value.to_string(), mailbox]).map(drop)
    }

    /// Leaves the server running after this value is dropped (the demo); stop it with
    /// [`stop_detached`]. Returns the master's pid.
    pub fn detach(mut self) -> Option<u32> {
        let pid = self.child.take().map(|c| c.id());
        if let Some(pid) = pid {
            let _ = std::fs::write(self.dir.path().join("master.pid"), pid.to_string());
        }
        if let Dir::Temp(t) = std::mem::replace(&mut self.dir, Dir::Fixed(PathBuf::new())) {
            let _ = t.keep();
        }
        pid
    }

    /// Stops the server (also done on drop).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            process::terminate(&mut child, Duration::from_secs(5));
        }
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Checks a `doveadm -f flow mailbox status` line (`[username=u ]INBOX messages=N`).
fn check_seeded(status: &str, expected: usize) -> Result<(), HarnessError> {
    let count: usize =
        status.split_whitespace().find_map(|w| w.strip_prefix("messages=")).and_then(|n| n.parse().ok()).unwrap_or(0);
    if count < expected {
        return Err(HarnessError::Imap(format!(
            "Dovecot indexed {count} of {expected} seeded messages ({})",
            status.trim()
        )));
    }
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> Result<(), HarnessError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(io(format!("chmod {}", path.display())))
}

fn chown_mail(path: &Path) -> Result<(), HarnessError> {
    // uid/gid 8 is Debian's `mail`, which the userdb above runs mail processes as.
    std::os::unix::fs::chown(path, Some(8), Some(8)).map_err(io(format!("chown mail {}", path.display())))
}

/// Stops an instance that was [`Dovecot::detach`]ed into `dir`. Returns whether one ran.
pub fn stop_detached(dir: &Path) -> bool {
    let Some(pid) = std::fs::read_to_string(dir.join("master.pid")).ok().and_then(|s| s.trim().parse::<u32>().ok())
    else {
        return false;
    };
    let sent = process::signal(pid, "TERM");
    let deadline = Instant::now() + Duration::from_secs(5);
    while sent && Instant::now() < deadline && Path::new(&format!("/proc/{pid}")).exists() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = std::fs::remove_file(dir.join("master.pid"));
    sent
}
