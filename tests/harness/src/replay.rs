//! A scripted IMAP server for the provider-conformance suite: a small but correct
//! IMAP4rev1 server (with ID, ENABLE, NAMESPACE, IDLE, UIDPLUS, MOVE, SPECIAL-USE,
//! CONDSTORE and the VANISHED parts of QRESYNC) over shared in-memory mailboxes, into
//! which a test injects the exact bytes of one provider quirk through [`Rule`]s.
//!
//! Plain IMAP on loopback, one thread per connection, commands read by line (literals
//! inlined). Every command's normal answer is first written into a buffer, so a rule can
//! replace it, prefix it, rewrite bytes in it, or close the connection after it. Known
//! simplifications: every message has the INTERNALDATE `02-Dec-2026 09:00:00 +0000`;
//! `SEARCH SINCE` matches every message and `BEFORE` / `ON` match none (so retention
//! never finds old mail); `UNCHANGEDSINCE` is accepted and ignored; MIME part sections
//! (`BODY[1]`), ENVELOPE and BODYSTRUCTURE are answered `BAD`.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine as _;

use crate::error::{HarnessError, io};

const DEFAULT_CAPABILITIES: &str = "IMAP4rev1 AUTH=PLAIN ID ENABLE NAMESPACE IDLE UIDPLUS MOVE SPECIAL-USE CONDSTORE";
const PRE_LOGIN_CAPABILITIES: &str = "IMAP4rev1 AUTH=PLAIN";
const INTERNALDATE: &str = "02-Dec-2026 09:00:00 +0000";
const SYSTEM_FLAGS: &str = "\\Answered \\Flagged \\Deleted \\Seen \\Draft";
/// The largest literal a client may send (a sanity bound, not a protocol limit).
const MAX_LITERAL: usize = 256 << 20;
/// How often a connection in IDLE looks for news.
const IDLE_POLL: Duration = Duration::from_millis(50);
/// Every command the server knows; anything else is `BAD Unknown command`.
const KNOWN: &str = "CAPABILITY,NOOP,CHECK,LOGOUT,ID,LOGIN,AUTHENTICATE,ENABLE,NAMESPACE,LIST,LSUB,STATUS,CREATE,\
    DELETE,SUBSCRIBE,UNSUBSCRIBE,SELECT,EXAMINE,APPEND,IDLE,SEARCH,UID SEARCH,FETCH,UID FETCH,STORE,UID STORE,EXPUNGE,\
    UID EXPUNGE,COPY,UID COPY,MOVE,UID MOVE,CLOSE,UNSELECT";

/// What the server holds when it starts, and how it answers.
#[derive(Debug, Clone)]
pub struct ReplaySetup {
    /// The CAPABILITY list after login (before login it is always `IMAP4rev1 AUTH=PLAIN`).
    pub capabilities: String,
    /// The user name LOGIN / AUTHENTICATE PLAIN must present.
    pub user: String,
    /// The password LOGIN / AUTHENTICATE PLAIN must present.
    pub password: String,
    /// The mailboxes; an INBOX is added when none is named so.
    pub mailboxes: Vec<ReplayMailbox>,
    /// The quirks to inject, first matching rule wins.
    pub rules: Vec<Rule>,
}

impl ReplaySetup {
    /// An empty INBOX, the default capabilities, no rules.
    pub fn new(user: &str, password: &str) -> Self {
        ReplaySetup {
            capabilities: DEFAULT_CAPABILITIES.into(),
            user: user.into(),
            password: password.into(),
            mailboxes: vec![ReplayMailbox::new("INBOX")],
            rules: Vec::new(),
        }
    }

    /// Replaces the capabilities offered after login.
    pub fn capabilities(mut self, capabilities: &str) -> Self {
        self.capabilities = capabilities.into();
        self
    }

    /// Adds a mailbox, or replaces the one of the same name (so an INBOX with messages
    /// replaces the empty default one).
    pub fn mailbox(mut self, mailbox: ReplayMailbox) -> Self {
        self.mailboxes.retain(|m| !same_mailbox(&m.name, &mailbox.name));
        self.mailboxes.push(mailbox);
        self
    }

    /// Adds a rule after the existing ones.
    pub fn rule(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }
}

/// One mailbox as the server starts with it.
#[derive(Debug, Clone)]
pub struct ReplayMailbox {
    /// The name on the wire (modified UTF-7 already, `/` as the hierarchy delimiter).
    pub name: String,
    /// LIST attributes besides `\HasChildren` / `\HasNoChildren`, e.g. `\Sent`.
    pub attributes: Vec<String>,
    /// Its UIDVALIDITY.
    pub uidvalidity: u32,
    /// Its messages, oldest first: (flags, raw bytes); they get UIDs 1, 2, …
    pub messages: Vec<(Vec<String>, Vec<u8>)>,
}

impl ReplayMailbox {
    /// An empty mailbox with UIDVALIDITY 1.
    pub fn new(name: &str) -> Self {
        ReplayMailbox { name: name.into(), attributes: Vec::new(), uidvalidity: 1, messages: Vec::new() }
    }

    /// An empty mailbox with a SPECIAL-USE attribute such as `\Sent`.
    pub fn special(name: &str, attribute: &str) -> Self {
        ReplayMailbox { attributes: vec![attribute.into()], ..ReplayMailbox::new(name) }
    }

    /// Adds a message with these flags.
    pub fn message(mut self, flags: &[&str], raw: &[u8]) -> Self {
        self.messages.push((flags.iter().map(|f| (*f).to_owned()).collect(), raw.to_vec()));
        self
    }

    /// Sets the UIDVALIDITY.
    pub fn uidvalidity(mut self, uidvalidity: u32) -> Self {
        self.uidvalidity = uidvalidity;
        self
    }
}

/// One quirk: when a command matches, the server does something other than its normal answer.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Which commands it applies to.
    pub when: When,
    /// What the server does then.
    pub action: Action,
    /// Fire at most this often (`None`: always).
    pub times: Option<usize>,
}

impl Rule {
    /// A rule for `verb` (see [`When::verb`]).
    pub fn new(verb: &str, action: Action) -> Self {
        Rule { when: When { verb: verb.to_ascii_uppercase(), ..When::default() }, action, times: None }
    }

    /// Answers `verb` with these bytes (`{tag}` becomes the command's tag).
    pub fn answer(verb: &str, bytes: impl AsRef<[u8]>) -> Self {
        Rule::new(verb, Action::Answer(bytes.as_ref().to_vec()))
    }

    /// Sends these untagged bytes before the normal answer of `verb`.
    pub fn before(verb: &str, bytes: impl AsRef<[u8]>) -> Self {
        Rule::new(verb, Action::Before(bytes.as_ref().to_vec()))
    }

    /// Replaces `from` with `to` in the normal answer of `verb`.
    pub fn rewrite(verb: &str, from: impl AsRef<[u8]>, to: impl AsRef<[u8]>) -> Self {
        Rule::new(verb, Action::Rewrite { from: from.as_ref().to_vec(), to: to.as_ref().to_vec() })
    }

    /// Sends the normal answer of `verb`, then these bytes, then closes the connection.
    pub fn then_close(verb: &str, bytes: impl AsRef<[u8]>) -> Self {
        Rule::new(verb, Action::ThenClose(bytes.as_ref().to_vec()))
    }

    /// Closes the connection on `verb` without answering.
    pub fn close(verb: &str) -> Self {
        Rule::new(verb, Action::Close)
    }

    /// Never answers `verb`.
    pub fn stall(verb: &str) -> Self {
        Rule::new(verb, Action::Stall)
    }

    /// Only when the arguments contain `text` (case-insensitive).
    pub fn contains(mut self, text: &str) -> Self {
        self.when.contains = Some(text.into());
        self
    }

    /// Only when `verb` has not been sent earlier on the same connection.
    pub fn unless_sent(mut self, verb: &str) -> Self {
        self.when.unless_sent = Some(verb.to_ascii_uppercase());
        self
    }

    /// Fires at most `n` times.
    pub fn times(mut self, n: usize) -> Self {
        self.times = Some(n);
        self
    }
}

/// Which commands a [`Rule`] applies to.
#[derive(Debug, Clone, Default)]
pub struct When {
    /// The command verb, upper case, with "UID " where used: "SELECT", "UID FETCH", "ENABLE",
    /// "LOGIN", "NAMESPACE"…; "GREETING" for the greeting; "" for any command (not the greeting).
    pub verb: String,
    /// Only when the arguments (literal data included) contain this, case-insensitive, e.g. "BODY.PEEK[]".
    pub contains: Option<String>,
    /// Only when this verb has NOT been sent earlier on the same connection (e.g. "ID").
    pub unless_sent: Option<String>,
}

impl When {
    fn matches(&self, verb: &str, args: &str, sent: &HashSet<String>) -> bool {
        let verb_ok = if self.verb.is_empty() { verb != "GREETING" } else { self.verb.eq_ignore_ascii_case(verb) };
        verb_ok
            && self.contains.as_ref().is_none_or(|c| args.to_ascii_uppercase().contains(&c.to_ascii_uppercase()))
            && self.unless_sent.as_ref().is_none_or(|v| !sent.contains(&v.to_ascii_uppercase()))
    }
}

/// What the server does instead of (or besides) its normal answer.
#[derive(Debug, Clone)]
pub enum Action {
    /// Send these bytes instead of the normal answer; every `{tag}` is replaced with the
    /// command's tag. When the bytes contain `{tag} OK`, the command is carried out
    /// (silently), so the server's state follows what the client was told (for ENABLE:
    /// what the bytes' `* ENABLED` line names is enabled).
    Answer(Vec<u8>),
    /// Send these untagged bytes first, then the normal answer.
    Before(Vec<u8>),
    /// Send the normal answer with every occurrence of `from` replaced by `to` (bytes).
    /// In IDLE and AUTHENTICATE, each part of the exchange is rewritten on its own.
    Rewrite {
        /// The bytes to replace.
        from: Vec<u8>,
        /// Their replacement.
        to: Vec<u8>,
    },
    /// Send the normal answer, then these bytes (e.g. a `* BYE`), then close the connection.
    ThenClose(Vec<u8>),
    /// Close the connection without answering.
    Close,
    /// Never answer; keep the socket open until the client closes it or the server stops.
    Stall,
}

/// The running server; stops accepting and closes every connection on drop.
pub struct ReplayServer {
    /// The loopback port it listens on.
    pub port: u16,
    shared: Arc<Shared>,
}

