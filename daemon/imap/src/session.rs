//! Opening an authenticated IMAP session: TCP, TLS / STARTTLS / plain, greeting, login
//! by the configured mechanism, CAPABILITY re-read after login (servers change it).

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use async_imap::imap_proto::{Response, Status};
use async_imap::types::Capabilities;
use async_imap::{Authenticator, Client};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::error::{ImapError, server_text, server_words};
use super::repair::Repair;
use postfach_config::{AuthMechanism, ImapEndpoint, Security};
use postfach_net::{sasl, tls};

/// The byte stream under a session: TLS or (after an explicit opt-in) plain TCP, and
/// whether the server has closed it. What the server sends passes through
/// [`crate::repair`] before async-imap parses it.
pub struct Transport {
    stream: Stream,
    /// Repairs of known server syntax errors, and the repaired bytes not yet handed on.
    repair: Repair,
    ready: Vec<u8>,
    ready_at: usize,
    /// A read returned end-of-file. async-imap ends an answer quietly when the connection
    /// closes between two responses, exactly as at the tagged OK; this is how a caller
    /// tells the two apart (after login, where a `* BYE` may end the CAPABILITY answer).
    closed: bool,
}

enum Stream {
    /// TLS, implicit or after STARTTLS.
    Tls(Box<TlsStream<TcpStream>>),
    /// Unencrypted TCP: `security = "plain"`, or a STARTTLS connection until the upgrade.
    Plain(TcpStream),
}

impl Transport {
    fn tls(stream: TlsStream<TcpStream>) -> Transport {
        Transport::new(Stream::Tls(Box::new(stream)))
    }

    fn plain(stream: TcpStream) -> Transport {
        Transport::new(Stream::Plain(stream))
    }

    fn new(stream: Stream) -> Transport {
        Transport { stream, repair: Repair::default(), ready: Vec::new(), ready_at: 0, closed: false }
    }

    /// Whether the server has closed the connection (a read saw end-of-file).
    pub fn closed(&self) -> bool {
        self.closed
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.stream {
            Stream::Tls(_) => "Transport::Tls",
            Stream::Plain(_) => "Transport::Plain",
        })
    }
}

