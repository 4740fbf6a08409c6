//! A loopback OAuth2 provider for the OAuth2 tests and the demo: the authorization code
//! flow with PKCE (S256), refresh tokens (rotated on request), the device flow, and a
//! token introspection endpoint in the shape Dovecot's `passdb { driver = oauth2 }`
//! asks (`GET /userinfo` with `Authorization: Bearer`, answered
//! `{"email": …, "active": true|false}`). Knobs make it expire tokens quickly, refuse a
//! refresh with `invalid_grant`, or answer 503 for a while.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::error::{HarnessError, io};

/// How the provider behaves.
#[derive(Debug, Clone)]
pub struct OAuthConfig {
    /// The user who "logs in" in the browser and approves device codes.
    pub user: String,
    /// Lifetime of access tokens.
    pub access_lifetime: Duration,
    /// Whether every refresh returns a new refresh token (the old one stops working).
    pub rotate: bool,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        OAuthConfig { user: String::new(), access_lifetime: Duration::from_secs(3600), rotate: false }
    }
}

#[derive(Default)]
struct State {
    codes: HashMap<String, (String, String)>,
    access: HashMap<String, (String, Instant)>,
    refresh: HashMap<String, String>,
    devices: HashMap<String, (String, bool)>,
    unavailable: u32,
    invalid_grant: bool,
    token_requests: u64,
    refused_introspections: u64,
    issued: Vec<String>,
    token_delay: Duration,
}