impl ReplayServer {
    /// Listens on 127.0.0.1:<free port>.
    pub fn start(setup: ReplaySetup) -> Result<ReplayServer, HarnessError> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(io("binding the replay IMAP server"))?;
        let port = listener.local_addr().map_err(io("replay IMAP server address"))?.port();
        listener.set_nonblocking(true).map_err(io("replay IMAP server listener"))?;
        let mut boxes: Vec<Mailbox> = setup.mailboxes.iter().map(Mailbox::from_setup).collect();
        if !boxes.iter().any(|b| b.name.eq_ignore_ascii_case("INBOX")) {
            boxes.insert(0, Mailbox::from_setup(&ReplayMailbox::new("INBOX")));
        }
        let fired = vec![0; setup.rules.len()];
        let shared = Arc::new(Shared {
            capabilities: setup.capabilities,
            user: setup.user,
            password: setup.password,
            state: Mutex::new(boxes),
            rules: Mutex::new((setup.rules, fired)),
            commands: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            streams: Mutex::new(Vec::new()),
        });
        let accepting = Arc::clone(&shared);
        std::thread::spawn(move || accept(&listener, &accepting));
        Ok(ReplayServer { port, shared })
    }

    /// Every command line received so far, in order, across connections (tag included,
    /// literal data excluded).
    pub fn commands(&self) -> Vec<String> {
        lock(&self.shared.commands).clone()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// Adds a message as another client would (next UID, given flags); connections that
    /// are in IDLE on that mailbox get `* N EXISTS` within 50 ms; returns the UID (0 when
    /// there is no such mailbox).
    pub fn deliver(&self, mailbox: &str, raw: &[u8], flags: &[&str]) -> u32 {
        let mut boxes = lock(&self.shared.state);
        let flags = flags.iter().map(|f| (*f).to_owned()).collect();
        find_mut(&mut boxes, mailbox).map_or(0, |b| b.add(flags, raw.to_vec()))
    }

    /// Replaces the rules from the next command on, and starts their [`fired`](Self::fired) counts at 0.
    pub fn set_rules(&self, rules: Vec<Rule>) {
        let fired = vec![0; rules.len()];
        *lock(&self.shared.rules) = (rules, fired);
    }

    /// The messages of a mailbox now: (uid, flags, raw), empty for an unknown mailbox.
    pub fn messages(&self, mailbox: &str) -> Vec<(u32, Vec<String>, Vec<u8>)> {
        let boxes = lock(&self.shared.state);
        find(&boxes, mailbox)
            .map(|b| b.messages.iter().map(|m| (m.uid, m.flags.clone(), m.raw.clone())).collect())
            .unwrap_or_default()
    }

    /// How often each rule has fired so far (index = position in the rules list).
    pub fn fired(&self) -> Vec<usize> {
        lock(&self.shared.rules).1.clone()
    }
}

impl Drop for ReplayServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        for (_, stream) in lock(&self.shared.streams).drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// What every connection sees.
struct Shared {
    capabilities: String,
    user: String,
    password: String,
    state: Mutex<Vec<Mailbox>>,
    /// The rules and how often each has fired.
    rules: Mutex<(Vec<Rule>, Vec<usize>)>,
    commands: Mutex<Vec<String>>,
    connections: AtomicUsize,
    stop: AtomicBool,
    /// A handle on every open connection (by number), to close them on drop.
    streams: Mutex<Vec<(usize, TcpStream)>>,
}

impl Shared {
    /// The action of the first rule that matches and has not used up its `times`.
    fn take_rule(&self, verb: &str, args: &str, sent: &HashSet<String>) -> Option<Action> {
        let mut guard = lock(&self.rules);
        let (rules, fired) = &mut *guard;
        for (rule, count) in rules.iter().zip(fired.iter_mut()) {
            if rule.times.is_none_or(|t| *count < t) && rule.when.matches(verb, args, sent) {
                *count += 1;
                return Some(rule.action.clone());
            }
        }
        None
    }

    fn offers(&self, capability: &str) -> bool {
        self.capabilities.split_whitespace().any(|c| c.eq_ignore_ascii_case(capability))
    }
}

struct Mailbox {
    name: String,
    attributes: Vec<String>,
    uidvalidity: u32,
    uidnext: u32,
    /// The highest modseq; bumped by every change.
    modseq: u64,
    messages: Vec<Message>,
    /// Expunged UIDs with the modseq of their removal (for VANISHED (EARLIER)).
    expunged: Vec<(u32, u64)>,
}

struct Message {
    uid: u32,
    flags: Vec<String>,
    raw: Vec<u8>,
    modseq: u64,
}

impl Mailbox {
    fn from_setup(setup: &ReplayMailbox) -> Mailbox {
        let mut mailbox = Mailbox {
            name: setup.name.clone(),
            attributes: setup.attributes.clone(),
            uidvalidity: setup.uidvalidity,
            uidnext: 1,
            modseq: 1,
            messages: Vec::new(),
            expunged: Vec::new(),
        };
        for (flags, raw) in &setup.messages {
            mailbox.add(flags.clone(), raw.clone());
        }
        mailbox
    }

    fn add(&mut self, flags: Vec<String>, raw: Vec<u8>) -> u32 {
        self.modseq += 1;
        let uid = self.uidnext;
        self.uidnext += 1;
        self.messages.push(Message { uid, flags, raw, modseq: self.modseq });
        uid
    }

    fn remove(&mut self, uids: &[u32]) {
        for uid in uids {
            self.modseq += 1;
            self.expunged.push((*uid, self.modseq));
        }
        self.messages.retain(|m| !uids.contains(&m.uid));
    }

    fn max_uid(&self) -> u32 {
        self.messages.last().map_or(0, |m| m.uid)
    }

    /// The messages in `set`, with their sequence numbers: UIDs or sequence numbers as `uid` says.
    fn matching(&self, set: &str, uid: bool) -> Vec<usize> {
        let (star, count) = (self.max_uid(), u32::try_from(self.messages.len()).unwrap_or(u32::MAX));
        (0..self.messages.len())
            .filter(|&i| match uid {
                true => in_set(set, self.messages[i].uid, star),
                false => in_set(set, u32::try_from(i + 1).unwrap_or(u32::MAX), count),
            })
            .collect()
    }
}

impl Message {
    fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f.eq_ignore_ascii_case(flag))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// INBOX is case-insensitive, every other name exact.
fn same_mailbox(a: &str, b: &str) -> bool {
    a == b || (a.eq_ignore_ascii_case("INBOX") && b.eq_ignore_ascii_case("INBOX"))
}

fn find<'a>(boxes: &'a [Mailbox], name: &str) -> Option<&'a Mailbox> {
    boxes.iter().find(|b| same_mailbox(&b.name, name))
}

fn find_mut<'a>(boxes: &'a mut [Mailbox], name: &str) -> Option<&'a mut Mailbox> {
    boxes.iter_mut().find(|b| same_mailbox(&b.name, name))
}

fn accept(listener: &TcpListener, shared: &Arc<Shared>) {
    while !shared.stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                let id = shared.connections.fetch_add(1, Ordering::Relaxed);
                if let Ok(handle) = stream.try_clone() {
                    lock(&shared.streams).push((id, handle));
                }
                let shared = Arc::clone(shared);
                std::thread::spawn(move || {
                    let _ = serve(stream, &shared);
                    lock(&shared.streams).retain(|(open, _)| *open != id);
                });
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(10)),
            Err(_) => break,
        }
    }
}

fn serve(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    let _ = stream.set_nodelay(true);
    let out = stream.try_clone()?;
    let mut conn = Conn {
        shared,
        input: BufReader::new(stream),
        out,
        partial: Vec::new(),
        buf: Vec::new(),
        rewrite: None,
        discard: false,
        sent: HashSet::new(),
        authenticated: false,
        selected: None,
        condstore: false,
        qresync: false,
    };
    let greeting = Command { tag: "*".into(), verb: "GREETING".into(), args: Vec::new() };
    let mut flow = conn.command(&greeting)?;
    while flow == Flow::Go && !shared.stop.load(Ordering::Relaxed) {
        let Some((bytes, text)) = conn.read_command()? else { break };
        lock(&shared.commands).push(text);
        let (tag, rest) = word(&bytes);
        let (verb, mut args) = word(rest);
        let mut verb = String::from_utf8_lossy(verb).to_ascii_uppercase();
        if verb == "UID" {
            let (sub, rest) = word(args);
            verb = format!("UID {}", String::from_utf8_lossy(sub).to_ascii_uppercase());
            args = rest;
        }
        let command = Command { tag: String::from_utf8_lossy(tag).into_owned(), verb, args: args.to_vec() };
        flow = conn.command(&command)?;
    }
    let _ = conn.out.flush();
    conn.out.shutdown(Shutdown::Both)
}

/// The first space-separated word and the rest.
fn word(bytes: &[u8]) -> (&[u8], &[u8]) {
    match bytes.iter().position(|b| *b == b' ') {
        Some(i) => (&bytes[..i], &bytes[i + 1..]),
        None => (bytes, &[]),
    }
}

struct Command {
    tag: String,
    /// Upper case, "UID FETCH" style.
    verb: String,
    /// The arguments with literals inlined as `{n}\r\n<data>`.
    args: Vec<u8>,
}

#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Go,
    Close,
}

/// The selected mailbox, and the UIDs this connection has been told of.
struct Selected {
    name: String,
    read_only: bool,
    view: Vec<u32>,
}

struct Conn<'a> {
    shared: &'a Shared,
    input: BufReader<TcpStream>,
    out: TcpStream,
    /// A line read in part when a read timed out (in IDLE).
    partial: Vec<u8>,
    /// The normal answer of the current command so far.
    buf: Vec<u8>,
    rewrite: Option<(Vec<u8>, Vec<u8>)>,
    /// The normal answer is replaced: write nothing but continuations.
    discard: bool,
    /// The verbs sent so far on this connection.
    sent: HashSet<String>,
    authenticated: bool,
    selected: Option<Selected>,
    condstore: bool,
    qresync: bool,
}

