//! Submitting a message to the account's SMTP server: implicit TLS, STARTTLS, or plain
//! (only with `allow_plaintext`), AUTH PLAIN / LOGIN / CRAM-MD5 / XOAUTH2, and errors that
//! say whether trying again can help. CRAM-MD5 is spoken here; lettre lacks it.

use std::time::Duration;

use base64::Engine;
use lettre::Address;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;

use postfach_config::{AuthMechanism, Security, SmtpEndpoint};

/// Why a submission failed. `permanent` failures are not retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{stage}: {text}")]
pub struct SmtpError {
    /// `connect`, `TLS`, `EHLO`, `AUTH`, `MAIL`/`RCPT`/`DATA`, …
    pub stage: &'static str,
    /// The server's words or the local reason.
    pub text: String,
    /// 5xx from the server (or a message that can never be sent as is).
    pub permanent: bool,
}

impl SmtpError {
    fn local(stage: &'static str, text: impl Into<String>, permanent: bool) -> Self {
        SmtpError { stage, text: text.into(), permanent }
    }

    fn from_lettre(stage: &'static str, e: lettre::transport::smtp::Error) -> Self {
        let mut text = e.to_string();
        if let Some(source) = std::error::Error::source(&e) {
            let more = source.to_string();
            if !text.contains(&more) {
                text = format!("{text}: {more}");
            }
        }
        SmtpError { stage, text, permanent: e.is_permanent() }
    }
}

/// One step of a connection test, for `postfachd test`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeStep {
    /// What was tried (`connect smtp.example.de:465`, `STARTTLS`, `AUTH as max`).
    pub step: String,
    /// Whether it worked.
    pub ok: bool,
    /// The server's reply or greeting summary on success, the error text on failure.
    pub detail: String,
}

async fn timed<T>(
    t: Duration,
    stage: &'static str,
    fut: impl Future<Output = Result<T, lettre::transport::smtp::Error>>,
) -> Result<T, SmtpError> {
    match tokio::time::timeout(t, fut).await {
        Ok(r) => r.map_err(|e| SmtpError::from_lettre(stage, e)),
        Err(_) => Err(SmtpError::local(stage, format!("no answer within {}s (timeout_secs)", t.as_secs()), false)),
    }
}

fn tls(ep: &SmtpEndpoint) -> Result<TlsParameters, SmtpError> {
    let mut b = TlsParameters::builder(ep.host.clone());
    if let Some(path) = &ep.tls_ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| SmtpError::local("TLS", format!("tls_ca_file {}: {e}", path.display()), false))?;
        let cert = Certificate::from_pem(&pem)
            .map_err(|e| SmtpError::local("TLS", format!("tls_ca_file {}: {e}", path.display()), false))?;
        b = b.add_root_certificate(cert);
    }
    b.build_rustls().map_err(|e| SmtpError::from_lettre("TLS", e))
}

fn response_text(r: &lettre::transport::smtp::response::Response) -> String {
    format!("{} {}", r.code(), r.message().collect::<Vec<_>>().join(" "))
}

/// What the server said about itself, for `postfachd test`.
fn greeting(conn: &AsyncSmtpConnection, mode: &str) -> String {
    let info = conn.server_info();
    let mechanisms: Vec<&str> =
        [(Mechanism::Plain, "PLAIN"), (Mechanism::Login, "LOGIN"), (Mechanism::Xoauth2, "XOAUTH2")]
            .into_iter()
            .filter(|(m, _)| info.supports_auth_mechanism(*m))
            .map(|(_, name)| name)
            .collect();
    let auth =
        if mechanisms.is_empty() { "no AUTH offered".to_owned() } else { format!("AUTH {}", mechanisms.join(" ")) };
    format!("{} answers EHLO; {auth}; {mode}", info.name())
}

