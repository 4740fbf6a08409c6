//! A scripted IMAP server that misbehaves on purpose (issue 14): the one place where a
//! scripted server is right, since Dovecot cannot send malformed, truncated or endless
//! answers. It speaks just enough plain IMAP on loopback for one pass over an INBOX with
//! two messages (greeting, CAPABILITY, LOGIN / AUTHENTICATE PLAIN, ID, ENABLE,
//! NAMESPACE, LIST, SELECT / EXAMINE, UID SEARCH, UID FETCH, NOOP, LOGOUT), and injects
//! one [`Misbehaviour`] at its step. One thread per connection, commands read by line.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::{HarnessError, io};

/// What the server does wrong, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misbehaviour {
    /// Nothing: a well-behaved server, for checking the script itself.
    None,
    /// A malformed untagged response (`* 1 FETCH (UID ` and garbage) in the body FETCH, then the tagged OK.
    MalformedFetch,
    /// The body FETCH announces a 5000-byte literal, sends 100 bytes of it and closes the connection.
    TruncatedLiteral,
    /// The body FETCH announces `{10}` and sends 50 bytes, then the tagged OK.
    LongerLiteral,
    /// After SELECT's untagged data: `* OK still here` forever, as fast as the socket takes it.
    EndlessUntagged,
    /// A LIST answer of this many folders (and each is selectable).
    HugeList(usize),
    /// One LIST line whose folder name is a literal of this many bytes.
    HugeListLine(usize),
    /// One LIST line whose folder name is a quoted string of this many bytes.
    HugeQuotedListLine(usize),
    /// `* BYE` right after the login's OK, and a close 300 ms later (the next command goes unanswered).
    ByeAfterLogin,
    /// `* BYE` and a close in the middle of the body FETCH (after the first message).
    ByeInFetch,
    /// SELECT is answered with half a line, then nothing (the socket stays open).
    Stall,
    /// Offers IDLE, answers everything else well, and after the continuation of IDLE sends
    /// `* OK still here` forever.
    EndlessInIdle,
    /// A body FETCH whose set includes this UID gets the other messages, then
    /// `NO [SERVERBUG] Internal error occurred.` (a message file the server cannot read).
    RefusedBody(u32),
    /// Every UID SEARCH is answered `NO [UNAVAILABLE] Search backend unavailable`.
    RefusedSearch,
}

/// The running server; stops (and closes every connection) on drop.
pub struct HostileServer {
    /// The loopback port it listens on.
    pub port: u16,
    stop: Arc<AtomicBool>,
    connections: Arc<AtomicUsize>,
    commands: Arc<Mutex<Vec<String>>>,
    misbehaviour: Arc<Mutex<Misbehaviour>>,
}