impl Conn<'_> {
    /// One line, CRLF included; `None` at the end of the stream.
    fn read_line(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        let n = self.input.read_until(b'\n', &mut self.partial)?;
        if n == 0 || !self.partial.ends_with(b"\n") {
            return Ok(None);
        }
        Ok(Some(std::mem::take(&mut self.partial)))
    }

    /// One command with its literals inlined (`{n}\r\n<data>`), and its text for the log.
    fn read_command(&mut self) -> std::io::Result<Option<(Vec<u8>, String)>> {
        let (mut bytes, mut text) = (Vec::new(), String::new());
        loop {
            let Some(mut line) = self.read_line()? else { return Ok(None) };
            while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                line.pop();
            }
            text.push_str(&String::from_utf8_lossy(&line));
            bytes.extend_from_slice(&line);
            let Some((n, sync)) = literal_at_end(&line) else { return Ok(Some((bytes, text))) };
            if n > MAX_LITERAL {
                return Err(std::io::Error::new(ErrorKind::InvalidData, "literal too large"));
            }
            if sync {
                self.out.write_all(b"+ go ahead\r\n")?;
            }
            let mut data = vec![0; n];
            self.input.read_exact(&mut data)?;
            bytes.extend_from_slice(b"\r\n");
            bytes.extend_from_slice(&data);
        }
    }

    /// Sends the buffered answer (unless it is replaced), rewritten.
    fn flush(&mut self) -> std::io::Result<()> {
        let buf = std::mem::take(&mut self.buf);
        if self.discard || buf.is_empty() {
            return Ok(());
        }
        let bytes = match &self.rewrite {
            Some((from, to)) => replace(&buf, from, to),
            None => buf,
        };
        self.out.write_all(&bytes)
    }

    /// Sends the answer so far and then `bytes` at once (continuations, IDLE news).
    fn push(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.flush()?;
        self.out.write_all(&match &self.rewrite {
            Some((from, to)) => replace(bytes, from, to),
            None => bytes.to_vec(),
        })
    }

    /// Answers one command (or the greeting), applying the first matching rule.
    fn command(&mut self, command: &Command) -> std::io::Result<Flow> {
        let args = String::from_utf8_lossy(&command.args).into_owned();
        let action = self.shared.take_rule(&command.verb, &args, &self.sent);
        self.sent.insert(command.verb.clone());
        self.buf.clear();
        self.rewrite = None;
        self.discard = false;
        match action {
            Some(Action::Close) => return Ok(Flow::Close),
            Some(Action::Stall) => return self.stall().map(|()| Flow::Close),
            Some(Action::Before(ref bytes)) => self.out.write_all(bytes)?,
            Some(Action::Rewrite { ref from, ref to }) => self.rewrite = Some((from.clone(), to.clone())),
            Some(Action::Answer(ref bytes)) => {
                let bytes = replace(bytes, b"{tag}", command.tag.as_bytes());
                let carried_out = contains(&bytes, format!("{} OK", command.tag).as_bytes());
                if command.verb == "ENABLE" {
                    // What is enabled is what the replacement's `* ENABLED` line names.
                    let text = String::from_utf8_lossy(&bytes).to_ascii_uppercase();
                    let named = |e: &str| text.lines().any(|l| l.starts_with("* ENABLED") && l.contains(e));
                    (self.condstore, self.qresync) = (named("CONDSTORE") || named("QRESYNC"), named("QRESYNC"));
                    self.out.write_all(&bytes)?;
                    return Ok(Flow::Go);
                }
                self.discard = true;
                let flow = if carried_out { self.execute(command)? } else { Flow::Go };
                self.buf.clear();
                self.out.write_all(&bytes)?;
                return Ok(flow);
            }
            _ => {}
        }
        let flow = self.execute(command)?;
        self.flush()?;
        if let Some(Action::ThenClose(bytes)) = action {
            self.out.write_all(&bytes)?;
            return Ok(Flow::Close);
        }
        Ok(flow)
    }

    /// Says nothing more until the client closes the connection or the server stops.
    fn stall(&mut self) -> std::io::Result<()> {
        self.input.get_ref().set_read_timeout(Some(Duration::from_millis(100)))?;
        let mut sink = [0u8; 4096];
        while !self.shared.stop.load(Ordering::Relaxed) {
            match self.input.read(&mut sink) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The normal answer, into the buffer.
    fn execute(&mut self, command: &Command) -> std::io::Result<Flow> {
        let (tag, verb) = (command.tag.as_str(), command.verb.as_str());
        if verb == "GREETING" && tag == "*" {
            self.untagged(format!("OK [CAPABILITY {PRE_LOGIN_CAPABILITIES}] replay server ready"));
            return Ok(Flow::Go);
        }
        let args = tokens(&command.args);
        let status = match verb {
            _ if !KNOWN.split(',').any(|k| k == verb) => "BAD Unknown command".into(),
            "CAPABILITY" => {
                let caps = if self.authenticated { &self.shared.capabilities } else { PRE_LOGIN_CAPABILITIES };
                self.untagged(format!("CAPABILITY {caps}"));
                "OK CAPABILITY completed".into()
            }
            "NOOP" | "CHECK" => format!("OK {verb} completed"),
            "LOGOUT" => {
                self.untagged("BYE Logging out".into());
                self.tagged(tag, "OK LOGOUT completed");
                return Ok(Flow::Close);
            }
            "ID" => {
                self.untagged("ID (\"name\" \"replay\")".into());
                "OK ID completed".into()
            }
            "LOGIN" | "AUTHENTICATE" if self.authenticated => "BAD Already logged in".into(),
            "LOGIN" => match (args.first(), args.get(1)) {
                (Some(user), Some(password)) => self.login(&user.text(), &password.text()),
                _ => "BAD LOGIN needs a user name and a password".into(),
            },
            "AUTHENTICATE" => self.authenticate(&args)?,
            _ if !self.authenticated => "BAD Log in first".into(),
            "ENABLE" => self.enable(&args),
            "NAMESPACE" => {
                self.untagged("NAMESPACE ((\"\" \"/\")) NIL NIL".into());
                "OK NAMESPACE completed".into()
            }
            "LIST" | "LSUB" => self.list(verb, &args),
            "STATUS" => self.status(&args),
            "CREATE" => self.create(&args),
            "DELETE" => self.delete(&args),
            "SUBSCRIBE" | "UNSUBSCRIBE" => format!("OK {verb} completed"),
            "SELECT" | "EXAMINE" => self.select(verb, &args),
            "APPEND" => self.append(&args),
            "IDLE" => self.idle()?,
            _ if self.selected.is_none() => "BAD No mailbox selected".into(),
            "SEARCH" | "UID SEARCH" => self.search(&args, verb.starts_with("UID")),
            "FETCH" | "UID FETCH" => self.fetch(&args, verb.starts_with("UID")),
            "STORE" | "UID STORE" => self.store(&args, verb.starts_with("UID")),
            "EXPUNGE" | "UID EXPUNGE" => self.expunge(&args, verb.starts_with("UID")),
            "COPY" | "UID COPY" | "MOVE" | "UID MOVE" => {
                self.copy(&args, verb.starts_with("UID"), verb.ends_with("MOVE"))
            }
            _ => self.close(verb),
        };
        if !status.starts_with("BAD") {
            self.news(!matches!(verb, "FETCH" | "STORE" | "SEARCH"));
        }
        self.tagged(tag, &status);
        Ok(Flow::Go)
    }

    fn untagged(&mut self, line: String) {
        self.buf.extend_from_slice(format!("* {line}\r\n").as_bytes());
    }

    fn tagged(&mut self, tag: &str, status: &str) {
        self.buf.extend_from_slice(format!("{tag} {status}\r\n").as_bytes());
    }

    /// Tells the client what changed in the selected mailbox since it last heard:
    /// expunges (unless `expunges` is false, as during FETCH, STORE and SEARCH), then EXISTS.
    fn news(&mut self, expunges: bool) {
        let Some(selected) = self.selected.as_mut() else { return };
        let now: Vec<u32> = match find(&lock(&self.shared.state), &selected.name) {
            Some(mailbox) => mailbox.messages.iter().map(|m| m.uid).collect(),
            None => return,
        };
        if expunges {
            let mut gone = Vec::new();
            for i in (0..selected.view.len()).rev() {
                if now.binary_search(&selected.view[i]).is_err() {
                    gone.push((i + 1, selected.view.remove(i)));
                }
            }
            if self.qresync && !gone.is_empty() {
                let mut uids: Vec<u32> = gone.iter().map(|g| g.1).collect();
                uids.sort_unstable();
                self.buf.extend_from_slice(format!("* VANISHED {}\r\n", compress(&uids)).as_bytes());
            } else {
                for (seq, _) in gone {
                    self.buf.extend_from_slice(format!("* {seq} EXPUNGE\r\n").as_bytes());
                }
            }
        }
        let last = selected.view.last().copied().unwrap_or(0);
        let new: Vec<u32> = now.into_iter().filter(|u| *u > last).collect();
        if !new.is_empty() {
            selected.view.extend(new);
            self.buf.extend_from_slice(format!("* {} EXISTS\r\n", selected.view.len()).as_bytes());
        }
    }

    fn login(&mut self, user: &str, password: &str) -> String {
        if user != self.shared.user || password != self.shared.password {
            return "NO [AUTHENTICATIONFAILED] Authentication failed.".into();
        }
        self.authenticated = true;
        format!("OK [CAPABILITY {}] Logged in", self.shared.capabilities)
    }

    /// AUTHENTICATE PLAIN, with or without an initial response.
    fn authenticate(&mut self, args: &[Tok]) -> std::io::Result<String> {
        if !args.first().is_some_and(|m| m.text().eq_ignore_ascii_case("PLAIN")) {
            return Ok("NO Unsupported authentication mechanism".into());
        }
        let response = match args.get(1) {
            Some(initial) => initial.text(),
            None => {
                self.push(b"+ \r\n")?;
                let line = self.read_line()?.ok_or(ErrorKind::UnexpectedEof)?;
                String::from_utf8_lossy(&line).trim().to_owned()
            }
        };
        if response == "*" {
            return Ok("BAD Authentication cancelled".into());
        }
        // "=" is an empty initial response (RFC 4959).
        let encoded = if response == "=" { "" } else { response.as_str() };
        let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).unwrap_or_default();
        let parts: Vec<String> = decoded.split(|b| *b == 0).map(|p| String::from_utf8_lossy(p).into_owned()).collect();
        Ok(match parts.as_slice() {
            [_, user, password] => self.login(user, password),
            _ => "NO [AUTHENTICATIONFAILED] Authentication failed.".into(),
        })
    }

    fn enable(&mut self, args: &[Tok]) -> String {
        let mut enabled = String::from("ENABLED");
        for name in args.iter().map(Tok::text).filter(|n| self.shared.offers(n)) {
            let upper = name.to_ascii_uppercase();
            self.condstore |= upper == "CONDSTORE" || upper == "QRESYNC";
            self.qresync |= upper == "QRESYNC";
            enabled = format!("{enabled} {upper}");
        }
        self.untagged(enabled);
        "OK ENABLE completed".into()
    }

    fn list(&mut self, verb: &str, args: &[Tok]) -> String {
        // LIST-EXTENDED selection options and RETURN options are accepted and ignored.
        let mut words = args.iter().filter(|t| !matches!(t, Tok::List(_))).map(Tok::text);
        let (Some(reference), Some(pattern)) = (words.next(), words.next()) else {
            return format!("BAD {verb} needs a reference and a pattern");
        };
        if pattern.is_empty() {
            self.untagged(format!("{verb} (\\Noselect) \"/\" \"\""));
            return format!("OK {verb} completed");
        }
        let pattern = format!("{reference}{pattern}");
        let lines: Vec<String> = {
            let boxes = lock(&self.shared.state);
            let names: Vec<&str> = boxes.iter().map(|b| b.name.as_str()).collect();
            boxes
                .iter()
                .filter(|b| glob(pattern.as_bytes(), b.name.as_bytes(), b.name.eq_ignore_ascii_case("INBOX")))
                .map(|b| {
                    let prefix = format!("{}/", b.name);
                    let children = names.iter().any(|n| n.starts_with(&prefix));
                    let mut attributes = b.attributes.clone();
                    attributes.push(if children { "\\HasChildren" } else { "\\HasNoChildren" }.into());
                    format!("{verb} ({}) \"/\" {}", attributes.join(" "), quote(&b.name))
                })
                .collect()
        };
        for line in lines {
            self.untagged(line);
        }
        format!("OK {verb} completed")
    }

    fn status(&mut self, args: &[Tok]) -> String {
        let (Some(name), Some(Tok::List(items))) = (args.first().map(Tok::text), args.get(1)) else {
            return "BAD STATUS needs a mailbox and items".into();
        };
        let line = {
            let boxes = lock(&self.shared.state);
            let Some(mailbox) = find(&boxes, &name) else { return "NO [NONEXISTENT] Mailbox doesn't exist".into() };
            let mut values = Vec::new();
            for item in items.iter().map(|i| i.text().to_ascii_uppercase()) {
                let value = match item.as_str() {
                    "MESSAGES" => mailbox.messages.len().to_string(),
                    "RECENT" => "0".into(),
                    "UIDNEXT" => mailbox.uidnext.to_string(),
                    "UIDVALIDITY" => mailbox.uidvalidity.to_string(),
                    "UNSEEN" => mailbox.messages.iter().filter(|m| !m.has("\\Seen")).count().to_string(),
                    "HIGHESTMODSEQ" => mailbox.modseq.to_string(),
                    _ => return format!("BAD Unknown STATUS item {item}"),
                };
                values.push(format!("{item} {value}"));
            }
            format!("STATUS {} ({})", quote(&mailbox.name), values.join(" "))
        };
        self.untagged(line);
        "OK STATUS completed".into()
    }

    /// CREATE, with a CREATE-SPECIAL-USE `(USE (\Sent))` honoured.
    fn create(&mut self, args: &[Tok]) -> String {
        let Some(name) = args.first().map(|n| n.text().trim_end_matches('/').to_owned()) else {
            return "BAD CREATE needs a mailbox".into();
        };
        let mut boxes = lock(&self.shared.state);
        if find(&boxes, &name).is_some() {
            return "NO [ALREADYEXISTS] Mailbox already exists".into();
        }
        let mut setup = ReplayMailbox::new(&name);
        setup.uidvalidity = boxes.iter().map(|b| b.uidvalidity).max().unwrap_or(0) + 1;
        if let Some(Tok::List(options)) = args.get(1)
            && let Some(Tok::List(uses)) = options.get(1)
        {
            setup.attributes = uses.iter().map(Tok::text).collect();
        }
        boxes.push(Mailbox::from_setup(&setup));
        "OK CREATE completed".into()
    }

    fn delete(&mut self, args: &[Tok]) -> String {
        let name = args.first().map(Tok::text).unwrap_or_default();
        if name.eq_ignore_ascii_case("INBOX") {
            return "NO INBOX cannot be deleted".into();
        }
        let mut boxes = lock(&self.shared.state);
        let before = boxes.len();
        boxes.retain(|b| b.name != name);
        if boxes.len() == before {
            "NO [NONEXISTENT] Mailbox doesn't exist".into()
        } else {
            "OK DELETE completed".into()
        }
    }

    fn select(&mut self, verb: &str, args: &[Tok]) -> String {
        self.selected = None;
        let read_only = verb == "EXAMINE";
        let name = args.first().map(Tok::text).unwrap_or_default();
        if let Some(Tok::List(params)) = args.get(1) {
            self.condstore |= params.iter().any(|p| p.text().eq_ignore_ascii_case("CONDSTORE"));
        }
        let (lines, selected) = {
            let boxes = lock(&self.shared.state);
            let Some(mailbox) = find(&boxes, &name) else { return "NO [NONEXISTENT] Mailbox doesn't exist".into() };
            let mut lines = vec![
                format!("{} EXISTS", mailbox.messages.len()),
                "0 RECENT".into(),
                format!("FLAGS ({SYSTEM_FLAGS})"),
                format!(
                    "OK [PERMANENTFLAGS ({})] Flags",
                    if read_only { "" } else { "\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*" }
                ),
            ];
            if let Some(seq) = mailbox.messages.iter().position(|m| !m.has("\\Seen")) {
                lines.push(format!("OK [UNSEEN {}] First unseen", seq + 1));
            }
            lines.push(format!("OK [UIDVALIDITY {}] UIDs valid", mailbox.uidvalidity));
            lines.push(format!("OK [UIDNEXT {}] Predicted next UID", mailbox.uidnext));
            if self.shared.offers("CONDSTORE") || self.shared.offers("QRESYNC") {
                lines.push(format!("OK [HIGHESTMODSEQ {}] Highest", mailbox.modseq));
            }
            let view = mailbox.messages.iter().map(|m| m.uid).collect();
            (lines, Selected { name: mailbox.name.clone(), read_only, view })
        };
        for line in lines {
            self.untagged(line);
        }
        self.selected = Some(selected);
        format!("OK [{}] {verb} completed", if read_only { "READ-ONLY" } else { "READ-WRITE" })
    }

    /// APPEND mailbox [(flags)] [date-time] literal.
    fn append(&mut self, args: &[Tok]) -> String {
        let (Some(name), Some(Tok::Str(raw))) = (args.first().map(Tok::text), args.last()) else {
            return "BAD APPEND needs a mailbox and a message".into();
        };
        if args.len() < 2 {
            return "BAD APPEND needs a message".into();
        }
        let flags = match args.get(1) {
            Some(Tok::List(flags)) => flags.iter().map(Tok::text).collect(),
            _ => Vec::new(),
        };
        let mut boxes = lock(&self.shared.state);
        let Some(mailbox) = find_mut(&mut boxes, &name) else { return "NO [TRYCREATE] Mailbox doesn't exist".into() };
        let uid = mailbox.add(flags, raw.clone());
        if self.shared.offers("UIDPLUS") {
            format!("OK [APPENDUID {} {uid}] APPEND completed", mailbox.uidvalidity)
        } else {
            "OK APPEND completed".into()
        }
    }

    /// `+ idling`, news as it comes, until DONE.
    fn idle(&mut self) -> std::io::Result<String> {
        self.push(b"+ idling\r\n")?;
        self.input.get_ref().set_read_timeout(Some(IDLE_POLL))?;
        let result = loop {
            self.news(true);
            let news = std::mem::take(&mut self.buf);
            if !news.is_empty() {
                self.push(&news)?;
            }
            match self.read_line() {
                Ok(Some(line)) if String::from_utf8_lossy(&line).trim().eq_ignore_ascii_case("DONE") => {
                    break Ok("OK IDLE terminated".into());
                }
                Ok(Some(_)) => break Ok("BAD Expected DONE".into()),
                Ok(None) => break Err(ErrorKind::UnexpectedEof.into()),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => break Err(e),
            }
        };
        self.input.get_ref().set_read_timeout(None)?;
        result
    }

    fn search(&mut self, args: &[Tok], uid: bool) -> String {
        let args = match args.first() {
            Some(t) if t.text().eq_ignore_ascii_case("CHARSET") => args.get(2..).unwrap_or_default(),
            _ => args,
        };
        let mut iter = args.iter();
        let mut keys = Vec::new();
        while iter.len() > 0 {
            match parse_key(&mut iter) {
                Ok(key) => keys.push(key),
                Err(e) => return format!("BAD {e}"),
            }
        }
        let key = Key::And(keys);
        let found: String = {
            let boxes = lock(&self.shared.state);
            let Some(mailbox) = self.selected.as_ref().and_then(|s| find(&boxes, &s.name)) else {
                return "NO Mailbox gone".into();
            };
            let (star, count) = (mailbox.max_uid(), u32::try_from(mailbox.messages.len()).unwrap_or(u32::MAX));
            let mut found = String::new();
            for (seq, m) in (1u32..).zip(&mailbox.messages) {
                if key.matches(m, seq, star, count) {
                    found.push_str(&format!(" {}", if uid { m.uid } else { seq }));
                }
            }
            found
        };
        self.untagged(format!("SEARCH{found}"));
        "OK SEARCH completed".into()
    }

    /// FETCH set items [(CHANGEDSINCE m [VANISHED])].
    fn fetch(&mut self, args: &[Tok], uid: bool) -> String {
        let (Some(set), Some(items)) = (args.first().map(Tok::text), args.get(1)) else {
            return "BAD FETCH needs a set and items".into();
        };
        let items = match fetch_items(items) {
            Ok(items) if valid_set(&set) => items,
            Ok(_) => return "BAD Invalid sequence set".into(),
            Err(e) => return format!("BAD {e}"),
        };
        let (mut changed_since, mut vanished) = (None, false);
        if let Some(Tok::List(modifiers)) = args.get(2) {
            let mut words = modifiers.iter().map(Tok::text);
            while let Some(word) = words.next() {
                match word.to_ascii_uppercase().as_str() {
                    "CHANGEDSINCE" => changed_since = words.next().and_then(|m| m.parse::<u64>().ok()),
                    "VANISHED" => vanished = true,
                    _ => return format!("BAD Unknown FETCH modifier {word}"),
                }
            }
        }
        self.condstore |= changed_since.is_some() || items.contains(&Item::Modseq);
        let read_only = self.selected.as_ref().is_none_or(|s| s.read_only);
        let mut boxes = lock(&self.shared.state);
        let Some(mailbox) = self.selected.as_ref().and_then(|s| find_mut(&mut boxes, &s.name)) else {
            return "NO Mailbox gone".into();
        };
        if let (true, true, Some(since)) = (uid, vanished, changed_since) {
            let star = mailbox.max_uid();
            let mut gone: Vec<u32> =
                mailbox.expunged.iter().filter(|(u, m)| *m > since && in_set(&set, *u, star)).map(|g| g.0).collect();
            gone.sort_unstable();
            if !gone.is_empty() {
                self.buf.extend_from_slice(format!("* VANISHED (EARLIER) {}\r\n", compress(&gone)).as_bytes());
            }
        }
        for i in mailbox.matching(&set, uid) {
            if changed_since.is_some_and(|since| mailbox.messages[i].modseq <= since) {
                continue;
            }
            let sets_seen = items.iter().any(|i| matches!(i, Item::Body { peek: false, .. }));
            let seen_now = sets_seen && !read_only && !mailbox.messages[i].has("\\Seen");
            if seen_now {
                mailbox.modseq += 1;
                let message = &mut mailbox.messages[i];
                message.flags.push("\\Seen".into());
                message.modseq = mailbox.modseq;
            }
            let mut extra = Vec::new();
            if seen_now && !items.contains(&Item::Flags) {
                extra.push(Item::Flags);
            }
            if changed_since.is_some() && !items.contains(&Item::Modseq) {
                extra.push(Item::Modseq);
            }
            fetch_line(&mut self.buf, i + 1, &mailbox.messages[i], uid, items.iter().chain(&extra));
        }
        "OK FETCH completed".into()
    }

    /// STORE set [(UNCHANGEDSINCE m)] (+|-)FLAGS[.SILENT] flags.
    fn store(&mut self, args: &[Tok], uid: bool) -> String {
        let Some(set) = args.first().map(Tok::text).filter(|s| valid_set(s)) else {
            return "BAD STORE needs a sequence set".into();
        };
        let mut rest = args.get(1..).unwrap_or_default();
        if let Some(Tok::List(_)) = rest.first() {
            self.condstore = true;
            rest = rest.get(1..).unwrap_or_default();
        }
        let Some(op) = rest.first().map(|o| o.text().to_ascii_uppercase()) else {
            return "BAD STORE needs an operation".into();
        };
        let flags: Vec<String> = match rest.get(1) {
            Some(Tok::List(list)) => list.iter().map(Tok::text).collect(),
            _ => rest.iter().skip(1).map(Tok::text).collect(),
        };
        let silent = op.ends_with(".SILENT");
        let op = op.trim_end_matches(".SILENT");
        if !matches!(op, "FLAGS" | "+FLAGS" | "-FLAGS") {
            return format!("BAD Unknown STORE operation {op}");
        }
        if self.selected.as_ref().is_some_and(|s| s.read_only) {
            return "NO [READ-ONLY] Mailbox is read-only".into();
        }
        let mut boxes = lock(&self.shared.state);
        let Some(mailbox) = self.selected.as_ref().and_then(|s| find_mut(&mut boxes, &s.name)) else {
            return "NO Mailbox gone".into();
        };
        for i in mailbox.matching(&set, uid) {
            let message = &mut mailbox.messages[i];
            let before = message.flags.clone();
            let listed = |f: &String| flags.iter().any(|g| g.eq_ignore_ascii_case(f));
            match op {
                "FLAGS" => message.flags = flags.clone(),
                "+FLAGS" => message
                    .flags
                    .extend(flags.iter().filter(|f| !before.iter().any(|b| b.eq_ignore_ascii_case(f))).cloned()),
                _ => message.flags.retain(|f| !listed(f)),
            }
            message.flags.retain(|f| !f.eq_ignore_ascii_case("\\Recent"));
            if message.flags != before {
                mailbox.modseq += 1;
                message.modseq = mailbox.modseq;
            }
            if !silent {
                let modseq = if self.condstore { format!(" MODSEQ ({})", message.modseq) } else { String::new() };
                let line =
                    format!("* {} FETCH (UID {} FLAGS ({}){modseq})\r\n", i + 1, message.uid, message.flags.join(" "));
                self.buf.extend_from_slice(line.as_bytes());
            }
        }
        "OK STORE completed".into()
    }

    /// Removes the \Deleted messages (of the set, for UID EXPUNGE); the EXPUNGE lines
    /// come from [`Conn::news`].
    fn expunge(&mut self, args: &[Tok], uid: bool) -> String {
        let set = args.first().map(Tok::text);
        if uid && !set.as_deref().is_some_and(valid_set) {
            return "BAD UID EXPUNGE needs a UID set".into();
        }
        if self.selected.as_ref().is_some_and(|s| s.read_only) {
            return "NO [READ-ONLY] Mailbox is read-only".into();
        }
        self.remove_deleted(set.as_deref().filter(|_| uid));
        "OK EXPUNGE completed".into()
    }

    fn remove_deleted(&mut self, set: Option<&str>) {
        let mut boxes = lock(&self.shared.state);
        if let Some(mailbox) = self.selected.as_ref().and_then(|s| find_mut(&mut boxes, &s.name)) {
            let star = mailbox.max_uid();
            let gone: Vec<u32> = mailbox
                .messages
                .iter()
                .filter(|m| m.has("\\Deleted") && set.is_none_or(|s| in_set(s, m.uid, star)))
                .map(|m| m.uid)
                .collect();
            mailbox.remove(&gone);
        }
    }

    /// COPY / MOVE set mailbox, with COPYUID when UIDPLUS is offered.
    fn copy(&mut self, args: &[Tok], uid: bool, moving: bool) -> String {
        let verb = if moving { "MOVE" } else { "COPY" };
        let (Some(set), Some(to)) = (args.first().map(Tok::text), args.get(1).map(Tok::text)) else {
            return format!("BAD {verb} needs a set and a mailbox");
        };
        if !valid_set(&set) {
            return "BAD Invalid sequence set".into();
        }
        if moving && self.selected.as_ref().is_some_and(|s| s.read_only) {
            return "NO [READ-ONLY] Mailbox is read-only".into();
        }
        let from = self.selected.as_ref().map(|s| s.name.clone()).unwrap_or_default();
        let mut boxes = lock(&self.shared.state);
        if find(&boxes, &to).is_none() {
            return "NO [TRYCREATE] Mailbox doesn't exist".into();
        }
        let Some(source) = find(&boxes, &from) else { return "NO Mailbox gone".into() };
        let taken: Vec<(u32, Vec<String>, Vec<u8>)> = source
            .matching(&set, uid)
            .into_iter()
            .map(|i| &source.messages[i])
            .map(|m| (m.uid, m.flags.clone(), m.raw.clone()))
            .collect();
        if taken.is_empty() {
            return format!("OK {verb} completed");
        }
        let Some(target) = find_mut(&mut boxes, &to) else { return "NO [TRYCREATE] Mailbox doesn't exist".into() };
        let new: Vec<u32> = taken.iter().map(|(_, flags, raw)| target.add(flags.clone(), raw.clone())).collect();
        let old: Vec<u32> = taken.iter().map(|t| t.0).collect();
        let code = format!("COPYUID {} {} {}", target.uidvalidity, compress(&old), compress(&new));
        let code = if self.shared.offers("UIDPLUS") { format!("[{code}] ") } else { String::new() };
        if !moving {
            return format!("OK {code}COPY completed");
        }
        if let Some(source) = find_mut(&mut boxes, &from) {
            source.remove(&old);
        }
        drop(boxes);
        if !code.is_empty() {
            self.untagged(format!("OK {code}Moved"));
        }
        "OK MOVE completed".into()
    }

    /// CLOSE (expunges silently when read-write) and UNSELECT.
    fn close(&mut self, verb: &str) -> String {
        if verb == "CLOSE" && self.selected.as_ref().is_some_and(|s| !s.read_only) {
            self.remove_deleted(None);
        }
        self.selected = None;
        format!("OK {verb} completed")
    }
}

