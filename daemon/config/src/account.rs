//! A validated account and the settings derived from it (ports by security mode,
//! credentials shared between IMAP and SMTP, paths resolved against the config dir).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::ConfigError;
use super::location::Located;
use super::schema::{AccountFile, AuthMechanism, Security};
use super::secret::{Secret, SecretError, SecretSource};

/// Default timeout for connects and commands when the file sets none.
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;

/// A validated account file.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// The file stem; `[a-z0-9._-]+`.
    pub id: String,
    /// Path of the account file, as found in the accounts directory.
    pub path: PathBuf,
    /// The config directory, for relative paths inside the file.
    pub base: PathBuf,
    /// The file's settings as written; the methods apply defaults and resolve secrets.
    pub file: AccountFile,
    /// BLAKE3 of the file's bytes; identifies "this exact file" (auto-disable lasts until
    /// it changes).
    pub digest: String,
}

/// Everything needed to open an IMAP session.
#[derive(Debug, Clone)]
pub struct ImapEndpoint {
    /// Server host, from the file or the provider adapter.
    pub host: String,
    /// Server port: the file's, else the adapter's, else 993 (TLS) or 143.
    pub port: u16,
    /// Implicit TLS, STARTTLS, or none.
    pub security: Security,
    /// Login name: `imap.username`, else the identity's address.
    pub username: String,
    /// Password or token; `None` only when the file has none.
    pub password: Option<Secret>,
    /// How to log in; `plain` unless the file says otherwise.
    pub auth: AuthMechanism,
    /// Connect, TLS and per-command timeout (`timeout_secs`, default 30 s).
    pub timeout: Duration,
    /// Extra PEM CA file, resolved against the config directory.
    pub tls_ca_file: Option<PathBuf>,
    /// Hierarchy separator to use instead of the one LIST reports.
    pub hierarchy_separator: Option<char>,
}

/// Everything needed to submit mail.
#[derive(Debug, Clone)]
pub struct SmtpEndpoint {
    /// Server host, from the file or the provider adapter.
    pub host: String,
    /// Server port: the file's, else the adapter's, else 465, 587 or 25 by security mode.
    pub port: u16,
    /// Implicit TLS, STARTTLS, or none.
    pub security: Security,
    /// Login name; `None` when `auth = "none"`.
    pub username: Option<String>,
    /// Password or token: `smtp.password`, else `imap.password`.
    pub password: Option<Secret>,
    /// Mechanism; `None` picks PLAIN or LOGIN, whichever the server offers.
    pub auth: Option<AuthMechanism>,
    /// Connect and per-command timeout: `smtp.timeout_secs`, else `[imap]`'s.
    pub timeout: Duration,
    /// Extra PEM CA file: `smtp.tls_ca_file`, else `[imap]`'s; resolved against the config dir.
    pub tls_ca_file: Option<PathBuf>,
}

/// The default SMTP port of a security mode.
pub fn smtp_port(security: Security) -> u16 {
    match security {
        Security::Tls => 465,
        Security::Starttls => 587,
        Security::Plain => 25,
    }
}