/// The provider; stops accepting when dropped.
pub struct OAuthServer {
    /// Its port on 127.0.0.1.
    pub port: u16,
    config: OAuthConfig,
    state: Arc<Mutex<State>>,
    serial: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl OAuthServer {
    /// Starts the provider on a free loopback port.
    pub fn start(config: OAuthConfig) -> Result<OAuthServer, HarnessError> {
        Self::start_on(0, config)
    }

    /// Starts the provider on `port` of 127.0.0.1 (0: a free one). For the demo.
    pub fn start_on(port: u16, config: OAuthConfig) -> Result<OAuthServer, HarnessError> {
        let listener = TcpListener::bind(("127.0.0.1", port)).map_err(io("binding the OAuth2 provider"))?;
        let port = listener.local_addr().map_err(io("OAuth2 provider address"))?.port();
        let server = OAuthServer {
            port,
            config,
            state: Arc::default(),
            serial: Arc::new(AtomicU64::new(1)),
            stop: Arc::new(AtomicBool::new(false)),
        };
        let handle = server.handle();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if handle.stop.load(Ordering::Relaxed) {
                    return;
                }
                if let Ok(conn) = conn {
                    let h = handle.clone();
                    std::thread::spawn(move || h.serve(conn));
                }
            }
        });
        Ok(server)
    }

    fn handle(&self) -> Handle {
        Handle {
            config: self.config.clone(),
            state: Arc::clone(&self.state),
            serial: Arc::clone(&self.serial),
            stop: Arc::clone(&self.stop),
            base: self.url(""),
        }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Every token request from now on takes `delay` before it is answered (a slow
    /// provider: concurrent refreshes overlap).
    pub fn slow_token_endpoint(&self, delay: Duration) {
        self.lock().token_delay = delay;
    }

    /// The next `n` token requests answer 503.
    pub fn unavailable_for(&self, n: u32) {
        self.lock().unavailable = n;
    }

    /// Every refresh from now on is refused with `invalid_grant` (the user revoked access),
    /// until a new authorization.
    pub fn revoke(&self) {
        let mut s = self.lock();
        s.invalid_grant = true;
        s.refresh.clear();
    }

    /// Approves a device code as the user would on the verification page.
    pub fn approve(&self, user_code: &str) -> bool {
        self.lock().devices.values_mut().find(|(code, _)| code == user_code).map(|d| d.1 = true).is_some()
    }

    /// User codes of device authorizations nobody approved yet, oldest first.
    pub fn pending_user_codes(&self) -> Vec<String> {
        let s = self.lock();
        let mut codes: Vec<(String, String)> =
            s.devices.iter().filter(|(_, (_, ok))| !ok).map(|(dc, (uc, _))| (dc.clone(), uc.clone())).collect();
        codes.sort();
        codes.into_iter().map(|(_, uc)| uc).collect()
    }

    /// How many access tokens are valid right now.
    pub fn live_access_tokens(&self) -> usize {
        let now = Instant::now();
        self.lock().access.values().filter(|(_, until)| now < *until).count()
    }

    /// Every access and refresh token issued so far (for tests that no token is printed).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.lock().issued.clone()
    }

    /// How many logins Dovecot checked with a token that was unknown or expired.
    pub fn refused_introspections(&self) -> u64 {
        self.lock().refused_introspections
    }

    /// How many requests the token endpoint got.
    pub fn token_requests(&self) -> u64 {
        self.lock().token_requests
    }

    /// Whether a refresh token is currently valid.
    pub fn refresh_valid(&self, token: &str) -> bool {
        self.lock().refresh.contains_key(token)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for OAuthServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

#[derive(Clone)]
struct Handle {
    config: OAuthConfig,
    state: Arc<Mutex<State>>,
    serial: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    base: String,
}

/// A parsed request: method, path, query or form parameters, headers.
struct Request {
    method: String,
    path: String,
    params: HashMap<String, String>,
    headers: HashMap<String, String>,
}

fn decode_form(text: &str) -> HashMap<String, String> {
    text.split('&').filter_map(|pair| pair.split_once('=')).map(|(k, v)| (unescape(k), unescape(v))).collect()
}

fn unescape(s: &str) -> String {
    let bytes = s.replace('+', " ").into_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = bytes.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(&String::from_utf8_lossy(hex), 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn read_request(reader: &mut impl BufRead) -> Option<Request> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let length: usize = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut params = decode_form(query);
    params.extend(decode_form(&String::from_utf8_lossy(&body)));
    Some(Request { method, path: path.to_owned(), params, headers })
}

fn respond(conn: &mut TcpStream, status: &str, extra: &[(&str, String)], body: &str) {
    let mut head = format!("HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n", body.len());
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("connection: close\r\n\r\n");
    let _ = conn.write_all(head.as_bytes()).and_then(|()| conn.write_all(body.as_bytes()));
}

impl Handle {
    fn token(&self, prefix: &str) -> String {
        format!("{prefix}-{}-{}", self.serial.fetch_add(1, Ordering::Relaxed), std::process::id())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn serve(&self, conn: TcpStream) {
        let Ok(read) = conn.try_clone() else { return };
        let mut reader = BufReader::new(read);
        let Some(req) = read_request(&mut reader) else { return };
        let mut conn = conn;
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/authorize") => self.authorize(&mut conn, &req),
            ("POST", "/token") => self.token_endpoint(&mut conn, &req),
            ("POST", "/device/code") => self.device_code(&mut conn),
            ("GET", "/userinfo") => self.userinfo(&mut conn, &req),
            _ => respond(&mut conn, "404 Not Found", &[], "{}"),
        }
    }

    /// The browser's part: the user is logged in and agrees at once; back to the client.
    fn authorize(&self, conn: &mut TcpStream, req: &Request) {
        let p = &req.params;
        let (Some(redirect), Some(challenge)) = (p.get("redirect_uri"), p.get("code_challenge")) else {
            return respond(conn, "400 Bad Request", &[], r#"{"error":"invalid_request"}"#);
        };
        if p.get("code_challenge_method").map(String::as_str) != Some("S256") {
            return respond(
                conn,
                "400 Bad Request",
                &[],
                r#"{"error":"invalid_request","error_description":"PKCE S256 required"}"#,
            );
        }
        let code = self.token("code");
        self.lock().codes.insert(code.clone(), (challenge.clone(), redirect.clone()));
        let state = p.get("state").cloned().unwrap_or_default();
        let location = format!("{redirect}?code={code}&state={state}");
        respond(conn, "302 Found", &[("location", location)], "{}");
    }

    fn issue(&self, state: &mut State, refresh: Option<String>) -> String {
        let access = self.token("at");
        state.access.insert(access.clone(), (self.config.user.clone(), Instant::now() + self.config.access_lifetime));
        let refresh = refresh.unwrap_or_else(|| self.token("rt"));
        state.refresh.insert(refresh.clone(), self.config.user.clone());
        state.issued.extend([access.clone(), refresh.clone()]);
        serde_json::json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.config.access_lifetime.as_secs(),
            "refresh_token": refresh,
        })
        .to_string()
    }

    fn token_endpoint(&self, conn: &mut TcpStream, req: &Request) {
        let delay = {
            let mut s = self.lock();
            s.token_requests += 1;
            s.token_delay
        };
        std::thread::sleep(delay);
        let mut s = self.lock();
        if s.unavailable > 0 {
            s.unavailable -= 1;
            drop(s);
            return respond(conn, "503 Service Unavailable", &[], r#"{"error":"temporarily_unavailable"}"#);
        }
        let p = &req.params;
        let grant = p.get("grant_type").map(String::as_str).unwrap_or_default();
        let invalid = |why: &str| serde_json::json!({ "error": "invalid_grant", "error_description": why }).to_string();
        let body = match grant {
            "authorization_code" => {
                let code = p.get("code").cloned().unwrap_or_default();
                let Some((challenge, redirect)) = s.codes.remove(&code) else {
                    drop(s);
                    return respond(conn, "400 Bad Request", &[], &invalid("unknown or used code"));
                };
                let verifier = p.get("code_verifier").cloned().unwrap_or_default();
                let expected = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
                if expected != challenge || p.get("redirect_uri") != Some(&redirect) {
                    drop(s);
                    return respond(
                        conn,
                        "400 Bad Request",
                        &[],
                        &invalid("PKCE verifier or redirect_uri does not match"),
                    );
                }
                s.invalid_grant = false;
                self.issue(&mut s, None)
            }
            "refresh_token" => {
                let token = p.get("refresh_token").cloned().unwrap_or_default();
                if s.invalid_grant || !s.refresh.contains_key(&token) {
                    drop(s);
                    return respond(conn, "400 Bad Request", &[], &invalid("Token has been expired or revoked."));
                }
                let keep = if self.config.rotate {
                    s.refresh.remove(&token);
                    None
                } else {
                    Some(token)
                };
                self.issue(&mut s, keep)
            }
            "urn:ietf:params:oauth:grant-type:device_code" => {
                let device = p.get("device_code").cloned().unwrap_or_default();
                match s.devices.get(&device).cloned() {
                    None => {
                        drop(s);
                        return respond(conn, "400 Bad Request", &[], r#"{"error":"expired_token"}"#);
                    }
                    Some((_, false)) => {
                        drop(s);
                        return respond(conn, "400 Bad Request", &[], r#"{"error":"authorization_pending"}"#);
                    }
                    Some((_, true)) => {
                        s.devices.remove(&device);
                        self.issue(&mut s, None)
                    }
                }
            }
            _ => {
                drop(s);
                return respond(conn, "400 Bad Request", &[], r#"{"error":"unsupported_grant_type"}"#);
            }
        };
        drop(s);
        respond(conn, "200 OK", &[], &body);
    }

    fn device_code(&self, conn: &mut TcpStream) {
        let device = self.token("dc");
        let user_code = format!("PF-{:04}", self.serial.fetch_add(1, Ordering::Relaxed) % 10_000);
        self.lock().devices.insert(device.clone(), (user_code.clone(), false));
        let body = serde_json::json!({
            "device_code": device,
            "user_code": user_code,
            "verification_uri": format!("{}/device", self.base),
            "expires_in": 600,
            "interval": 1,
        });
        respond(conn, "200 OK", &[], &body.to_string());
    }

    /// Dovecot's introspection: 200 with `active` true for a live token, false otherwise.
    fn userinfo(&self, conn: &mut TcpStream, req: &Request) {
        let token = req.headers.get("authorization").and_then(|h| h.strip_prefix("Bearer ")).unwrap_or_default();
        let mut s = self.lock();
        let live = s.access.get(token).filter(|(_, until)| Instant::now() < *until).map(|(user, _)| user.clone());
        if live.is_none() {
            s.refused_introspections += 1;
        }
        drop(s);
        let body = match live {
            Some(user) => serde_json::json!({ "email": user, "active": true }),
            None => serde_json::json!({ "active": false }),
        };
        respond(conn, "200 OK", &[], &body.to_string());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::io::Read;

    use super::*;

    fn http(port: u16, request: &str) -> (String, String) {
        let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        c.write_all(request.as_bytes()).unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        (head.to_owned(), body.to_owned())
    }

    fn post(port: u16, path: &str, form: &str) -> (String, serde_json::Value) {
        let (head, body) = http(
            port,
            &format!(
                "POST {path} HTTP/1.1\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n\r\n{form}",
                form.len()
            ),
        );
        (head, serde_json::from_str(&body).unwrap())
    }

    #[test]
    fn the_code_flow_with_pkce_refresh_rotation_and_introspection_work() {
        let server =
            OAuthServer::start(OAuthConfig { user: "anna@example.de".into(), rotate: true, ..OAuthConfig::default() })
                .unwrap();
        let verifier = "a-verifier-of-enough-length-for-the-test-0123456789";
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let redirect = "http%3A%2F%2F127.0.0.1%3A9%2Fcb";
        let (head, _) = http(
            server.port,
            &format!(
                "GET /authorize?response_type=code&client_id=c&redirect_uri={redirect}&state=xyz&code_challenge={challenge}&code_challenge_method=S256 HTTP/1.1\r\n\r\n"
            ),
        );
        assert!(head.starts_with("HTTP/1.1 302"), "{head}");
        let location = head.lines().find_map(|l| l.strip_prefix("location: ")).unwrap();
        assert!(location.starts_with("http://127.0.0.1:9/cb?code=") && location.ends_with("&state=xyz"), "{location}");
        let code = location.split("code=").nth(1).unwrap().split('&').next().unwrap();
        // A wrong verifier is refused, and the code is then used up.
        let (_, bad) = post(
            server.port,
            "/token",
            &format!("grant_type=authorization_code&code={code}&code_verifier=wrong&redirect_uri={redirect}"),
        );
        assert_eq!(bad["error"], "invalid_grant");
        let (_, bad) = post(
            server.port,
            "/token",
            &format!("grant_type=authorization_code&code={code}&code_verifier={verifier}&redirect_uri={redirect}"),
        );
        assert_eq!(bad["error"], "invalid_grant", "one-shot codes");

        let (head, _) = http(
            server.port,
            &format!(
                "GET /authorize?redirect_uri={redirect}&state=s&code_challenge={challenge}&code_challenge_method=S256 HTTP/1.1\r\n\r\n"
            ),
        );
        let location = head.lines().find_map(|l| l.strip_prefix("location: ")).unwrap();
        let code = location.split("code=").nth(1).unwrap().split('&').next().unwrap();
        let (_, tokens) = post(
            server.port,
            "/token",
            &format!("grant_type=authorization_code&code={code}&code_verifier={verifier}&redirect_uri={redirect}"),
        );
        let access = tokens["access_token"].as_str().unwrap().to_owned();
        let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
        let (_, info) = http(server.port, &format!("GET /userinfo HTTP/1.1\r\nAuthorization: Bearer {access}\r\n\r\n"));
        assert_eq!(serde_json::from_str::<serde_json::Value>(&info).unwrap()["email"], "anna@example.de");
        // Rotation: the old refresh token stops working.
        let (_, next) = post(server.port, "/token", &format!("grant_type=refresh_token&refresh_token={refresh}"));
        let rotated = next["refresh_token"].as_str().unwrap();
        assert_ne!(rotated, refresh);
        assert!(!server.refresh_valid(&refresh) && server.refresh_valid(rotated));
        server.unavailable_for(1);
        let (head, _) = post(server.port, "/token", &format!("grant_type=refresh_token&refresh_token={rotated}"));
        assert!(head.starts_with("HTTP/1.1 503"), "{head}");
        server.revoke();
        let (_, refused) = post(server.port, "/token", &format!("grant_type=refresh_token&refresh_token={rotated}"));
        assert_eq!(refused["error"], "invalid_grant");
        assert_eq!(server.token_requests(), 6);
        let (_, info) = http(server.port, "GET /userinfo HTTP/1.1\r\nAuthorization: Bearer nope\r\n\r\n");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&info).unwrap()["active"], false);
    }

    #[test]
    fn the_device_flow_is_pending_until_approved() {
        let server = OAuthServer::start(OAuthConfig { user: "u@x.de".into(), ..OAuthConfig::default() }).unwrap();
        let (_, started) = post(server.port, "/device/code", "client_id=c&scope=s");
        let device = started["device_code"].as_str().unwrap().to_owned();
        let form = format!("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code={device}");
        assert_eq!(post(server.port, "/token", &form).1["error"], "authorization_pending");
        assert!(server.approve(started["user_code"].as_str().unwrap()));
        assert!(post(server.port, "/token", &form).1["access_token"].is_string());
        assert_eq!(post(server.port, "/token", &form).1["error"], "expired_token");
    }
}