/// One `* n FETCH (…)` line of `message` into `out`.
fn fetch_line<'a>(
    out: &mut Vec<u8>,
    seq: usize,
    message: &Message,
    uid: bool,
    items: impl Iterator<Item = &'a Item> + Clone,
) {
    let mut parts: Vec<Vec<u8>> = Vec::new();
    if uid || items.clone().any(|i| *i == Item::Uid) {
        parts.push(format!("UID {}", message.uid).into_bytes());
    }
    for item in items {
        parts.push(match item {
            Item::Uid => continue,
            Item::Flags => format!("FLAGS ({})", message.flags.join(" ")).into_bytes(),
            Item::Date => format!("INTERNALDATE \"{INTERNALDATE}\"").into_bytes(),
            Item::Size => format!("RFC822.SIZE {}", message.raw.len()).into_bytes(),
            Item::Modseq => format!("MODSEQ ({})", message.modseq).into_bytes(),
            Item::Body { label, section, partial, .. } => {
                let mut data = section_bytes(&message.raw, section).unwrap_or_default();
                if let Some((start, len)) = partial {
                    let start = (*start).min(data.len());
                    data = data[start..start.saturating_add(*len).min(data.len())].to_vec();
                }
                let mut part = format!("{label} {{{}}}\r\n", data.len()).into_bytes();
                part.extend_from_slice(&data);
                part
            }
        });
    }
    out.extend_from_slice(format!("* {seq} FETCH (").as_bytes());
    out.extend_from_slice(&parts.join(&b' '));
    out.extend_from_slice(b")\r\n");
}

