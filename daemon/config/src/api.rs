//! Rules for the daemon-level API settings of `postfach.toml`: `[api]`, `[users]` and
//! `[[webhooks]]`. Like the account rules, each problem names the key it is about so the
//! loader can point at the line.

use std::net::{IpAddr, SocketAddr};

use super::ranges;
use super::schema::DaemonConfig;

/// The event kinds a webhook may subscribe to: the store's feed plus `account-state`.
/// The names are a contract with integrators (DESIGN.md, "Integration API"); never rename.
pub const EVENT_KINDS: &[&str] =
    &["new-message", "flags", "removed", "routed", "unrouted", "reassigned", "sent", "failed", "account-state"];

/// One problem with a key path (array entries by index, e.g. `["webhooks", "0", "url"]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Key path of the offending value.
    pub key: Vec<String>,
    /// What is wrong and how to fix it.
    pub message: String,
}

fn problem(key: &[&str], message: impl Into<String>) -> Problem {
    Problem { key: key.iter().map(|s| (*s).to_owned()).collect(), message: message.into() }
}

/// The socket address `[api] listen` names, or why it is not one. `localhost:PORT` is
/// read as `127.0.0.1:PORT`.
pub fn listen_addr(listen: &str) -> Result<SocketAddr, String> {
    let listen = listen.trim();
    if let Some(port) = listen.strip_prefix("localhost:") {
        let port: u16 = port.parse().map_err(|_| format!("`{listen}`: the port must be a number up to 65535"))?;
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    listen.parse::<SocketAddr>().map_err(|_| {
        format!("`{listen}` is not an address to listen on; write it as \"127.0.0.1:8025\" or \"[::]:8025\" (\"\" turns the API off)")
    })
}

/// Whether an address only accepts connections from this machine.
pub fn is_loopback(addr: &SocketAddr) -> bool {
    match addr.ip() {
        IpAddr::V4(ip) => ip.is_loopback(),
        IpAddr::V6(ip) => ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    }
}

/// Every rule about `[api]`, `[users]` and `[[webhooks]]`.
pub fn rules(daemon: &DaemonConfig) -> Vec<Problem> {
    let mut problems = Vec::new();
    let api = &daemon.api;
    if !api.listen.trim().is_empty() {
        match listen_addr(&api.listen) {
            Err(message) => problems.push(problem(&["api", "listen"], message)),
            Ok(addr) => {
                let tls = api.tls_cert_file.is_some() && api.tls_key_file.is_some();
                if !is_loopback(&addr) && !tls && !api.allow_plaintext {
                    problems.push(problem(
                        &["api", "listen"],
                        format!(
                            "listen = \"{}\" is reachable from other machines, and without TLS tokens and mail \
                             would cross the network unencrypted; set tls_cert_file and tls_key_file, listen on \
                             127.0.0.1, or set allow_plaintext = true if a proxy in front encrypts",
                            api.listen
                        ),
                    ));
                }
            }
        }
    }
    match (&api.tls_cert_file, &api.tls_key_file) {
        (Some(_), None) => problems.push(problem(&["api", "tls_cert_file"], "tls_cert_file needs tls_key_file too")),
        (None, Some(_)) => problems.push(problem(&["api", "tls_key_file"], "tls_key_file needs tls_cert_file too")),
        _ => {}
    }
    if !ranges::API_MAX_BODY_MIB.contains(&api.max_body_mib) {
        problems.push(problem(
            &["api", "max_body_mib"],
            format!(
                "api.max_body_mib must be between {} and {}",
                ranges::API_MAX_BODY_MIB.start(),
                ranges::API_MAX_BODY_MIB.end()
            ),
        ));
    }
    if !ranges::API_REQUEST_TIMEOUT_SECS.contains(&api.request_timeout_secs) {
        problems.push(problem(
            &["api", "request_timeout_secs"],
            format!(
                "api.request_timeout_secs must be between {} and {}",
                ranges::API_REQUEST_TIMEOUT_SECS.start(),
                ranges::API_REQUEST_TIMEOUT_SECS.end()
            ),
        ));
    }
    for (user, settings) in &daemon.users {
        if !is_name(user) {
            problems.push(problem(
                &["users", user],
                format!("user name `{user}` may only contain letters, digits, `.`, `_`, `-` and `@`"),
            ));
        }
        for group in &settings.groups {
            if !is_name(group) {
                problems.push(problem(
                    &["users", user, "groups"],
                    format!("group name `{group}` may only contain letters, digits, `.`, `_`, `-` and `@` (write it without `group:`)"),
                ));
            }
        }
    }
    for (i, hook) in daemon.webhooks.iter().enumerate() {
        let index = i.to_string();
        let at = |key: &str| vec!["webhooks".to_owned(), index.clone(), key.to_owned()];
        let url = hook.url.trim();
        let valid_url = (url.starts_with("http://") || url.starts_with("https://"))
            && url.split("://").nth(1).is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'));
        if !valid_url {
            problems.push(Problem {
                key: at("url"),
                message: format!("webhook url `{url}` must start with http:// or https:// and name a host"),
            });
        }
        // An inline secret can be checked now; one from env, file or command when it is read.
        if let super::secret::SecretSource::Inline(secret) = &hook.secret
            && !looks_like_webhook_secret(secret)
        {
            problems.push(Problem {
                key: at("secret"),
                message: "the webhook secret must be `whsec_` followed by base64 (Standard Webhooks);                           make one with `postfachd webhooks secret`"
                    .to_owned(),
            });
        }
        for kind in &hook.events {
            if !EVENT_KINDS.contains(&kind.as_str()) {
                problems.push(Problem {
                    key: at("events"),
                    message: format!("unknown event kind `{kind}`; known kinds: {}", EVENT_KINDS.join(", ")),
                });
            }
        }
    }
    problems
}

/// Whether a secret has the Standard Webhooks form `whsec_<base64>` (never printed).
pub fn looks_like_webhook_secret(secret: &str) -> bool {
    secret.trim().strip_prefix("whsec_").is_some_and(|b64| {
        !b64.is_empty() && b64.len() % 4 == 0 && b64.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
    })
}

/// User and group names: what a token's `--user` and `[access]` entries may hold.
pub fn is_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || "._-@".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_addresses_are_recognised() {
        for l in ["127.0.0.1:8025", "[::1]:8025", "localhost:8025", "127.1.2.3:1"] {
            assert!(is_loopback(&listen_addr(l).unwrap()), "{l}");
        }
        for l in ["0.0.0.0:8025", "[::]:8025", "192.0.2.1:80"] {
            assert!(!is_loopback(&listen_addr(l).unwrap()), "{l}");
        }
        assert!(listen_addr("example.de:80").is_err());
        assert!(listen_addr("127.0.0.1").is_err());
    }
}
