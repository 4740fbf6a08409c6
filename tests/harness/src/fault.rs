//! A fault-injecting TCP proxy for the reliability tests: forwards clients to a real
//! server (Dovecot, Postfix, a webhook receiver, the OAuth2 provider) and, once a
//! connection has carried a chosen number of bytes in one direction, drops it, stalls it,
//! resets it, slows it down or injects a garbage line. A fault is armed for the next
//! connection that reaches its byte offset (one-shot), so a test can say "cut the FETCH
//! after 2 MB" or "cut the APPEND half-way" and then watch the client recover.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::{HarnessError, io};

/// Which way the bytes flow that a fault counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the client to the server (a command, an APPEND literal, SMTP DATA, a request).
    Upstream,
    /// From the server to the client (a FETCH answer, IDLE news, a response).
    Downstream,
}

/// What happens to a connection when its fault fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Both sides see an orderly close (FIN).
    Drop,
    /// Both sides see a reset (RST).
    Reset,
    /// Nothing more is forwarded either way; the sockets stay open until the client gives up.
    Stall,
    /// From then on at most this many bytes per second flow in the faulted direction.
    Throttle(u64),
    /// These bytes are sent to the receiving side, then forwarding goes on.
    Garbage(Vec<u8>),
}

#[derive(Debug, Clone)]
struct Armed {
    direction: Direction,
    after: u64,
    fault: Fault,
}

#[derive(Default)]
struct Shared {
    armed: Mutex<Option<Armed>>,
    fired: AtomicU64,
    connections: AtomicU64,
    stop: AtomicBool,
    /// Sockets of the live connections and their stall flags, to act on all of them at once.
    live: Mutex<Vec<(TcpStream, TcpStream, Arc<AtomicBool>)>>,
    /// Bytes per second for every connection, both ways (0: no limit).
    throttle_all: AtomicU64,
}

/// The proxy on a free loopback port. Stops accepting on drop.
pub struct FaultProxy {
    /// The port clients connect to.
    pub port: u16,
    shared: Arc<Shared>,
}

impl FaultProxy {
    /// Forwards connections to `target`.
    pub fn start(target: SocketAddr) -> Result<FaultProxy, HarnessError> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(io("binding the fault proxy"))?;
        let port = listener.local_addr().map_err(io("fault proxy address"))?.port();
        listener.set_nonblocking(true).map_err(io("fault proxy nonblocking"))?;
        let shared = Arc::new(Shared::default());
        let s = Arc::clone(&shared);
        std::thread::spawn(move || {
            while !s.stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let _ = client.set_nonblocking(false);
                        let Ok(server) = TcpStream::connect(target) else { continue };
                        s.connections.fetch_add(1, Ordering::Relaxed);
                        connect(client, server, &s);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Ok(FaultProxy { port, shared })
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Arms `fault` for the first connection that carries more than `after` bytes in
    /// `direction` (counted per connection, from its start). One-shot.
    pub fn arm(&self, direction: Direction, after: u64, fault: Fault) {
        *self.shared.armed.lock().unwrap_or_else(|p| p.into_inner()) = Some(Armed { direction, after, fault });
    }

    /// Arms `fault` at a random offset in `range` (seeded, so a failure can be replayed):
    /// returns the offset chosen.
    pub fn arm_random(&self, direction: Direction, range: std::ops::Range<u64>, fault: Fault, seed: u64) -> u64 {
        let mut rng = fastrand::Rng::with_seed(seed);
        let after = rng.u64(range);
        self.arm(direction, after, fault);
        after
    }

    /// Slows every connection, present and future, to `bytes_per_sec` each way (`None`:
    /// full speed again).
    pub fn throttle_all(&self, bytes_per_sec: Option<u64>) {
        self.shared.throttle_all.store(bytes_per_sec.unwrap_or(0), Ordering::Relaxed);
    }

    /// Drops (or resets) every live connection now.
    pub fn cut_all(&self, reset: bool) {
        let live = std::mem::take(&mut *self.shared.live.lock().unwrap_or_else(|p| p.into_inner()));
        for (a, b, _) in live {
            cut(&a, &b, reset);
        }
        self.shared.fired.fetch_add(1, Ordering::Relaxed);
    }

    /// Stalls every live connection now: from here on nothing is forwarded either way,
    /// while both sockets stay open (a NAT gateway that forgot the connection, a hung
    /// server). New connections are not affected.
    pub fn stall_all(&self) {
        for (_, _, stalled) in self.shared.live.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            stalled.store(true, Ordering::Relaxed);
        }
        self.shared.fired.fetch_add(1, Ordering::Relaxed);
    }

    /// How many faults fired so far.
    pub fn fired(&self) -> u64 {
        self.shared.fired.load(Ordering::Relaxed)
    }

    /// How many connections were made through the proxy.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::Relaxed)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.cut_all(false);
    }
}

fn cut(a: &TcpStream, b: &TcpStream, reset: bool) {
    if reset {
        // SO_LINGER 0: close sends RST instead of FIN.
        let _ = socket2::SockRef::from(a).set_linger(Some(Duration::ZERO));
        let _ = socket2::SockRef::from(b).set_linger(Some(Duration::ZERO));
    }
    let _ = a.shutdown(Shutdown::Both);
    let _ = b.shutdown(Shutdown::Both);
}

