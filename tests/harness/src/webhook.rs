//! A small webhook receiver for tests and the demo: an HTTP/1.1 server on loopback that
//! records every POST (headers, body, whether its Standard Webhooks signature verifies
//! with the configured secret) and answers with scripted statuses (200 once the script
//! is used up).

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::HarnessError;
use crate::error::io;

/// One POST the receiver got.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Header names in lower case, with their values.
    pub headers: BTreeMap<String, String>,
    /// The body.
    pub body: Vec<u8>,
    /// Whether `webhook-signature` is the HMAC of `id.timestamp.body` with the secret.
    pub verified: bool,
    /// The status it was answered with.
    pub answered: u16,
}

impl Delivery {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

struct Shared {
    deliveries: Mutex<Vec<Delivery>>,
    script: Mutex<VecDeque<u16>>,
    key: Vec<u8>,
    stop: AtomicBool,
}

/// The receiver; stops when dropped.
pub struct WebhookReceiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl WebhookReceiver {
    /// Starts a receiver on a free loopback port that verifies with `secret` (`whsec_<base64>`).
    pub fn start(secret: &str) -> Result<WebhookReceiver, HarnessError> {
        WebhookReceiver::start_on(0, secret)
    }

    /// Starts a receiver on a given loopback port (the demo's fixed one).
    pub fn start_on(port: u16, secret: &str) -> Result<WebhookReceiver, HarnessError> {
        let key = secret
            .strip_prefix("whsec_")
            .and_then(|b| STANDARD.decode(b).ok())
            .ok_or_else(|| HarnessError::Setup("webhook secret must be whsec_<base64>".into()))?;
        let listener = TcpListener::bind(("127.0.0.1", port)).map_err(io("bind the webhook receiver"))?;
        let addr = listener.local_addr().map_err(io("webhook receiver address"))?;
        let shared = Arc::new(Shared {
            deliveries: Mutex::default(),
            script: Mutex::default(),
            key,
            stop: AtomicBool::new(false),
        });
        let s = Arc::clone(&shared);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.stop.load(Ordering::Relaxed) {
                    return;
                }
                if let Ok(conn) = conn {
                    let s = Arc::clone(&s);
                    std::thread::spawn(move || serve(conn, &s));
                }
            }
        });
        Ok(WebhookReceiver { addr, shared })
    }

    /// The URL to configure.
    pub fn url(&self) -> String {
        format!("http://{}/hooks/mail", self.addr)
    }

    /// The next answers, in order (then 200).
    pub fn script(&self, statuses: &[u16]) {
        self.shared.script.lock().unwrap_or_else(|p| p.into_inner()).extend(statuses);
    }

    /// Every delivery so far, in arrival order.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.deliveries.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve(conn: TcpStream, shared: &Shared) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(write) = conn.try_clone() else { return };
    let mut reader = BufReader::new(conn);
    let mut write = write;
    // Keep-alive: serve requests until the client closes.
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = BTreeMap::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let length: usize = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let verified = verify(&shared.key, &headers, &body);
        let status = shared.script.lock().unwrap_or_else(|p| p.into_inner()).pop_front().unwrap_or(200);
        shared.deliveries.lock().unwrap_or_else(|p| p.into_inner()).push(Delivery {
            headers,
            body,
            verified,
            answered: status,
        });
        let reply = format!("HTTP/1.1 {status} Scripted\r\ncontent-length: 2\r\n\r\nok");
        if write.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

/// Checks a Standard Webhooks signature the way a receiver's library does.
pub fn verify(key: &[u8], headers: &BTreeMap<String, String>, body: &[u8]) -> bool {
    let (Some(id), Some(ts), Some(sig)) =
        (headers.get("webhook-id"), headers.get("webhook-timestamp"), headers.get("webhook-signature"))
    else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else { return false };
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    sig.split(' ').any(|s| s == expected)
}