impl HostileServer {
    /// Listens on a free loopback port and serves every connection with `misbehaviour`.
    pub fn start(misbehaviour: Misbehaviour) -> Result<HostileServer, HarnessError> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(io("binding the hostile IMAP server"))?;
        let port = listener.local_addr().map_err(io("hostile IMAP server address"))?.port();
        listener.set_nonblocking(true).map_err(io("hostile IMAP server listener"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicUsize::new(0));
        let commands = Arc::new(Mutex::new(Vec::new()));
        let current = Arc::new(Mutex::new(misbehaviour));
        let (s, c, log, mis) =
            (Arc::clone(&stop), Arc::clone(&connections), Arc::clone(&commands), Arc::clone(&current));
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        c.fetch_add(1, Ordering::Relaxed);
                        let (s, log, mis) = (Arc::clone(&s), Arc::clone(&log), Arc::clone(&mis));
                        std::thread::spawn(move || {
                            let _ = serve(stream, &mis, &s, &log);
                        });
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(10)),
                    Err(_) => break,
                }
            }
        });
        Ok(HostileServer { port, stop, connections, commands, misbehaviour: current })
    }

    /// From the next command on, every connection (open or new) misbehaves this way.
    pub fn set(&self, misbehaviour: Misbehaviour) {
        *self.misbehaviour.lock().unwrap_or_else(|p| p.into_inner()) = misbehaviour;
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }

    /// Every command line received so far (AUTHENTICATE data and LOGIN passwords included), in order.
    pub fn commands(&self) -> Vec<String> {
        self.commands.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

const CAPABILITIES: &str = "IMAP4rev1 AUTH=PLAIN ID ENABLE NAMESPACE";

/// The two messages of the INBOX, by UID.
fn message(uid: u32) -> Vec<u8> {
    format!(
        "From: Hostile <hostile@server.test>\r\nTo: anna@architekt.test\r\nSubject: Nachricht {uid}\r\n\
         Message-ID: <hostile-{uid}@server.test>\r\nDate: Wed, 2 Dec 2026 09:00:00 +0000\r\n\r\nText {uid}.\r\n"
    )
    .into_bytes()
}

fn serve(
    stream: TcpStream,
    current: &Mutex<Misbehaviour>,
    stop: &AtomicBool,
    log: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let mut out = stream.try_clone()?;
    let mut input = BufReader::new(stream);
    out.write_all(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hostile IMAP server ready\r\n")?;
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 || stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        let text = line.trim_end().to_owned();
        let mis = *current.lock().unwrap_or_else(|p| p.into_inner());
        if let Ok(mut l) = log.lock() {
            l.push(text.clone());
        }
        let mut words = text.splitn(3, ' ');
        let tag = words.next().unwrap_or("*").to_owned();
        let mut command = words.next().unwrap_or("").to_ascii_uppercase();
        let mut rest = words.next().unwrap_or("").to_owned();
        if command == "UID" {
            let mut w = rest.splitn(2, ' ');
            command = format!("UID {}", w.next().unwrap_or("").to_ascii_uppercase());
            rest = w.next().unwrap_or("").to_owned();
        }
        let ok = |out: &mut TcpStream, what: &str| out.write_all(format!("{tag} OK {what} completed\r\n").as_bytes());
        let caps =
            if mis == Misbehaviour::EndlessInIdle { format!("{CAPABILITIES} IDLE") } else { CAPABILITIES.into() };
        match command.as_str() {
            "IDLE" if mis == Misbehaviour::EndlessInIdle => {
                out.write_all(b"+ idling\r\n")?;
                return endless(out, stop);
            }
            "CAPABILITY" => {
                out.write_all(format!("* CAPABILITY {caps}\r\n").as_bytes())?;
                ok(&mut out, "CAPABILITY")?;
            }
            "LOGIN" | "AUTHENTICATE" => {
                // AUTHENTICATE PLAIN without an initial response: ask for it, take any answer.
                if command == "AUTHENTICATE" && !rest.contains(' ') {
                    out.write_all(b"+ \r\n")?;
                    line.clear();
                    input.read_line(&mut line)?;
                }
                out.write_all(format!("{tag} OK [CAPABILITY {caps}] logged in\r\n").as_bytes())?;
                if mis == Misbehaviour::ByeAfterLogin {
                    out.write_all(b"* BYE shutting down right after your login\r\n")?;
                    // Long enough for the client's next command to arrive unanswered.
                    std::thread::sleep(Duration::from_millis(300));
                    return close(out);
                }
            }
            "ID" => {
                out.write_all(b"* ID (\"name\" \"hostile\")\r\n")?;
                ok(&mut out, "ID")?;
            }
            "ENABLE" => {
                out.write_all(b"* ENABLED\r\n")?;
                ok(&mut out, "ENABLE")?;
            }
            "NAMESPACE" => {
                out.write_all(b"* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n")?;
                ok(&mut out, "NAMESPACE")?;
            }
            "LIST" | "LSUB" => {
                list(&mut out, mis)?;
                ok(&mut out, "LIST")?;
            }
            "SELECT" | "EXAMINE" => {
                if mis == Misbehaviour::Stall {
                    out.write_all(b"* 2 EXI")?;
                    return stall(input, stop);
                }
                let exists = if rest.trim_matches('"').eq_ignore_ascii_case("INBOX") { 2 } else { 0 };
                out.write_all(
                    format!(
                        "* {exists} EXISTS\r\n* 0 RECENT\r\n* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft)\r\n\
                         * OK [UIDVALIDITY 7] UIDs valid\r\n* OK [UIDNEXT {}] next\r\n",
                        exists + 1
                    )
                    .as_bytes(),
                )?;
                if mis == Misbehaviour::EndlessUntagged {
                    return endless(out, stop);
                }
                out.write_all(format!("{tag} OK [READ-WRITE] {command} completed\r\n").as_bytes())?;
            }
            "UID SEARCH" | "SEARCH" if mis == Misbehaviour::RefusedSearch => {
                out.write_all(format!("{tag} NO [UNAVAILABLE] Search backend unavailable\r\n").as_bytes())?;
            }
            "UID SEARCH" | "SEARCH" => {
                out.write_all(b"* SEARCH 1 2\r\n")?;
                ok(&mut out, "SEARCH")?;
            }
            "UID FETCH" | "FETCH" => match fetch(&mut out, &rest, mis)? {
                Fetched::Complete => ok(&mut out, "FETCH")?,
                Fetched::Refused => {
                    out.write_all(format!("{tag} NO [SERVERBUG] Internal error occurred.\r\n").as_bytes())?;
                }
                Fetched::Close => return close(out),
            },
            "LOGOUT" => {
                out.write_all(b"* BYE logging out\r\n")?;
                ok(&mut out, "LOGOUT")?;
                return close(out);
            }
            "" => {}
            _ => ok(&mut out, &command)?,
        }
    }
}

fn list(out: &mut TcpStream, mis: Misbehaviour) -> std::io::Result<()> {
    out.write_all(b"* LIST (\\HasNoChildren) \"/\" INBOX\r\n")?;
    match mis {
        Misbehaviour::HugeList(n) => {
            let mut chunk = Vec::with_capacity(1 << 16);
            for i in 0..n {
                chunk.extend_from_slice(format!("* LIST (\\HasNoChildren) \"/\" \"Projekt {i:06}\"\r\n").as_bytes());
                if chunk.len() > 60_000 {
                    out.write_all(&chunk)?;
                    chunk.clear();
                }
            }
            out.write_all(&chunk)?;
        }
        Misbehaviour::HugeListLine(bytes) => {
            out.write_all(format!("* LIST (\\HasNoChildren) \"/\" {{{bytes}}}\r\n").as_bytes())?;
            let block = vec![b'x'; 1 << 16];
            let mut left = bytes;
            while left > 0 {
                let n = left.min(block.len());
                out.write_all(&block[..n])?;
                left -= n;
            }
            out.write_all(b"\r\n")?;
        }
        Misbehaviour::HugeQuotedListLine(bytes) => {
            out.write_all(b"* LIST (\\HasNoChildren) \"/\" \"")?;
            let block = vec![b'q'; 1 << 16];
            let mut left = bytes;
            while left > 0 {
                let n = left.min(block.len());
                out.write_all(&block[..n])?;
                left -= n;
            }
            out.write_all(b"\"\r\n")?;
        }
        _ => {}
    }
    Ok(())
}

/// How a FETCH ended.
enum Fetched {
    /// Every message asked for was sent: the tagged OK follows.
    Complete,
    /// The tagged NO follows.
    Refused,
    /// The connection is closed without a tagged answer.
    Close,
}

/// Whether `uid` is in an IMAP sequence set such as `1:3,7,9:*` (`*` is the highest, 2).
fn in_set(set: &str, uid: u32) -> bool {
    let number = |s: &str| if s == "*" { Some(2) } else { s.parse::<u32>().ok() };
    set.split(',').any(|part| match part.split_once(':') {
        Some((a, b)) => match (number(a), number(b)) {
            (Some(a), Some(b)) => (a.min(b)..=a.max(b)).contains(&uid),
            _ => false,
        },
        None => number(part) == Some(uid),
    })
}

/// Answers a UID FETCH of the messages in its set.
fn fetch(out: &mut TcpStream, rest: &str, mis: Misbehaviour) -> std::io::Result<Fetched> {
    let (set, items) = rest.split_once(' ').unwrap_or((rest, ""));
    let upper = items.to_ascii_uppercase();
    let body = upper.contains("BODY.PEEK[]") || upper.contains("BODY[]") || upper.contains("RFC822 ");
    let header = upper.contains("HEADER.FIELDS");
    let mut refused = false;
    for uid in (1..=2u32).filter(|u| in_set(set, *u)) {
        let raw = message(uid);
        let head = format!("* {uid} FETCH (UID {uid} FLAGS () ");
        if body {
            match mis {
                Misbehaviour::MalformedFetch => {
                    out.write_all(b"* 1 FETCH (UID \x01\xffgarbage ((( \"unterminated\r\n")?;
                    return Ok(Fetched::Complete);
                }
                Misbehaviour::TruncatedLiteral => {
                    out.write_all(format!("{head}RFC822.SIZE 5000 BODY[] {{5000}}\r\n").as_bytes())?;
                    out.write_all(&[b'y'; 100])?;
                    return Ok(Fetched::Close);
                }
                Misbehaviour::LongerLiteral => {
                    out.write_all(format!("{head}RFC822.SIZE 10 BODY[] {{10}}\r\n").as_bytes())?;
                    out.write_all(&[b'z'; 50])?;
                    out.write_all(b")\r\n")?;
                    return Ok(Fetched::Complete);
                }
                Misbehaviour::ByeInFetch if uid == 2 => {
                    out.write_all(b"* BYE going away in the middle of your FETCH\r\n")?;
                    return Ok(Fetched::Close);
                }
                Misbehaviour::RefusedBody(bad) if uid == bad => {
                    refused = true;
                    continue;
                }
                _ => {}
            }
            out.write_all(
                format!(
                    "{head}INTERNALDATE \"02-Dec-2026 09:00:00 +0000\" RFC822.SIZE {len} BODY[] {{{len}}}\r\n",
                    len = raw.len()
                )
                .as_bytes(),
            )?;
            out.write_all(&raw)?;
            out.write_all(b")\r\n")?;
        } else if header {
            let id = format!("Message-ID: <hostile-{uid}@server.test>\r\n\r\n");
            out.write_all(
                format!(
                    "{head}RFC822.SIZE {} BODY[HEADER.FIELDS (MESSAGE-ID)] {{{}}}\r\n{id})\r\n",
                    raw.len(),
                    id.len()
                )
                .as_bytes(),
            )?;
        } else {
            out.write_all(format!("* {uid} FETCH (UID {uid} FLAGS ())\r\n").as_bytes())?;
        }
    }
    Ok(if refused { Fetched::Refused } else { Fetched::Complete })
}

/// `* OK still here` until the client goes away or the server stops.
fn endless(mut out: TcpStream, stop: &AtomicBool) -> std::io::Result<()> {
    let block = b"* OK still here\r\n".repeat(4096);
    while !stop.load(Ordering::Relaxed) {
        out.write_all(&block)?;
    }
    close(out)
}

/// Says nothing more, with the socket open, until the client closes it or the server stops.
fn stall(mut input: BufReader<TcpStream>, stop: &AtomicBool) -> std::io::Result<()> {
    input.get_ref().set_read_timeout(Some(Duration::from_millis(100)))?;
    let mut sink = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        match input.read(&mut sink) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn close(mut out: TcpStream) -> std::io::Result<()> {
    let _ = out.flush();
    out.shutdown(Shutdown::Both)
}