fn connect(client: TcpStream, server: TcpStream, shared: &Arc<Shared>) {
    let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else { return };
    // One "stalled" flag per connection: a stall stops both directions.
    let stalled = Arc::new(AtomicBool::new(false));
    if let (Ok(c3), Ok(s3)) = (client.try_clone(), server.try_clone()) {
        shared.live.lock().unwrap_or_else(|p| p.into_inner()).push((c3, s3, Arc::clone(&stalled)));
    }
    let (sh, st) = (Arc::clone(shared), Arc::clone(&stalled));
    std::thread::spawn(move || pump(client, server, Direction::Upstream, &sh, &st));
    let (sh, st) = (Arc::clone(shared), stalled);
    std::thread::spawn(move || pump(s2, c2, Direction::Downstream, &sh, &st));
}

/// Copies `from` → `to`, counting bytes, and applies an armed fault for `direction` once
/// the count passes its offset.
fn pump(mut from: TcpStream, mut to: TcpStream, direction: Direction, shared: &Shared, stalled: &AtomicBool) {
    let mut buf = [0u8; 16 * 1024];
    let mut count = 0u64;
    let mut throttle: Option<u64> = None;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if stalled.load(Ordering::Relaxed) {
            // Swallow everything until the client closes.
            continue;
        }
        let mut chunk = &buf[..n];
        let fire = {
            let mut armed = shared.armed.lock().unwrap_or_else(|p| p.into_inner());
            match armed.as_ref() {
                Some(a) if a.direction == direction && count + n as u64 > a.after => armed.take(),
                _ => None,
            }
        };
        if let Some(a) = fire {
            shared.fired.fetch_add(1, Ordering::Relaxed);
            // Forward what comes before the offset, then the fault.
            let before = (a.after.saturating_sub(count) as usize).min(chunk.len());
            let _ = to.write_all(&chunk[..before]);
            count += before as u64;
            chunk = &chunk[before..];
            match a.fault {
                Fault::Drop => return cut(&from, &to, false),
                Fault::Reset => return cut(&from, &to, true),
                Fault::Stall => {
                    stalled.store(true, Ordering::Relaxed);
                    continue;
                }
                Fault::Throttle(rate) => throttle = Some(rate.max(1)),
                Fault::Garbage(bytes) => {
                    let _ = to.write_all(&bytes);
                }
            }
        }
        let global = shared.throttle_all.load(Ordering::Relaxed);
        match throttle.or((global > 0).then_some(global)) {
            Some(rate) => {
                for piece in chunk.chunks(((rate / 10).max(1)) as usize) {
                    if to.write_all(piece).is_err() {
                        return cut(&from, &to, false);
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            None => {
                if to.write_all(chunk).is_err() {
                    break;
                }
            }
        }
        count += chunk.len() as u64;
    }
    let _ = to.shutdown(Shutdown::Write);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// An echo server: answers every byte with itself.
    fn echo() -> SocketAddr {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for mut conn in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = conn.read(&mut buf) {
                        if n == 0 || conn.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    fn read_all(c: &mut TcpStream) -> Vec<u8> {
        let mut out = Vec::new();
        let _ = c.read_to_end(&mut out);
        out
    }

    #[test]
    fn a_drop_cuts_the_stream_at_the_armed_offset_and_only_once() {
        let proxy = FaultProxy::start(echo()).unwrap();
        proxy.arm(Direction::Downstream, 10, Fault::Drop);
        let mut c = TcpStream::connect(proxy.addr()).unwrap();
        c.write_all(b"0123456789abcdefghij").unwrap();
        assert_eq!(read_all(&mut c), b"0123456789");
        assert_eq!(proxy.fired(), 1);
        // The next connection is untouched.
        let mut c = TcpStream::connect(proxy.addr()).unwrap();
        c.write_all(b"hello").unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        assert_eq!(read_all(&mut c), b"hello");
    }

    #[test]
    fn garbage_is_injected_and_forwarding_goes_on() {
        let proxy = FaultProxy::start(echo()).unwrap();
        proxy.arm(Direction::Downstream, 3, Fault::Garbage(b"* \x00\xffjunk\r\n".to_vec()));
        let mut c = TcpStream::connect(proxy.addr()).unwrap();
        c.write_all(b"abcdef").unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        assert_eq!(read_all(&mut c), b"abc* \x00\xffjunk\r\ndef");
    }

    #[test]
    fn a_stall_forwards_nothing_more_and_a_reset_is_seen_as_one() {
        let proxy = FaultProxy::start(echo()).unwrap();
        proxy.arm(Direction::Downstream, 2, Fault::Stall);
        let mut c = TcpStream::connect(proxy.addr()).unwrap();
        c.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
        c.write_all(b"abcd").unwrap();
        let mut buf = [0u8; 16];
        let n = c.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"ab");
        assert!(c.read(&mut buf).is_err(), "a stalled connection answered");
        proxy.arm(Direction::Downstream, 0, Fault::Reset);
        let mut c = TcpStream::connect(proxy.addr()).unwrap();
        c.write_all(b"x").unwrap();
        let mut buf = [0u8; 4];
        let got = c.read(&mut buf);
        assert!(matches!(got, Ok(0)) || got.is_err(), "{got:?}");
    }
}
