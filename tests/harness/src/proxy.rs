//! A recording TCP relay: forwards a client to a real server and keeps a copy of what
//! each side sent, so tests can assert on the exact commands on the wire and wait for
//! what the server announced (the server still does all the answering).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::{HarnessError, io};

/// A relay on a free loopback port. Stops accepting on drop.
pub struct RecordingProxy {
    /// The port clients connect to.
    pub port: u16,
    sent: Arc<Mutex<Vec<u8>>>,
    received: Arc<Mutex<Vec<u8>>>,
    stop: Arc<AtomicBool>,
}

impl RecordingProxy {
    /// Relays connections to `target`.
    pub fn start(target: SocketAddr) -> Result<RecordingProxy, HarnessError> {
        Self::start_on(0, target)
    }

    /// Relays connections to `target` from a given loopback port (0: a free one), e.g.
    /// one an account file already names.
    pub fn start_on(port: u16, target: SocketAddr) -> Result<RecordingProxy, HarnessError> {
        let listener = TcpListener::bind(("127.0.0.1", port)).map_err(io("binding the proxy"))?;
        let port = listener.local_addr().map_err(io("proxy address"))?.port();
        listener.set_nonblocking(true).map_err(io("proxy nonblocking"))?;
        let sent = Arc::new(Mutex::new(Vec::new()));
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (sent2, received2, stop2) = (Arc::clone(&sent), Arc::clone(&received), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let _ = client.set_nonblocking(false);
                        if let Ok(server) = TcpStream::connect(target) {
                            relay(client, server, Arc::clone(&sent2), Arc::clone(&received2));
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Ok(RecordingProxy { port, sent, received, stop })
    }

    /// Everything clients sent so far, as text (lossy).
    pub fn client_text(&self) -> String {
        String::from_utf8_lossy(&self.sent.lock().map(|v| v.clone()).unwrap_or_default()).into_owned()
    }

    /// Everything the server sent so far, as text (lossy): greetings, answers and
    /// unsolicited news such as what it announces during IDLE.
    pub fn server_text(&self) -> String {
        String::from_utf8_lossy(&self.received.lock().map(|v| v.clone()).unwrap_or_default()).into_owned()
    }
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn relay(client: TcpStream, server: TcpStream, sent: Arc<Mutex<Vec<u8>>>, received: Arc<Mutex<Vec<u8>>>) {
    let (Ok(mut c_read), Ok(mut s_write)) = (client.try_clone(), server.try_clone()) else { return };
    let (mut s_read, mut c_write) = (server, client);
    std::thread::spawn(move || {
        let mut buf = [0u8; 16384];
        while let Ok(n) = c_read.read(&mut buf) {
            if n == 0 {
                break;
            }
            if let Ok(mut log) = sent.lock() {
                log.extend_from_slice(&buf[..n]);
            }
            if s_write.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = s_write.shutdown(Shutdown::Write);
    });
    std::thread::spawn(move || {
        let mut buf = [0u8; 16384];
        while let Ok(n) = s_read.read(&mut buf) {
            if n == 0 {
                break;
            }
            if let Ok(mut log) = received.lock() {
                log.extend_from_slice(&buf[..n]);
            }
            if c_write.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = c_write.shutdown(Shutdown::Write);
    });
}