/// Opens an authenticated connection; `steps` records what happened.
async fn open(ep: &SmtpEndpoint, steps: &mut Vec<ProbeStep>) -> Result<AsyncSmtpConnection, SmtpError> {
    let t = ep.timeout;
    let hello = ClientId::Domain("postfach.localhost".into());
    let addr = format!("{}:{}", ep.host, ep.port);
    let implicit = (ep.security == Security::Tls).then(|| tls(ep)).transpose()?;
    let mut conn = timed(
        t,
        "connect",
        AsyncSmtpConnection::connect_tokio1((ep.host.as_str(), ep.port), Some(t), &hello, implicit, None),
    )
    .await
    .map_err(|mut e| {
        e.text = format!("{addr}: {}", e.text);
        e
    })?;
    let mode = match ep.security {
        Security::Tls => "implicit TLS",
        Security::Starttls => "STARTTLS",
        Security::Plain => "no encryption",
    };
    steps.push(ProbeStep { step: format!("connect {addr}"), ok: true, detail: greeting(&conn, mode) });
    if ep.security == Security::Starttls {
        if !conn.can_starttls() {
            return Err(SmtpError::local("STARTTLS", format!("{addr} does not offer STARTTLS"), false));
        }
        let params = tls(ep)?;
        timed(t, "STARTTLS", conn.starttls(params, &hello)).await?;
        steps.push(ProbeStep { step: "STARTTLS".into(), ok: true, detail: "TLS established".into() });
    }
    let (Some(user), password) = (&ep.username, &ep.password) else {
        steps.push(ProbeStep { step: "AUTH".into(), ok: true, detail: "none (auth = \"none\")".into() });
        return Ok(conn);
    };
    let secret = password.as_ref().map(|p| p.expose().to_owned()).unwrap_or_default();
    let result = match ep.auth {
        Some(AuthMechanism::None) => return Ok(conn),
        Some(AuthMechanism::CramMd5) => cram_md5(&mut conn, user, &secret, t).await,
        Some(AuthMechanism::Oauth2) => oauth2(&mut conn, ep, user, &secret).await,
        mechanism => {
            let mechanisms: &[Mechanism] = match mechanism {
                Some(AuthMechanism::Plain) => &[Mechanism::Plain],
                Some(AuthMechanism::Login) => &[Mechanism::Login],
                Some(AuthMechanism::Xoauth2) => &[Mechanism::Xoauth2],
                _ => &[Mechanism::Plain, Mechanism::Login],
            };
            let creds = Credentials::new(user.clone(), secret);
            timed(t, "AUTH", conn.auth(mechanisms, &creds)).await.map(|r| response_text(&r))
        }
    };
    match result {
        Ok(reply) => {
            steps.push(ProbeStep { step: format!("AUTH as {user}"), ok: true, detail: reply });
            Ok(conn)
        }
        Err(e) => Err(e),
    }
}

/// OAuth2: OAUTHBEARER (RFC 7628) where the server offers it, else XOAUTH2. Spoken here
/// so a refused token's JSON report reaches the error text. lettre records only the
/// mechanisms it knows, so the EHLO is asked again to see whether OAUTHBEARER is among them
/// (Postfix answers an unknown mechanism with 535, not 504, so trying is no way to find out).
async fn oauth2(
    conn: &mut AsyncSmtpConnection,
    ep: &SmtpEndpoint,
    user: &str,
    token: &str,
) -> Result<String, SmtpError> {
    let b64 = |bytes: Vec<u8>| base64::engine::general_purpose::STANDARD.encode(bytes);
    let ehlo = timed(ep.timeout, "EHLO", conn.command("EHLO postfach.localhost\r\n")).await?;
    let bearer = ehlo.message().any(|line| {
        let mut words = line.split_whitespace();
        words.next().is_some_and(|w| w.eq_ignore_ascii_case("AUTH"))
            && words.any(|m| m.eq_ignore_ascii_case("OAUTHBEARER"))
    });
    if bearer {
        let initial = b64(postfach_net::sasl::oauthbearer(user, &ep.host, ep.port, token));
        sasl_exchange(conn, ep.timeout, "OAUTHBEARER", &initial, "AQ==").await
    } else {
        let initial = b64(postfach_net::sasl::xoauth2(user, token));
        sasl_exchange(conn, ep.timeout, "XOAUTH2", &initial, "").await
    }
}