/// A FETCH data item the server can answer.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Uid,
    Flags,
    Date,
    Size,
    Modseq,
    /// BODY[section], BODY.PEEK[section], RFC822, RFC822.HEADER, RFC822.TEXT.
    Body {
        label: String,
        section: String,
        peek: bool,
        partial: Option<(usize, usize)>,
    },
}

fn fetch_items(items: &Tok) -> Result<Vec<Item>, String> {
    let list = match items {
        Tok::List(list) => list.clone(),
        single => vec![single.clone()],
    };
    let body = |label: &str, section: &str, peek| Item::Body {
        label: label.into(),
        section: section.into(),
        peek,
        partial: None,
    };
    let mut out = Vec::new();
    for word in list.iter().map(Tok::text) {
        match word.to_ascii_uppercase().as_str() {
            "ALL" | "FAST" | "FULL" => out.extend([Item::Flags, Item::Date, Item::Size]),
            "UID" => out.push(Item::Uid),
            "FLAGS" => out.push(Item::Flags),
            "INTERNALDATE" => out.push(Item::Date),
            "RFC822.SIZE" => out.push(Item::Size),
            "MODSEQ" => out.push(Item::Modseq),
            "RFC822" => out.push(body("RFC822", "", false)),
            "RFC822.HEADER" => out.push(body("RFC822.HEADER", "HEADER", true)),
            "RFC822.TEXT" => out.push(body("RFC822.TEXT", "TEXT", false)),
            upper => out.push(body_item(upper).ok_or_else(|| format!("Unknown FETCH item {word}"))?),
        }
    }
    Ok(out)
}