impl AsyncRead for Transport {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.ready_at < this.ready.len() {
                let n = buf.remaining().min(this.ready.len() - this.ready_at);
                buf.put_slice(&this.ready[this.ready_at..this.ready_at + n]);
                this.ready_at += n;
                if this.ready_at == this.ready.len() {
                    // An idle connection keeps no buffer.
                    this.ready = Vec::new();
                    this.ready_at = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if this.closed {
                return Poll::Ready(Ok(()));
            }
            let mut scratch = [0u8; 16 << 10];
            let mut raw = ReadBuf::new(&mut scratch);
            let polled = match &mut this.stream {
                Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, &mut raw),
                Stream::Plain(s) => Pin::new(s).poll_read(cx, &mut raw),
            };
            match polled {
                Poll::Ready(Ok(())) if raw.filled().is_empty() => {
                    this.closed = true;
                    this.repair.finish(&mut this.ready);
                }
                Poll::Ready(Ok(())) => this.repair.feed(raw.filled(), &mut this.ready),
                other => return other,
            }
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().stream {
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().stream {
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().stream {
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// An authenticated session and what the server offers.
pub struct Session {
    /// The async-imap session (the protocol stays inside this crate).
    pub(crate) inner: async_imap::Session<Transport>,
    /// Capabilities as re-read after login.
    pub(crate) capabilities: Capabilities,
    /// Limit for each command and each response of a streamed one, from `imap.timeout_secs` (default 30 s).
    pub timeout: Duration,
    /// How flag changes can be asked for (CONDSTORE / QRESYNC, enabled at login).
    pub changes: ChangeTracking,
    /// The server reported news (new mail, an expunge by another client) in the middle
    /// of a command's answer; [`crate::drain_changes`] takes it.
    pub(crate) news: bool,
}

/// What the server offers for finding changes since the last pass (RFC 7162).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeTracking {
    /// Neither: flags are compared by a full `UID FETCH 1:* (FLAGS)`.
    None,
    /// CONDSTORE: `CHANGEDSINCE <modseq>` returns only changed flags.
    Condstore,
    /// QRESYNC: as CONDSTORE, and `VANISHED` reports expunged UIDs.
    Qresync,
}

impl Session {
    /// Whether the server advertises `cap` (case-insensitive).
    pub fn has(&self, cap: &str) -> bool {
        self.capabilities.has_str(cap) || self.capabilities.has_str(cap.to_ascii_uppercase())
    }

    /// `NOOP`: keeps an idle connection alive where providers drop quiet ones.
    pub async fn noop(&mut self) -> Result<(), ImapError> {
        let t = self.timeout;
        tokio::time::timeout(t, self.inner.noop())
            .await
            .map_err(|_| ImapError::Timeout { what: "NOOP".into(), secs: t.as_secs() })?
            .map_err(|e| ImapError::command("NOOP", e))
    }

    /// `EXAMINE`: selects a folder read-only (for a watcher that only IDLEs on it).
    pub async fn examine(&mut self, raw: &str) -> Result<(), ImapError> {
        let t = self.timeout;
        tokio::time::timeout(t, self.inner.examine(raw))
            .await
            .map_err(|_| ImapError::Timeout { what: format!("EXAMINE {raw}"), secs: t.as_secs() })?
            .map(drop)
            .map_err(|e| ImapError::command(format!("EXAMINE \"{raw}\""), e))
    }

    /// The server's answer to `ID` (RFC 2971), sorted, after telling it who we are;
    /// `None` when it has none or the command fails.
    pub async fn server_id(&mut self) -> Option<Vec<(String, String)>> {
        let answer = tokio::time::timeout(
            self.timeout,
            self.inner.id([("name", Some("Postfach")), ("version", Some(env!("CARGO_PKG_VERSION")))]),
        )
        .await
        .ok()?
        .ok()??;
        let mut pairs: Vec<(String, String)> = answer.into_iter().collect();
        pairs.sort();
        Some(pairs)
    }

    /// Logs out politely; errors are irrelevant at this point.
    pub async fn logout(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.inner.logout()).await;
    }
}

/// Connects, secures and logs in, all within the endpoint's timeout per step.
pub async fn open(ep: &ImapEndpoint) -> Result<Session, ImapError> {
    let addr = format!("{}:{}", ep.host, ep.port);
    let limit = |what: &str| ImapError::Timeout { what: format!("{what} {addr}"), secs: ep.timeout.as_secs() };
    let client = tokio::time::timeout(ep.timeout, connect(ep, &addr)).await.map_err(|_| limit("connecting to"))??;
    let mut session =
        tokio::time::timeout(ep.timeout, login(client, ep)).await.map_err(|_| limit("logging in to"))??;
    let capabilities = tokio::time::timeout(ep.timeout, session.capabilities())
        .await
        .map_err(|_| limit("CAPABILITY at"))?
        .map_err(|e| ImapError::command("CAPABILITY", e))?;
    if session.get_ref().closed() {
        // A `* BYE` right after the login: the answer ended at end-of-file, not at the OK.
        return Err(ImapError::Command {
            command: "CAPABILITY".into(),
            text: "the server closed the connection before completing it".into(),
        });
    }
    let has = |c: &str| capabilities.has_str(c);
    let wanted = if has("QRESYNC") {
        ChangeTracking::Qresync
    } else if has("CONDSTORE") {
        ChangeTracking::Condstore
    } else {
        ChangeTracking::None
    };
    let mut session =
        Session { inner: session, capabilities, timeout: ep.timeout, changes: ChangeTracking::None, news: false };
    if wanted != ChangeTracking::None {
        session.changes = session.enable(wanted).await?;
    }
    Ok(session)
}

impl Session {
    /// `ENABLE QRESYNC` or `ENABLE CONDSTORE`: makes the server report MODSEQ (and
    /// VANISHED) from now on. Only what the server lists in `* ENABLED` counts: iCloud
    /// answers OK without enabling anything, and a client that assumed QRESYNC would wait
    /// for VANISHED responses that never come.
    async fn enable(&mut self, wanted: ChangeTracking) -> Result<ChangeTracking, ImapError> {
        let name = if wanted == ChangeTracking::Qresync { "QRESYNC" } else { "CONDSTORE" };
        let mut answer = self.send(&format!("ENABLE {name}")).await?;
        let mut enabled = Vec::new();
        loop {
            let read = answer
                .next(|r| match r {
                    Response::Capabilities(caps) => caps
                        .iter()
                        .filter_map(|c| match c {
                            async_imap::imap_proto::Capability::Atom(a) => Some(a.to_ascii_uppercase()),
                            _ => None,
                        })
                        .collect(),
                    _ => Vec::new(),
                })
                .await;
            match read {
                Ok(Some(names)) => enabled.extend(names),
                Ok(None) => break,
                Err(e @ ImapError::Refused { .. }) => {
                    tracing::debug!(error = %e, "ENABLE refused; comparing flags instead");
                    return Ok(ChangeTracking::None);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(match wanted {
            ChangeTracking::Qresync if enabled.iter().any(|e| e == "QRESYNC") => ChangeTracking::Qresync,
            // QRESYNC implies CONDSTORE (RFC 7162 §3.2.3).
            _ if enabled.iter().any(|e| e == "CONDSTORE" || e == "QRESYNC") => ChangeTracking::Condstore,
            _ => {
                tracing::debug!("the server enabled nothing of ENABLE {name}; comparing flags instead");
                ChangeTracking::None
            }
        })
    }
}

async fn connect(ep: &ImapEndpoint, addr: &str) -> Result<Client<Transport>, ImapError> {
    let tcp = TcpStream::connect((ep.host.as_str(), ep.port))
        .await
        .map_err(|source| ImapError::Connect { addr: addr.to_owned(), source })?;
    let _ = tcp.set_nodelay(true);
    // An IDLE connection carries nothing for minutes: keepalive probes find a server or
    // route that vanished (without a FIN or RST) within about four minutes, instead of
    // the system default of two hours, and keep NAT gateways from forgetting the connection.
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(120))
        .with_interval(Duration::from_secs(30))
        .with_retries(4);
    let _ = socket2::SockRef::from(&tcp).set_tcp_keepalive(&keepalive);
    let ca = ep.tls_ca_file.as_deref();
    match ep.security {
        Security::Tls => {
            let tls = tls::handshake(tcp, &ep.host, ca).await?;
            let mut client = Client::new(Transport::tls(tls));
            greeting(&mut client, addr).await?;
            Ok(client)
        }
        Security::Starttls => {
            let mut client = Client::new(Transport::plain(tcp));
            greeting(&mut client, addr).await?;
            client
                .run_command_and_check_ok("STARTTLS", None)
                .await
                .map_err(|e| ImapError::Starttls { addr: addr.to_owned(), text: server_text(e) })?;
            let Stream::Plain(tcp) = client.into_inner().stream else {
                // Unreachable: the client was built on a plain transport just above.
                return Err(ImapError::Starttls {
                    addr: addr.to_owned(),
                    text: "the connection is encrypted already".into(),
                });
            };
            let tls = tls::handshake(tcp, &ep.host, ca).await?;
            // RFC 3501 §6.2.1: no greeting after STARTTLS; capabilities are re-read after login.
            Ok(Client::new(Transport::tls(tls)))
        }
        Security::Plain => {
            let mut client = Client::new(Transport::plain(tcp));
            greeting(&mut client, addr).await?;
            Ok(client)
        }
    }
}

async fn greeting(client: &mut Client<Transport>, addr: &str) -> Result<(), ImapError> {
    let fail = |text: String| ImapError::Greeting { addr: addr.to_owned(), text };
    let response = client
        .read_response()
        .await
        .map_err(|e| fail(format!("connection error: {e}")))?
        .ok_or_else(|| fail("connection closed before the greeting".into()))?;
    match response.parsed() {
        Response::Data { status: Status::Ok | Status::PreAuth, .. } => Ok(()),
        Response::Data { status, outcome } => {
            Err(fail(format!("{status:?} {}", outcome.information.as_deref().unwrap_or("")).trim().to_owned()))
        }
        other => Err(fail(format!("unexpected greeting {other:?}"))),
    }
}

/// Whether the server offers `AUTH=<mechanism>` before login. async-imap has no public
/// way to send a command before login, so the CAPABILITY is written to the transport
/// with a tag of our own and the answer read through the client.
async fn offers(client: &mut Client<Transport>, mechanism: &str) -> Result<bool, ImapError> {
    use tokio::io::AsyncWriteExt;
    let fail = |text: String| ImapError::Command { command: "CAPABILITY".into(), text };
    let stream = client.get_mut();
    stream.write_all(b"pf0 CAPABILITY\r\n").await.map_err(|e| fail(e.to_string()))?;
    stream.flush().await.map_err(|e| fail(e.to_string()))?;
    let wanted = format!("AUTH={mechanism}");
    let mut found = false;
    loop {
        let Some(response) = client.read_response().await.map_err(|e| fail(e.to_string()))? else {
            return Err(fail("the server closed the connection".into()));
        };
        match response.parsed() {
            Response::Capabilities(caps) => {
                found |= caps.iter().any(|c| match c {
                    async_imap::imap_proto::Capability::Auth(m) => m.eq_ignore_ascii_case(mechanism),
                    async_imap::imap_proto::Capability::Atom(a) => a.eq_ignore_ascii_case(&wanted),
                    _ => false,
                });
            }
            Response::Done { tag, status, outcome } if tag.0 == "pf0" => {
                return match status {
                    Status::Ok => Ok(found),
                    other => Err(fail(format!("{other:?} {}", outcome.information.as_deref().unwrap_or("")))),
                };
            }
            _ => {}
        }
    }
}

async fn login(mut client: Client<Transport>, ep: &ImapEndpoint) -> Result<async_imap::Session<Transport>, ImapError> {
    let user = ep.username.as_str();
    let password = ep.password.as_ref().map(|p| p.expose()).unwrap_or("");
    let auth_err = |e: async_imap::error::Error| match e {
        async_imap::error::Error::No(text) | async_imap::error::Error::Bad(text) => {
            ImapError::Auth { user: user.to_owned(), text: server_words(&text) }
        }
        other => ImapError::Command { command: "login".into(), text: server_text(other) },
    };
    let result = match ep.auth {
        AuthMechanism::Login => client.login(user, password).await,
        AuthMechanism::Plain | AuthMechanism::None => {
            client.authenticate("PLAIN", Sasl::Initial(sasl::plain(user, password))).await
        }
        AuthMechanism::CramMd5 => {
            client
                .authenticate("CRAM-MD5", Sasl::CramMd5 { user: user.to_owned(), password: password.to_owned() })
                .await
        }
        AuthMechanism::Xoauth2 | AuthMechanism::Oauth2 => {
            // RFC 7628's OAUTHBEARER where offered (auth = "oauth2"), else Google's XOAUTH2.
            let bearer = ep.auth == AuthMechanism::Oauth2 && offers(&mut client, "OAUTHBEARER").await?;
            let (name, first) = if bearer {
                ("OAUTHBEARER", sasl::oauthbearer(user, &ep.host, ep.port, password))
            } else {
                ("XOAUTH2", sasl::xoauth2(user, password))
            };
            tracing::debug!(mechanism = name, "logging in with an OAuth2 access token");
            // The server explains a refused token in a challenge before its NO.
            let said = Arc::new(Mutex::new(None));
            // RFC 7628 §3.2.3: OAUTHBEARER answers the error with a lone %x01; XOAUTH2 with nothing.
            let dummy = if bearer { vec![1] } else { Vec::new() };
            let sasl = Sasl::OAuth { first, dummy, failure: Arc::clone(&said) };
            let result = client.authenticate(name, sasl).await;
            let failure = said.lock().unwrap_or_else(|p| p.into_inner()).take();
            return result.map_err(|(e, _client)| match (auth_err(e), failure) {
                (ImapError::Auth { user, text }, Some(f)) => ImapError::Auth { user, text: format!("{text} ({f})") },
                (other, _) => other,
            });
        }
    };
    result.map_err(|(e, _client)| auth_err(e))
}

/// Answers server challenges of an AUTHENTICATE exchange.
enum Sasl {
    /// Mechanisms with one client message (PLAIN); a later challenge gets an empty answer.
    Initial(Vec<u8>),
    /// XOAUTH2/OAUTHBEARER: one client message; a later challenge is the server's error
    /// report (RFC 7628 §3.2.2), kept for the error text, and answered empty so the
    /// server can finish with NO.
    OAuth { first: Vec<u8>, dummy: Vec<u8>, failure: Arc<Mutex<Option<sasl::OAuthFailure>>> },
    /// CRAM-MD5 answers the server's challenge.
    CramMd5 { user: String, password: String },
}

impl Authenticator for Sasl {
    type Response = Vec<u8>;

    fn process(&mut self, challenge: &[u8]) -> Self::Response {
        match self {
            Sasl::Initial(first) => std::mem::take(first),
            Sasl::OAuth { first, dummy, failure } => {
                if first.is_empty() {
                    *failure.lock().unwrap_or_else(|p| p.into_inner()) = sasl::oauth_failure(challenge);
                    return std::mem::take(dummy);
                }
                std::mem::take(first)
            }
            Sasl::CramMd5 { user, password } => sasl::cram_md5(user, password, challenge),
        }
    }
}
