//! Loopback ports.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// A port that was free a moment ago on 127.0.0.1 (the OS picks it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(0)
}

/// Waits until a server on `addr` greets a new connection with a line starting with
/// `greeting` (an SMTP server's `220`): a listening socket alone does not mean its
/// worker processes can serve yet. False on timeout.
pub fn wait_for_greeting(addr: SocketAddr, greeting: &str, timeout: Duration) -> bool {
    use std::io::Read;
    let start = Instant::now();
    while start.elapsed() < timeout {
        if let Ok(mut conn) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = [0u8; 64];
            if let Ok(n) = conn.read(&mut buf)
                && buf[..n].starts_with(greeting.as_bytes())
            {
                let _ = std::io::Write::write_all(&mut conn, b"QUIT\r\n");
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Waits until something accepts connections on `addr`; false on timeout.
pub fn wait_for_port(addr: SocketAddr, timeout: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}