/// `BODY[section]<start.len>` or `BODY.PEEK[…]`, upper case.
fn body_item(upper: &str) -> Option<Item> {
    let (peek, rest) = match upper.strip_prefix("BODY.PEEK[") {
        Some(rest) => (true, rest),
        None => (false, upper.strip_prefix("BODY[")?),
    };
    let close = rest.rfind(']')?;
    let section = rest[..close].split_whitespace().collect::<Vec<_>>().join(" ");
    section_bytes(b"", &section)?;
    let partial = match &rest[close + 1..] {
        "" => None,
        tail => {
            let (start, len) = tail.strip_prefix('<')?.strip_suffix('>')?.split_once('.')?;
            Some((start.parse().ok()?, len.parse().ok()?))
        }
    };
    let origin = partial.map(|(start, _)| format!("<{start}>")).unwrap_or_default();
    Some(Item::Body { label: format!("BODY[{section}]{origin}"), section, peek, partial })
}

/// Where the body starts (after the blank line), or the end when there is none.
fn body_start(raw: &[u8]) -> usize {
    if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
        return i + 4;
    }
    raw.windows(2).position(|w| w == b"\n\n").map_or(raw.len(), |i| i + 2)
}

/// The header fields, each with its continuation lines: (NAME, bytes with CRLF).
fn header_fields(raw: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut fields: Vec<(String, Vec<u8>)> = Vec::new();
    for line in raw[..body_start(raw)].split_inclusive(|b| *b == b'\n') {
        match (line.first(), fields.last_mut()) {
            (Some(b' ' | b'\t'), Some(last)) => last.1.extend_from_slice(line),
            (Some(b'\r' | b'\n') | None, _) => break,
            _ => {
                let name = line.split(|b| *b == b':').next().unwrap_or_default();
                fields.push((String::from_utf8_lossy(name).trim().to_ascii_uppercase(), line.to_vec()));
            }
        }
    }
    fields
}

/// The bytes of a body section: "", HEADER, TEXT, HEADER.FIELDS[.NOT] (…); `None` for others.
fn section_bytes(raw: &[u8], section: &str) -> Option<Vec<u8>> {
    let upper = section.to_ascii_uppercase();
    let start = body_start(raw);
    match upper.as_str() {
        "" => return Some(raw.to_vec()),
        "HEADER" => return Some(raw[..start].to_vec()),
        "TEXT" => return Some(raw[start..].to_vec()),
        _ => {}
    }
    let rest = upper.strip_prefix("HEADER.FIELDS")?;
    let (not, list) = rest.strip_prefix(".NOT").map_or((false, rest), |l| (true, l));
    let list = list.trim().strip_prefix('(')?.strip_suffix(')')?;
    let names: Vec<&str> = list.split_whitespace().map(|n| n.trim_matches('"')).collect();
    let mut out: Vec<u8> =
        header_fields(raw).into_iter().filter(|(n, _)| names.contains(&n.as_str()) != not).flat_map(|f| f.1).collect();
    out.extend_from_slice(b"\r\n");
    Some(out)
}

/// A SEARCH key.
enum Key {
    All,
    Nothing,
    Uids(String),
    Seqs(String),
    /// Header field (upper case, "" for the whole message) containing the text (case-insensitive).
    Contains(String, String),
    Flag(String, bool),
    Larger(usize),
    Smaller(usize),
    Not(Box<Key>),
    Or(Box<Key>, Box<Key>),
    And(Vec<Key>),
}

fn parse_key(tokens: &mut std::slice::Iter<'_, Tok>) -> Result<Key, String> {
    let token = tokens.next().ok_or("Missing search key")?;
    if let Tok::List(inner) = token {
        let mut iter = inner.iter();
        let mut keys = Vec::new();
        while iter.len() > 0 {
            keys.push(parse_key(&mut iter)?);
        }
        return Ok(Key::And(keys));
    }
    let mut arg = || tokens.next().map(Tok::text).ok_or_else(|| format!("Missing argument of {}", token.text()));
    let word = token.text().to_ascii_uppercase();
    let flag = |name: &str, set: bool| -> Result<Key, String> { Ok(Key::Flag(name.into(), set)) };
    match word.as_str() {
        "ALL" | "OLD" => Ok(Key::All),
        "NEW" | "RECENT" => Ok(Key::Nothing),
        "UID" => Ok(Key::Uids(arg()?)),
        "SINCE" | "SENTSINCE" => arg().map(|_| Key::All),
        "BEFORE" | "SENTBEFORE" | "ON" | "SENTON" => arg().map(|_| Key::Nothing),
        "HEADER" => Ok(Key::Contains(arg()?.to_ascii_uppercase(), arg()?)),
        "FROM" | "TO" | "CC" | "BCC" | "SUBJECT" => Ok(Key::Contains(word.clone(), arg()?)),
        "TEXT" | "BODY" => Ok(Key::Contains(String::new(), arg()?)),
        "LARGER" => arg()?.parse().map(Key::Larger).map_err(|_| "Bad LARGER".into()),
        "SMALLER" => arg()?.parse().map(Key::Smaller).map_err(|_| "Bad SMALLER".into()),
        "KEYWORD" => Ok(Key::Flag(arg()?, true)),
        "UNKEYWORD" => Ok(Key::Flag(arg()?, false)),
        "NOT" => Ok(Key::Not(Box::new(parse_key(tokens)?))),
        "OR" => Ok(Key::Or(Box::new(parse_key(tokens)?), Box::new(parse_key(tokens)?))),
        "SEEN" | "DELETED" | "FLAGGED" | "ANSWERED" | "DRAFT" => flag(&format!("\\{word}"), true),
        "UNSEEN" | "UNDELETED" | "UNFLAGGED" | "UNANSWERED" | "UNDRAFT" => flag(&format!("\\{}", &word[2..]), false),
        set if valid_set(set) => Ok(Key::Seqs(set.into())),
        _ => Err(format!("Unknown search key {}", token.text())),
    }
}

impl Key {
    fn matches(&self, m: &Message, seq: u32, star: u32, count: u32) -> bool {
        match self {
            Key::All => true,
            Key::Nothing => false,
            Key::Uids(set) => in_set(set, m.uid, star),
            Key::Seqs(set) => in_set(set, seq, count),
            Key::Contains(field, text) => {
                let text = text.to_ascii_lowercase();
                if field.is_empty() {
                    return String::from_utf8_lossy(&m.raw).to_ascii_lowercase().contains(&text);
                }
                header_fields(&m.raw).iter().filter(|(n, _)| n == field).any(|(_, line)| {
                    let value = line.splitn(2, |b| *b == b':').nth(1).unwrap_or_default();
                    String::from_utf8_lossy(value).to_ascii_lowercase().contains(&text)
                })
            }
            Key::Flag(flag, set) => m.has(flag) == *set,
            Key::Larger(n) => m.raw.len() > *n,
            Key::Smaller(n) => m.raw.len() < *n,
            Key::Not(key) => !key.matches(m, seq, star, count),
            Key::Or(a, b) => a.matches(m, seq, star, count) || b.matches(m, seq, star, count),
            Key::And(keys) => keys.iter().all(|k| k.matches(m, seq, star, count)),
        }
    }
}

/// Whether `s` is a sequence set such as `1:3,7,9:*`.
fn valid_set(s: &str) -> bool {
    let number = |n: &str| n == "*" || n.parse::<u32>().is_ok_and(|n| n > 0);
    !s.is_empty() && s.split(',').all(|part| part.split(':').count() <= 2 && part.split(':').all(number))
}

/// Whether `n` is in a sequence set; `*` is `star`, and `b:a` is `a:b`.
fn in_set(set: &str, n: u32, star: u32) -> bool {
    let number = |s: &str| if s == "*" { Some(star) } else { s.parse::<u32>().ok() };
    set.split(',').any(|part| match part.split_once(':') {
        Some((a, b)) => match (number(a), number(b)) {
            (Some(a), Some(b)) => (a.min(b)..=a.max(b)).contains(&n),
            _ => false,
        },
        None => number(part) == Some(n),
    })
}

/// Sorted numbers as a set: `1:3,7`.
fn compress(sorted: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j + 1 < sorted.len() && sorted[j + 1] == sorted[j] + 1 {
            j += 1;
        }
        parts.push(if i == j { sorted[i].to_string() } else { format!("{}:{}", sorted[i], sorted[j]) });
        i = j + 1;
    }
    parts.join(",")
}

/// Matches an IMAP LIST pattern: `*` anything, `%` anything but the delimiter.
fn glob(pattern: &[u8], name: &[u8], inbox: bool) -> bool {
    if inbox {
        return glob(&pattern.to_ascii_uppercase(), b"INBOX", false);
    }
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|i| glob(rest, &name[i..], false)),
        Some((b'%', rest)) => {
            let stop = name.iter().position(|b| *b == b'/').unwrap_or(name.len());
            (0..=stop).any(|i| glob(rest, &name[i..], false))
        }
        Some((c, rest)) => name.first() == Some(c) && glob(rest, &name[1..], false),
    }
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// `hay` with every `from` replaced by `to`.
fn replace(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    if from.is_empty() {
        return hay.to_vec();
    }
    let (mut out, mut i) = (Vec::with_capacity(hay.len()), 0);
    while i < hay.len() {
        if hay[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

/// `{n}` or `{n+}` at the end of a line: the literal's size and whether it is synchronizing.
fn literal_at_end(line: &[u8]) -> Option<(usize, bool)> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|b| *b == b'{')?;
    let digits = &inner[open + 1..];
    let (digits, sync) = digits.strip_suffix(b"+").map_or((digits, true), |d| (d, false));
    std::str::from_utf8(digits).ok()?.parse().ok().map(|n| (n, sync))
}

/// A token of a command's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// An atom, `[…]` sections included (`BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]`).
    Atom(String),
    /// A quoted string or a literal.
    Str(Vec<u8>),
    /// A parenthesized list.
    List(Vec<Tok>),
}

impl Tok {
    fn text(&self) -> String {
        match self {
            Tok::Atom(a) => a.clone(),
            Tok::Str(s) => String::from_utf8_lossy(s).into_owned(),
            Tok::List(_) => String::new(),
        }
    }
}