/// `AUTH <mechanism> <initial>`; a 334 challenge is the server's error report, answered
/// with `dummy` so it can finish with its 5xx, and decoded into the error.
async fn sasl_exchange(
    conn: &mut AsyncSmtpConnection,
    t: Duration,
    mechanism: &str,
    initial: &str,
    dummy: &str,
) -> Result<String, SmtpError> {
    let reply = timed(t, "AUTH", conn.command(format!("AUTH {mechanism} {initial}\r\n"))).await?;
    if reply.code().to_string().starts_with('2') {
        return Ok(format!("{} ({mechanism})", response_text(&reply)));
    }
    let said = postfach_net::sasl::oauth_failure(reply.first_line().unwrap_or_default().as_bytes());
    let refused = timed(t, "AUTH", conn.command(format!("{dummy}\r\n"))).await;
    let mut e = match refused {
        Err(e) => e,
        Ok(r) => SmtpError::local("AUTH", format!("unexpected answer {}", response_text(&r)), true),
    };
    if let Some(said) = said {
        e.text = format!("{} ({said})", e.text);
    }
    Err(e)
}

async fn cram_md5(
    conn: &mut AsyncSmtpConnection,
    user: &str,
    password: &str,
    t: Duration,
) -> Result<String, SmtpError> {
    let challenge = timed(t, "AUTH", conn.command("AUTH CRAM-MD5\r\n")).await?;
    let encoded = challenge.first_line().unwrap_or_default().trim().to_owned();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| SmtpError::local("AUTH", format!("unreadable CRAM-MD5 challenge: {e}"), false))?;
    let answer =
        base64::engine::general_purpose::STANDARD.encode(postfach_net::sasl::cram_md5(user, password, &decoded));
    let done = timed(t, "AUTH", conn.command(format!("{answer}\r\n"))).await?;
    Ok(response_text(&done))
}

/// Sends one message; returns the server's acceptance (`250 2.0.0 Ok: queued as …`).
pub async fn submit(ep: &SmtpEndpoint, from: &str, recipients: &[String], raw: &[u8]) -> Result<String, SmtpError> {
    let parse = |a: &str| {
        a.parse::<Address>().map_err(|_| SmtpError::local("MAIL", format!("`{a}` is not a valid address"), true))
    };
    let to: Vec<Address> = recipients.iter().map(|r| parse(r)).collect::<Result<_, _>>()?;
    let envelope = Envelope::new(Some(parse(from)?), to).map_err(|e| SmtpError::local("MAIL", e.to_string(), true))?;
    let mut steps = Vec::new();
    let mut conn = open(ep, &mut steps).await?;
    // DATA with a large message may take longer than one command.
    let budget = ep.timeout + Duration::from_secs((raw.len() / (256 * 1024)) as u64);
    let accepted = timed(budget, "MAIL/RCPT/DATA", conn.send(&envelope, raw)).await?;
    let _ = tokio::time::timeout(Duration::from_secs(2), conn.quit()).await;
    Ok(response_text(&accepted))
}

/// Connects, says EHLO and authenticates, then quits: the SMTP half of `postfachd test`.
pub async fn probe(ep: &SmtpEndpoint) -> Vec<ProbeStep> {
    let mut steps = Vec::new();
    match open(ep, &mut steps).await {
        Ok(mut conn) => {
            let _ = tokio::time::timeout(Duration::from_secs(2), conn.quit()).await;
        }
        Err(e) => steps.push(ProbeStep { step: e.stage.to_owned(), ok: false, detail: e.text }),
    }
    steps
}