/// Why an endpoint could not be built.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// No host in the file and none from the provider adapter.
    #[error("no {0} host configured: set {0}.host in the account file")]
    NoHost(&'static str),
    /// The password could not be resolved.
    #[error("{0}.password: {1}")]
    Secret(&'static str, SecretError),
}

impl Account {
    /// Wraps a parsed, validated file.
    pub fn new(id: String, path: PathBuf, base: PathBuf, file: AccountFile, digest: String) -> Self {
        Account { id, path, base, file, digest }
    }

    /// The IMAP login name: `imap.username`, else the identity address.
    pub fn imap_username(&self) -> &str {
        self.file.imap.username.as_deref().unwrap_or(&self.file.identity.email)
    }

    /// The IMAP port, defaulted by security mode (993 TLS, 143 otherwise).
    pub fn imap_port(&self) -> u16 {
        match (self.file.imap.port, self.file.imap.security) {
            (0, Security::Tls) => 993,
            (0, _) => 143,
            (p, _) => p,
        }
    }

    /// Command and connect timeout.
    pub fn imap_timeout(&self) -> Duration {
        Duration::from_secs(self.file.imap.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS))
    }

    /// The extra CA file, resolved against the config directory.
    pub fn imap_ca_file(&self) -> Option<PathBuf> {
        self.file.imap.tls_ca_file.as_ref().map(|p| self.base.join(p))
    }

    /// Builds the IMAP endpoint, resolving the password (blocking: may read a file or
    /// run a command).
    pub fn imap_endpoint(&self) -> Result<ImapEndpoint, EndpointError> {
        let host = self.file.imap.host.clone().ok_or(EndpointError::NoHost("imap"))?;
        self.endpoint(host, self.imap_port(), self.file.imap.security)
    }

    /// Builds the IMAP endpoint for a server the file does not name (a provider
    /// adapter's default); a port set in the file still wins.
    pub fn imap_endpoint_with(&self, host: &str, port: u16, security: Security) -> Result<ImapEndpoint, EndpointError> {
        let port = if self.file.imap.port != 0 { self.file.imap.port } else { port };
        self.endpoint(host.to_owned(), port, security)
    }

    fn endpoint(&self, host: String, port: u16, security: Security) -> Result<ImapEndpoint, EndpointError> {
        let imap = &self.file.imap;
        // With OAuth2 the daemon puts a fresh access token in before each login.
        let password = imap
            .password
            .as_ref()
            .filter(|_| imap.auth != Some(AuthMechanism::Oauth2))
            .map(|s| s.resolve(&self.base, self.imap_timeout()))
            .transpose()
            .map_err(|e| EndpointError::Secret("imap", e))?;
        Ok(ImapEndpoint {
            host,
            port,
            security,
            username: self.imap_username().to_owned(),
            password,
            auth: imap.auth.unwrap_or(AuthMechanism::Plain),
            timeout: self.imap_timeout(),
            tls_ca_file: self.imap_ca_file(),
            hierarchy_separator: imap.hierarchy_separator.as_ref().and_then(|s| s.chars().next()),
        })
    }

    /// Builds the SMTP endpoint; credentials, timeout and CA file default to `[imap]`'s,
    /// the server to `default_server` (a provider adapter's) when the file names none.
    /// Blocking (may resolve a password).
    pub fn smtp_endpoint(&self, default_server: Option<(&str, u16, Security)>) -> Result<SmtpEndpoint, EndpointError> {
        let smtp = &self.file.smtp;
        let (host, port, security) = match (&smtp.host, default_server) {
            (Some(h), _) => {
                (h.clone(), if smtp.port == 0 { smtp_port(smtp.security) } else { smtp.port }, smtp.security)
            }
            (None, Some((h, p, s))) => (h.to_owned(), if smtp.port == 0 { p } else { smtp.port }, s),
            (None, None) => return Err(EndpointError::NoHost("smtp")),
        };
        if smtp.auth == Some(AuthMechanism::None) {
            return Ok(SmtpEndpoint {
                host,
                port,
                security,
                username: None,
                password: None,
                auth: Some(AuthMechanism::None),
                timeout: Duration::from_secs(smtp.timeout_secs.unwrap_or(self.imap_timeout().as_secs())),
                tls_ca_file: smtp.tls_ca_file.as_ref().map(|p| self.base.join(p)).or_else(|| self.imap_ca_file()),
            });
        }
        let auth = self.smtp_auth();
        let source = smtp.password.as_ref().or(self.file.imap.password.as_ref());
        let timeout = Duration::from_secs(smtp.timeout_secs.unwrap_or(self.imap_timeout().as_secs()));
        let password = source
            .filter(|_| auth != Some(AuthMechanism::Oauth2))
            .map(|s| s.resolve(&self.base, timeout))
            .transpose()
            .map_err(|e| EndpointError::Secret("smtp", e))?;
        let username = smtp
            .username
            .clone()
            .or_else(|| self.file.imap.username.clone())
            .unwrap_or_else(|| self.file.identity.email.clone());
        Ok(SmtpEndpoint {
            host,
            port,
            security,
            username: Some(username),
            password,
            auth,
            timeout: Duration::from_secs(smtp.timeout_secs.unwrap_or(self.imap_timeout().as_secs())),
            tls_ca_file: smtp.tls_ca_file.as_ref().map(|p| self.base.join(p)).or_else(|| self.imap_ca_file()),
        })
    }

    /// The SMTP mechanism: `smtp.auth`, else `oauth2` when `[imap]` uses it and `[smtp]`
    /// has no password of its own, else `None` (PLAIN or LOGIN, as offered).
    pub fn smtp_auth(&self) -> Option<AuthMechanism> {
        match (self.file.smtp.auth, self.file.imap.auth, &self.file.smtp.password) {
            (Some(auth), _, _) => Some(auth),
            (None, Some(AuthMechanism::Oauth2), None) => Some(AuthMechanism::Oauth2),
            _ => None,
        }
    }

    /// Whether IMAP or SMTP logs in with tokens the daemon refreshes (`auth = "oauth2"`).
    pub fn uses_oauth2(&self) -> bool {
        self.file.imap.auth == Some(AuthMechanism::Oauth2) || self.smtp_auth() == Some(AuthMechanism::Oauth2)
    }

    /// Checks that need the environment, for `postfachd check`: secrets from variables
    /// and files resolve, CA files exist. Password commands are not run.
    pub fn check_environment(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let src = std::fs::read_to_string(&self.path).unwrap_or_default();
        let located = Located::new(&src);
        let mut secret = |section: &'static str, key: &'static str, source: Option<&SecretSource>| {
            if let Some(source) = source
                && !source.runs_command()
                && let Err(e) = source.resolve(&self.base, self.imap_timeout())
            {
                errors.push(ConfigError {
                    path: self.path.clone(),
                    at: located.value(&[section, key]),
                    message: format!("{section}.{key}: {e}"),
                });
            }
        };
        secret("imap", "password", self.file.imap.password.as_ref());
        secret("smtp", "password", self.file.smtp.password.as_ref());
        if let Some(oauth) = &self.file.oauth2 {
            secret("oauth2", "client_secret", oauth.client_secret.as_ref());
            secret("oauth2", "refresh_token", oauth.refresh_token.as_ref());
        }
        for (section, file) in [("imap", &self.file.imap.tls_ca_file), ("smtp", &self.file.smtp.tls_ca_file)] {
            let Some(file) = file else { continue };
            let full = self.base.join(file);
            let problem = if full.is_dir() {
                Some(format!("{} is a directory, not a PEM file with CA certificates", full.display()))
            } else {
                match std::fs::read(&full) {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        Some(format!("{} does not exist", full.display()))
                    }
                    Err(e) => Some(format!("cannot read {}: {e}", full.display())),
                    Ok(pem) => postfach_net::tls::ca_problem(&pem).map(|why| format!("{}: {why}", full.display())),
                }
            };
            if let Some(problem) = problem {
                errors.push(ConfigError {
                    path: self.path.clone(),
                    at: located.value(&[section, "tls_ca_file"]),
                    message: format!("{section}.tls_ca_file: {problem}"),
                });
            }
        }
        errors
    }

    /// The config directory this account's relative paths resolve against.
    pub fn base(&self) -> &Path {
        &self.base
    }
}

/// The local part of an address (`max` of `max@example.de`).
pub fn local_part(email: &str) -> &str {
    email.rsplit_once('@').map_or(email, |(l, _)| l)
}