/// Splits arguments (literals inlined as `{n}\r\n<data>`) into tokens.
fn tokens(bytes: &[u8]) -> Vec<Tok> {
    let mut pos = 0;
    token_list(bytes, &mut pos, false)
}

fn token_list(b: &[u8], pos: &mut usize, nested: bool) -> Vec<Tok> {
    let mut out = Vec::new();
    while *pos < b.len() {
        match b[*pos] {
            b' ' | b'\r' | b'\n' => *pos += 1,
            b')' => {
                *pos += 1;
                if nested {
                    break;
                }
            }
            b'(' => {
                *pos += 1;
                out.push(Tok::List(token_list(b, pos, true)));
            }
            b'"' => out.push(quoted(b, pos)),
            b'{' => match literal(b, pos) {
                Some(data) => out.push(Tok::Str(data)),
                None => out.push(atom(b, pos)),
            },
            _ => out.push(atom(b, pos)),
        }
    }
    out
}

fn quoted(b: &[u8], pos: &mut usize) -> Tok {
    let mut s = Vec::new();
    *pos += 1;
    while *pos < b.len() {
        let c = b[*pos];
        *pos += 1;
        match c {
            b'"' => break,
            b'\\' if *pos < b.len() => {
                s.push(b[*pos]);
                *pos += 1;
            }
            _ => s.push(c),
        }
    }
    Tok::Str(s)
}

fn literal(b: &[u8], pos: &mut usize) -> Option<Vec<u8>> {
    let close = b[*pos..].iter().position(|c| *c == b'}')? + *pos;
    let (n, _) = literal_at_end(&b[*pos..=close])?;
    let start = close + 3;
    (b.get(close + 1..start)? == b"\r\n").then_some(())?;
    let data = b.get(start..start.checked_add(n)?)?.to_vec();
    *pos = start + n;
    Some(data)
}

