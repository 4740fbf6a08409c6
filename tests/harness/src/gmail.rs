//! Gmail's IMAP extension played in front of a real Dovecot: a relay that adds
//! `X-GM-EXT-1` to the capabilities Dovecot announces and answers
//! `UID FETCH <set> (UID X-GM-THRID)` itself, with thread ids the test chooses. Every
//! other command and answer is Dovecot's, byte for byte (literals included).

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::{HarnessError, io};

/// Gmail's thread id for a UID.
pub type ThreadOf = dyn Fn(u32) -> u64 + Send + Sync;

/// The relay on a free loopback port; stops accepting on drop.
pub struct GmailProxy {
    /// The port clients connect to (plain IMAP).
    pub port: u16,
    stop: Arc<AtomicBool>,
}

impl GmailProxy {
    /// Relays to `target` (Dovecot's plain IMAP port), giving each UID the thread id
    /// `thread_of(uid)`.
    pub fn start(target: SocketAddr, thread_of: Arc<ThreadOf>) -> Result<GmailProxy, HarnessError> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(io("binding the Gmail proxy"))?;
        let port = listener.local_addr().map_err(io("Gmail proxy address"))?.port();
        listener.set_nonblocking(true).map_err(io("Gmail proxy nonblocking"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let _ = client.set_nonblocking(false);
                        if let Ok(server) = TcpStream::connect(target) {
                            let _ = serve(client, server, Arc::clone(&thread_of));
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Ok(GmailProxy { port, stop })
    }
}

impl Drop for GmailProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(client: TcpStream, server: TcpStream, thread_of: Arc<ThreadOf>) -> std::io::Result<()> {
    let to_client = Arc::new(Mutex::new(client.try_clone()?));
    let mut to_server = server.try_clone()?;
    let from_server = BufReader::new(server);
    let from_client = BufReader::new(client);
    let out = Arc::clone(&to_client);
    std::thread::spawn(move || server_to_client(from_server, &out));
    std::thread::spawn(move || {
        let _ = client_to_server(from_client, &mut to_server, &to_client, &*thread_of);
    });
    Ok(())
}

/// The length of a literal announced at the end of a line (`{12}` or `{12+}`).
fn literal(line: &[u8]) -> Option<usize> {
    let body = line.strip_suffix(b"\r\n").or_else(|| line.strip_suffix(b"\n"))?;
    let body = body.strip_suffix(b"}")?;
    let open = body.iter().rposition(|b| *b == b'{')?;
    std::str::from_utf8(&body[open + 1..]).ok()?.trim_end_matches('+').parse().ok()
}

/// Reads a line and, if it announces one, its literal.
fn read_unit(reader: &mut impl BufRead) -> std::io::Result<Option<(Vec<u8>, Vec<u8>)>> {
    let mut line = Vec::new();
    if reader.read_until(b'\n', &mut line)? == 0 {
        return Ok(None);
    }
    let mut data = vec![0; literal(&line).unwrap_or(0)];
    reader.read_exact(&mut data)?;
    Ok(Some((line, data)))
}

fn server_to_client(mut from: impl BufRead, to: &Mutex<TcpStream>) {
    while let Ok(Some((line, data))) = read_unit(&mut from) {
        let line = with_gmail_capability(line);
        let mut out = to.lock().unwrap_or_else(|p| p.into_inner());
        if out.write_all(&line).and_then(|()| out.write_all(&data)).is_err() {
            return;
        }
    }
}

/// Adds `X-GM-EXT-1` to a capability list (`* CAPABILITY …` or a `[CAPABILITY …]` code).
fn with_gmail_capability(line: Vec<u8>) -> Vec<u8> {
    let text = String::from_utf8_lossy(&line);
    if let Some(at) = text.find("[CAPABILITY ")
        && let Some(end) = text[at..].find(']')
    {
        let cut = at + end;
        return format!("{} X-GM-EXT-1{}", &text[..cut], &text[cut..]).into_bytes();
    }
    if text.starts_with("* CAPABILITY ") {
        return format!("{} X-GM-EXT-1\r\n", text.trim_end()).into_bytes();
    }
    line
}

fn client_to_server(
    mut from: impl BufRead,
    to_server: &mut TcpStream,
    to_client: &Mutex<TcpStream>,
    thread_of: &ThreadOf,
) -> std::io::Result<()> {
    while let Some((line, data)) = read_unit(&mut from)? {
        if let Some((tag, set)) = thread_fetch(&line) {
            let mut answer = String::new();
            for (n, uid) in expand(&set).into_iter().enumerate() {
                answer.push_str(&format!("* {} FETCH (UID {uid} X-GM-THRID {})\r\n", n + 1, thread_of(uid)));
            }
            answer.push_str(&format!("{tag} OK Success\r\n"));
            to_client.lock().unwrap_or_else(|p| p.into_inner()).write_all(answer.as_bytes())?;
            continue;
        }
        to_server.write_all(&line)?;
        to_server.write_all(&data)?;
    }
    Ok(())
}

/// `(tag, set)` of a `UID FETCH <set> (UID X-GM-THRID)` command.
fn thread_fetch(line: &[u8]) -> Option<(String, String)> {
    let text = std::str::from_utf8(line).ok()?.trim_end();
    let mut words = text.split(' ');
    let tag = words.next()?;
    let (uid, fetch, set) = (words.next()?, words.next()?, words.next()?);
    let rest: Vec<&str> = words.collect();
    let wanted = uid.eq_ignore_ascii_case("UID")
        && fetch.eq_ignore_ascii_case("FETCH")
        && rest.join(" ").eq_ignore_ascii_case("(UID X-GM-THRID)");
    wanted.then(|| (tag.to_owned(), set.to_owned()))
}

/// The UIDs of a sequence set such as `1:3,7`.
fn expand(set: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for part in set.split(',') {
        match part.split_once(':') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) {
                    out.extend(a.min(b)..=a.max(b));
                }
            }
            None => out.extend(part.parse::<u32>().ok()),
        }
    }
    out
}