fn atom(b: &[u8], pos: &mut usize) -> Tok {
    let start = *pos;
    let mut depth = 0usize;
    while *pos < b.len() {
        match b[*pos] {
            b'[' => depth += 1,
            b']' => depth = depth.saturating_sub(1),
            b' ' | b'(' | b')' if depth == 0 => break,
            _ => {}
        }
        *pos += 1;
    }
    if *pos == start {
        *pos += 1;
    }
    Tok::Atom(String::from_utf8_lossy(&b[start..*pos]).into_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn mail(n: u32) -> Vec<u8> {
        format!(
            "From: Anna <anna@architekt.test>\r\nMessage-ID: <m{n}@architekt.test>\r\nSubject: Nachricht {n}\r\n\
             \r\nText {n}.\r\n"
        )
        .into_bytes()
    }

    /// INBOX with three messages (the first one seen), and a user anna / geheim.
    fn setup() -> ReplaySetup {
        ReplaySetup::new("anna", "geheim").mailbox(
            ReplayMailbox::new("INBOX")
                .uidvalidity(42)
                .message(&["\\Seen"], &mail(1))
                .message(&[], &mail(2))
                .message(&[], &mail(3)),
        )
    }

    struct Client {
        out: TcpStream,
        input: BufReader<TcpStream>,
        next: usize,
        greeting: String,
    }

    impl Client {
        fn connect(server: &ReplayServer) -> Client {
            let out = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
            out.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut client =
                Client { input: BufReader::new(out.try_clone().unwrap()), out, next: 0, greeting: String::new() };
            client.greeting = String::from_utf8(client.line()).unwrap();
            client
        }

        fn line(&mut self) -> Vec<u8> {
            let mut line = Vec::new();
            self.input.read_until(b'\n', &mut line).unwrap();
            line
        }

        fn write(&mut self, bytes: &[u8]) {
            self.out.write_all(bytes).unwrap();
        }

        /// Sends a command, returns everything up to and including its tagged line.
        fn send_raw(&mut self, command: &str) -> Vec<u8> {
            self.next += 1;
            let tag = format!("t{} ", self.next);
            self.write(format!("{tag}{command}\r\n").as_bytes());
            self.until(&tag)
        }

        fn until(&mut self, tag: &str) -> Vec<u8> {
            let mut answer = Vec::new();
            loop {
                let line = self.line();
                assert!(!line.is_empty(), "connection closed; so far: {}", String::from_utf8_lossy(&answer));
                answer.extend_from_slice(&line);
                if line.starts_with(tag.as_bytes()) {
                    return answer;
                }
            }
        }

        fn send(&mut self, command: &str) -> String {
            String::from_utf8(self.send_raw(command)).unwrap()
        }

        fn login(&mut self) {
            assert!(self.send("LOGIN anna geheim").contains("OK [CAPABILITY IMAP4rev1"));
        }

        fn closed(&mut self) -> bool {
            let mut byte = [0u8; 1];
            matches!(self.input.read(&mut byte), Ok(0) | Err(_))
        }
    }

    /// The literals after each `label {n}\r\n` in an answer.
    fn literals(answer: &[u8], label: &str) -> Vec<Vec<u8>> {
        let mut found = Vec::new();
        let needle = format!("{label} {{");
        let mut rest = answer;
        while let Some(at) = rest.windows(needle.len()).position(|w| w == needle.as_bytes()) {
            rest = &rest[at + needle.len()..];
            let close = rest.iter().position(|b| *b == b'}').unwrap();
            let n: usize = std::str::from_utf8(&rest[..close]).unwrap().parse().unwrap();
            found.push(rest[close + 3..close + 3 + n].to_vec());
            rest = &rest[close + 3 + n..];
        }
        found
    }

    #[test]
    fn a_client_logs_in_selects_searches_and_fetches_the_bodies_unchanged() {
        let server = ReplayServer::start(setup()).unwrap();
        let mut client = Client::connect(&server);
        assert_eq!(client.greeting, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] replay server ready\r\n");
        client.login();
        let select = client.send("SELECT \"INBOX\"");
        for part in ["* 3 EXISTS\r\n", "[UIDVALIDITY 42]", "[UIDNEXT 4]", "[HIGHESTMODSEQ 4]", "t2 OK [READ-WRITE]"] {
            assert!(select.contains(part), "{part} missing in {select}");
        }
        assert!(client.send("UID SEARCH ALL").starts_with("* SEARCH 1 2 3\r\nt3 OK"));
        let answer = client.send_raw("UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])");
        assert_eq!(literals(&answer, "BODY[]"), vec![mail(1), mail(2), mail(3)]);
        let text = String::from_utf8_lossy(&answer);
        assert!(
            text.starts_with("* 1 FETCH (UID 1 FLAGS (\\Seen) INTERNALDATE \"02-Dec-2026 09:00:00 +0000\" RFC822.SIZE")
        );
        assert!(text.contains("* 3 FETCH (UID 3 FLAGS () "));
        assert!(server.messages("INBOX")[1].1.is_empty(), "BODY.PEEK[] must not set \\Seen");
        assert!(client.send("UID FETCH 7:9 (UID FLAGS)").starts_with("t5 OK"), "an empty match is just the OK");
        assert!(client.send("LOGOUT").starts_with("* BYE"));
        assert!(client.closed());
        assert_eq!(server.connections(), 1);
        assert_eq!(server.commands()[0], "t1 LOGIN anna geheim");
    }

    #[test]
    fn a_wrong_password_is_refused_with_authenticationfailed() {
        let server = ReplayServer::start(setup()).unwrap();
        let mut client = Client::connect(&server);
        assert_eq!(client.send("LOGIN anna falsch"), "t1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
        assert!(client.send("SELECT INBOX").starts_with("t2 BAD"));
        let wrong = base64::engine::general_purpose::STANDARD.encode(b"\0anna\0falsch");
        assert!(client.send(&format!("AUTHENTICATE PLAIN {wrong}")).starts_with("t3 NO [AUTHENTICATIONFAILED]"));
    }

    #[test]
    fn authenticate_plain_logs_in_with_and_without_an_initial_response() {
        let server = ReplayServer::start(setup()).unwrap();
        let right = base64::engine::general_purpose::STANDARD.encode(b"\0anna\0geheim");
        assert!(Client::connect(&server).send(&format!("AUTHENTICATE PLAIN {right}")).starts_with("t1 OK"));
        let mut client = Client::connect(&server);
        client.write(b"a AUTHENTICATE PLAIN\r\n");
        assert_eq!(client.line(), b"+ \r\n");
        client.write(format!("{right}\r\n").as_bytes());
        assert!(client.until("a ").starts_with(b"a OK [CAPABILITY IMAP4rev1 AUTH=PLAIN ID ENABLE"));
    }

    #[test]
    fn login_takes_quoted_strings_and_literals() {
        let server = ReplayServer::start(setup()).unwrap();
        assert!(Client::connect(&server).send("LOGIN \"anna\" \"geheim\"").starts_with("t1 OK"));
        let mut client = Client::connect(&server);
        client.write(b"a LOGIN {4}\r\n");
        assert_eq!(client.line(), b"+ go ahead\r\n");
        client.write(b"anna {6+}\r\ngeheim\r\n");
        assert!(client.until("a ").starts_with(b"a OK"));
        assert_eq!(server.commands().last().unwrap(), "a LOGIN {4} {6+}");
    }

    #[test]
    fn a_rewrite_rule_changes_exactly_the_named_bytes_and_times_one_fires_once() {
        let rule = Rule::rewrite("SELECT", "[UIDNEXT 4]", "[UIDNEXT 9]").times(1);
        let server = ReplayServer::start(setup().rule(rule)).unwrap();
        let mut client = Client::connect(&server);
        client.login();
        let rewritten = client.send("SELECT INBOX");
        let normal = client.send("SELECT INBOX");
        assert_eq!(rewritten.replace("t2 ", "t3 "), normal.replace("[UIDNEXT 4]", "[UIDNEXT 9]"));
        assert!(normal.contains("[UIDNEXT 4]"));
        assert_eq!(server.fired(), vec![1]);
    }

    #[test]
    fn unless_sent_applies_before_id_and_not_after() {
        let rule = Rule::answer("SELECT", "{tag} NO [UNAVAILABLE] Send ID first\r\n").unless_sent("ID");
        let server = ReplayServer::start(setup().rule(rule)).unwrap();
        let mut client = Client::connect(&server);
        client.login();
        assert_eq!(client.send("SELECT INBOX"), "t2 NO [UNAVAILABLE] Send ID first\r\n");
        assert!(
            client.send("UID SEARCH ALL").starts_with("t3 BAD No mailbox selected"),
            "a refused SELECT selects nothing"
        );
        assert_eq!(client.send("ID (\"name\" \"Postfach\")"), "* ID (\"name\" \"replay\")\r\nt4 OK ID completed\r\n");
        assert!(client.send("SELECT INBOX").contains("t5 OK [READ-WRITE]"));
        assert_eq!(server.fired(), vec![1]);
    }

    #[test]
    fn answer_rules_replace_the_greeting_and_close_rules_drop_the_connection() {
        let server = ReplayServer::start(
            setup().rule(Rule::answer("GREETING", "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN X-QUIRK] hi\r\n")),
        )
        .unwrap();
        assert_eq!(Client::connect(&server).greeting, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN X-QUIRK] hi\r\n");
        server.set_rules(vec![Rule::close("LOGIN")]);
        let mut client = Client::connect(&server);
        assert!(client.greeting.ends_with("replay server ready\r\n"));
        client.write(b"a LOGIN anna geheim\r\n");
        assert!(client.closed());
        assert_eq!(server.fired(), vec![1]);
    }

    #[test]
    fn a_stalled_command_gets_no_answer_until_the_server_stops() {
        let server = ReplayServer::start(setup().rule(Rule::stall("NOOP"))).unwrap();
        let mut client = Client::connect(&server);
        client.input.get_ref().set_read_timeout(Some(Duration::from_millis(300))).unwrap();
        client.write(b"a NOOP\r\n");
        let mut byte = [0u8; 1];
        let err = client.input.read(&mut byte).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut));
        drop(server);
        client.input.get_ref().set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert!(client.closed());
    }

    #[test]
    fn idle_reports_a_delivered_message_at_once() {
        let server = ReplayServer::start(setup()).unwrap();
        let mut client = Client::connect(&server);
        client.login();
        client.send("SELECT INBOX");
        client.write(b"i IDLE\r\n");
        assert_eq!(client.line(), b"+ idling\r\n");
        assert_eq!(server.deliver("INBOX", &mail(4), &["\\Flagged"]), 4);
        assert_eq!(client.line(), b"* 4 EXISTS\r\n");
        client.write(b"DONE\r\n");
        assert_eq!(client.line(), b"i OK IDLE terminated\r\n");
        assert_eq!(server.messages("INBOX")[3], (4, vec!["\\Flagged".to_owned()], mail(4)));
    }

    #[test]
    fn idle_on_a_mailbox_with_one_message_reports_two_exists() {
        let server = ReplayServer::start(
            ReplaySetup::new("anna", "geheim").mailbox(ReplayMailbox::new("INBOX").message(&[], &mail(1))),
        )
        .unwrap();
        let mut client = Client::connect(&server);
        client.login();
        client.send("SELECT INBOX");
        client.write(b"i IDLE\r\n");
        assert_eq!(client.line(), b"+ idling\r\n");
        server.deliver("INBOX", &mail(2), &[]);
        assert_eq!(client.line(), b"* 2 EXISTS\r\n");
    }

    #[test]
    fn uid_move_moves_the_message_and_answers_copyuid() {
        let archive = ReplayMailbox::special("Archiv", "\\Archive").uidvalidity(77).message(&[], &mail(9));
        let server = ReplayServer::start(setup().mailbox(archive)).unwrap();
        let mut client = Client::connect(&server);
        client.login();
        let list = client.send("LIST \"\" \"*\"");
        assert!(list.contains("* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n"));
        assert!(list.contains("* LIST (\\Archive \\HasNoChildren) \"/\" \"Archiv\"\r\n"));
        client.send("SELECT INBOX");
        assert_eq!(
            client.send("UID MOVE 2 \"Archiv\""),
            "* OK [COPYUID 77 2 2] Moved\r\n* 2 EXPUNGE\r\nt4 OK MOVE completed\r\n"
        );
        assert!(client.send("UID MOVE 1 Nirgends").starts_with("t5 NO [TRYCREATE]"));
        let uids = |mailbox| server.messages(mailbox).into_iter().map(|m| m.0).collect::<Vec<_>>();
        assert_eq!(uids("INBOX"), vec![1, 3]);
        assert_eq!(uids("Archiv"), vec![1, 2]);
        assert_eq!(server.messages("Archiv")[1].2, mail(2));
    }

    #[test]
    fn append_with_a_literal_stores_the_bytes() {
        let server =
            ReplayServer::start(setup().mailbox(ReplayMailbox::special("Sent", "\\Sent").uidvalidity(5))).unwrap();
        let mut client = Client::connect(&server);
        client.login();
        let raw = mail(7);
        client.write(format!("a APPEND \"Sent\" (\\Seen) {{{}}}\r\n", raw.len()).as_bytes());
        assert_eq!(client.line(), b"+ go ahead\r\n");
        client.write(&raw);
        client.write(b"\r\n");
        assert_eq!(client.until("a "), b"a OK [APPENDUID 5 1] APPEND completed\r\n");
        assert_eq!(server.messages("Sent"), vec![(1, vec!["\\Seen".to_owned()], raw.clone())]);
        assert_eq!(server.commands().last().unwrap(), &format!("a APPEND \"Sent\" (\\Seen) {{{}}}", raw.len()));
        assert!(client.send("APPEND Nirgends {1+}\r\nx").starts_with("t2 NO [TRYCREATE]"));
    }

    #[test]
    fn header_fields_store_and_changedsince_answer_like_a_condstore_server() {
        let server = ReplayServer::start(setup()).unwrap();
        let mut client = Client::connect(&server);
        client.login();
        client.send("SELECT INBOX");
        let answer = client.send_raw("UID FETCH 2 (UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])");
        assert_eq!(
            literals(&answer, "BODY[HEADER.FIELDS (MESSAGE-ID)]"),
            vec![b"Message-ID: <m2@architekt.test>\r\n\r\n"]
        );
        assert!(
            String::from_utf8_lossy(&answer).starts_with(&format!("* 2 FETCH (UID 2 RFC822.SIZE {} ", mail(2).len()))
        );
        assert_eq!(
            client.send("UID STORE 3 +FLAGS (\\Seen)"),
            "* 3 FETCH (UID 3 FLAGS (\\Seen))\r\nt4 OK STORE completed\r\n"
        );
        assert_eq!(client.send("ENABLE CONDSTORE QRESYNC"), "* ENABLED CONDSTORE\r\nt5 OK ENABLE completed\r\n");
        assert_eq!(
            client.send("UID FETCH 1:* (UID FLAGS) (CHANGEDSINCE 4)"),
            "* 3 FETCH (UID 3 FLAGS (\\Seen) MODSEQ (5))\r\nt6 OK FETCH completed\r\n"
        );
        assert_eq!(
            client.send("UID STORE 2 FLAGS.SILENT (\\Deleted)") + &client.send("UID STORE 2 -FLAGS (\\Deleted)"),
            "t7 OK STORE completed\r\n* 2 FETCH (UID 2 FLAGS () MODSEQ (7))\r\nt8 OK STORE completed\r\n"
        );
        let status = client.send("STATUS INBOX (MESSAGES UIDNEXT UNSEEN HIGHESTMODSEQ)");
        assert!(status.starts_with("* STATUS \"INBOX\" (MESSAGES 3 UIDNEXT 4 UNSEEN 1 HIGHESTMODSEQ 7)\r\n"));
    }

    #[test]
    fn uid_search_and_uid_expunge_follow_their_keys() {
        let server = ReplayServer::start(
            ReplaySetup::new("anna", "geheim").mailbox(
                ReplayMailbox::new("INBOX")
                    .message(&["\\Deleted"], &mail(1))
                    .message(&[], &mail(2))
                    .message(&["\\Deleted"], &mail(3)),
            ),
        )
        .unwrap();
        let mut client = Client::connect(&server);
        client.login();
        client.send("SELECT INBOX");
        assert!(client.send("UID SEARCH HEADER Message-ID \"<M2@architekt.test>\"").starts_with("* SEARCH 2\r\n"));
        assert!(client.send("UID SEARCH HEADER Message-ID <m3@architekt.test>").starts_with("* SEARCH 3\r\n"));
        assert!(client.send("UID SEARCH NOT DELETED").starts_with("* SEARCH 2\r\n"));
        assert!(client.send("UID SEARCH UID 3:2 NOT DELETED").starts_with("* SEARCH 2\r\n"));
        assert!(client.send("UID SEARCH UID 9:*").starts_with("* SEARCH 3\r\n"));
        assert!(client.send("UID SEARCH SINCE 1-Jan-2020").starts_with("* SEARCH 1 2 3\r\n"));
        assert!(client.send("UID SEARCH BEFORE 1-Jan-2030 NOT DELETED").starts_with("* SEARCH\r\n"));
        assert_eq!(client.send("UID EXPUNGE 3"), "* 3 EXPUNGE\r\nt10 OK EXPUNGE completed\r\n");
        assert_eq!(server.messages("INBOX").iter().map(|m| m.0).collect::<Vec<_>>(), vec![1, 2]);
        assert!(client.send("FROBNICATE").starts_with("t11 BAD Unknown command"));
    }

    #[test]
    fn sets_tokens_and_header_sections_parse_as_imap_says() {
        assert!(in_set("1:3,7,9:*", 12, 12) && in_set("1:3,7,9:*", 7, 12) && !in_set("1:3,7,9:*", 8, 12));
        assert!(in_set("5:2", 3, 9) && in_set("*:4", 6, 6) && !valid_set("1,,2") && !valid_set("0:3"));
        assert_eq!(compress(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
        assert_eq!(
            tokens(b"\"a \\\"b\\\\\" (x (y)) BODY.PEEK[HEADER.FIELDS (A B)] {3}\r\nabc NIL"),
            vec![
                Tok::Str(b"a \"b\\".to_vec()),
                Tok::List(vec![Tok::Atom("x".into()), Tok::List(vec![Tok::Atom("y".into())])]),
                Tok::Atom("BODY.PEEK[HEADER.FIELDS (A B)]".into()),
                Tok::Str(b"abc".to_vec()),
                Tok::Atom("NIL".into()),
            ]
        );
        let raw = b"Subject: a\r\n b\r\nMessage-ID: <x>\r\n\r\nbody";
        assert_eq!(section_bytes(raw, "HEADER.FIELDS (SUBJECT)").unwrap(), b"Subject: a\r\n b\r\n\r\n");
        assert_eq!(section_bytes(raw, "HEADER.FIELDS.NOT (SUBJECT)").unwrap(), b"Message-ID: <x>\r\n\r\n");
        assert_eq!(section_bytes(raw, "TEXT").unwrap(), b"body");
    }
}
