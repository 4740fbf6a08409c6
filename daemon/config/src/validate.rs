//! Semantic checks of one account file: combinations that parse but make no sense.
//!
//! Each rule returns the key path it is about, so the loader can point at the line.
//! Rules that need other files (one default account) live in `load`.

use std::fmt::Display;
use std::ops::RangeInclusive;

use super::ranges;
use super::schema::{AccountFile, AfterWindow, AuthMechanism, Security};

/// One problem, attached to a key path such as `["sync", "after_window"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Key path of the offending setting.
    pub key: Vec<&'static str>,
    /// Point at the value rather than the key.
    pub at_value: bool,
    /// What is wrong, and how to fix it.
    pub message: String,
}

impl Problem {
    fn key(key: &[&'static str], message: impl Into<String>) -> Self {
        Problem { key: key.to_vec(), at_value: false, message: message.into() }
    }

    fn value(key: &[&'static str], message: impl Into<String>) -> Self {
        Problem { key: key.to_vec(), at_value: true, message: message.into() }
    }
}

/// Checks an account id (the file stem).
pub fn account_id(id: &str) -> Result<(), String> {
    let ok = !id.is_empty() && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!("account id `{id}` (the file name) may only contain a-z, 0-9, `.`, `_` and `-`; rename the file"))
    }
}

/// Every rule about a single account file.
pub fn account(file: &AccountFile) -> Vec<Problem> {
    let mut problems = Vec::new();
    if file.description.trim().is_empty() {
        problems.push(Problem::value(&["description"], "description must not be empty"));
    }
    if !looks_like_address(&file.identity.email) {
        problems.push(Problem::value(
            &["identity", "email"],
            format!("`{}` is not an email address (expected name@domain)", file.identity.email),
        ));
    }
    if let Some(reply_to) = &file.identity.reply_to
        && !looks_like_address(reply_to)
    {
        problems.push(Problem::value(
            &["identity", "reply_to"],
            format!("`{reply_to}` is not an email address (expected name@domain)"),
        ));
    }
    if file.provider.trim().is_empty() {
        problems.push(Problem::value(&["provider"], "provider must be an adapter id or \"auto\""));
    }

    // Sending a password (or an OAuth2 token) in the clear needs an explicit opt-in, per server.
    let imap_password = file.imap.password.is_some() || file.imap.auth == Some(AuthMechanism::Oauth2);
    if file.imap.security == Security::Plain && imap_password && !file.imap.allow_plaintext {
        problems.push(Problem::value(
            &["imap", "security"],
            "security = \"plain\" would send the password unencrypted; use \"tls\" or \"starttls\", \
             or set allow_plaintext = true if you accept that",
        ));
    }
    let smtp_auth = file.smtp.auth != Some(AuthMechanism::None);
    let smtp_password = file.smtp.password.is_some() || imap_password || file.smtp.auth == Some(AuthMechanism::Oauth2);
    if file.smtp.security == Security::Plain && smtp_auth && smtp_password && !file.smtp.allow_plaintext {
        problems.push(Problem::value(
            &["smtp", "security"],
            "security = \"plain\" would send the password unencrypted; use \"tls\" or \"starttls\", \
             or set allow_plaintext = true in [smtp] if you accept that",
        ));
    }
    if file.imap.auth == Some(AuthMechanism::None) {
        problems.push(Problem::value(
            &["imap", "auth"],
            "IMAP always needs a login; use \"plain\", \"login\", \"cram-md5\", \"xoauth2\" or \"oauth2\"",
        ));
    }
    if file.imap.auth == Some(AuthMechanism::Xoauth2) && file.imap.password.is_none() {
        problems.push(Problem::key(&["imap", "auth"], "auth = \"xoauth2\" needs the access token in `password`"));
    }
    if let Some(sep) = &file.imap.hierarchy_separator
        && sep.chars().count() != 1
    {
        problems.push(Problem::value(
            &["imap", "hierarchy_separator"],
            format!("hierarchy_separator must be a single character such as \".\" or \"/\", not {sep:?}"),
        ));
    }
    for (section, host) in [("imap", &file.imap.host), ("smtp", &file.smtp.host)] {
        if let Some(host) = host
            && (host.trim().is_empty() || host.chars().any(char::is_whitespace))
        {
            problems.push(Problem::value(
                &[section, "host"],
                format!("{section}.host must be a host name or address such as \"imap.example.de\", not {host:?}; remove the key to let the provider adapter supply it"),
            ));
        }
    }
    for (section, timeout) in [("imap", file.imap.timeout_secs), ("smtp", file.smtp.timeout_secs)] {
        if let Some(t) = timeout {
            problems.extend(in_range(&[section, "timeout_secs"], t, &ranges::TIMEOUT_SECS));
        }
    }
    let smtp = &file.smtp;
    problems.extend(in_range(&["smtp", "retry_initial_secs"], smtp.retry_initial_secs, &ranges::RETRY_SECS));
    problems.extend(in_range(&["smtp", "retry_max_secs"], smtp.retry_max_secs, &ranges::RETRY_SECS));
    problems.extend(in_range(&["smtp", "give_up_after_hours"], smtp.give_up_after_hours, &ranges::GIVE_UP_AFTER_HOURS));

    problems.extend(folders(file));
    problems.extend(sync(file));
    problems.extend(oauth2(file));

    for key in file.routing.options.keys() {
        if !key.contains('.') || key.starts_with('.') || key.ends_with('.') {
            problems.push(Problem::key(
                &["routing", "options"],
                format!("routing option `{key}` must be written as \"<plugin>.<option>\""),
            ));
        }
    }
    for (i, id) in file.routing.plugins.iter().enumerate() {
        if file.routing.plugins[..i].contains(id) {
            problems.push(Problem::value(
                &["routing", "plugins"],
                format!("router `{id}` is listed twice in routing.plugins"),
            ));
        }
    }
    problems
}

fn folders(file: &AccountFile) -> Vec<Problem> {
    let mut problems = Vec::new();
    let f = &file.folders;
    let named = f.overrides();
    for (role, name) in named {
        if let Some(name) = name
            && name.trim().is_empty()
        {
            problems.push(Problem::value(&["folders", role], format!("folders.{role} must not be empty")));
        }
    }
    // Two roles on one folder make moves ambiguous (archive into the inbox, spam into sent).
    for (i, (role_a, a)) in named.iter().enumerate() {
        for (role_b, b) in &named[i + 1..] {
            if let (Some(a), Some(b)) = (a, b)
                && same_folder(a, b)
            {
                problems.push(Problem::value(
                    &["folders", role_b],
                    format!("folders.{role_b} names the same folder as folders.{role_a} (`{b}`); each role needs its own folder"),
                ));
            }
        }
    }
    if let Some(archive) = &f.archive
        && f.inbox.is_none()
        && archive.eq_ignore_ascii_case("INBOX")
    {
        problems.push(Problem::value(
            &["folders", "archive"],
            "the archive folder cannot be the inbox: archived mail would be synced again as new",
        ));
    }
    if let Some(patterns) = &f.sync {
        if patterns.is_empty() {
            problems.push(Problem::value(
                &["folders", "sync"],
                "folders.sync is empty, so nothing would be synced; remove the key to sync every folder, \
                 or set receive = false",
            ));
        }
        if patterns.iter().any(|p| p.trim().is_empty()) {
            problems.push(Problem::value(&["folders", "sync"], "folders.sync contains an empty pattern"));
        }
        if let Some(archive) = &f.archive
            && file.sync.after_window == AfterWindow::Archive
            && patterns.iter().any(|p| crate::glob_match(p, archive))
        {
            problems.push(Problem::value(
                &["folders", "sync"],
                format!(
                    "folders.sync includes the archive folder `{archive}`: mail moved there after the sync \
                     window would be fetched again; leave it out of folders.sync"
                ),
            ));
        }
    }
    problems
}

fn sync(file: &AccountFile) -> Vec<Problem> {
    let mut problems = Vec::new();
    let s = &file.sync;
    problems.extend(in_range(&["sync", "interval_secs"], s.interval_secs, &ranges::INTERVAL_SECS));
    problems.extend(in_range(&["sync", "max_failures"], s.max_failures, &ranges::MAX_FAILURES));
    problems.extend(in_range(&["sync", "max_message_mib"], s.max_message_mib, &ranges::MAX_MESSAGE_MIB));
    if let Some(secs) = s.idle_renew_secs {
        problems.extend(in_range(&["sync", "idle_renew_secs"], secs, &ranges::IDLE_RENEW_SECS));
    }
    problems.extend(in_range(&["sync", "retry_initial_secs"], s.retry_initial_secs, &ranges::RETRY_SECS));
    problems.extend(in_range(&["sync", "retry_max_secs"], s.retry_max_secs, &ranges::RETRY_SECS));
    if let Some(days) = s.window_days
        && days != 0
    {
        problems.extend(in_range(&["sync", "window_days"], days, &ranges::WINDOW_DAYS));
    }
    let retention = &s.server_retention_days;
    for (role, days) in [("inbox", retention.inbox), ("junk", retention.junk), ("sent", retention.sent)] {
        if !ranges::RETENTION_DAYS.contains(&days) {
            problems.push(Problem::value(
                &["sync", "server_retention_days", role],
                format!(
                    "server_retention_days.{role} must be between {} and {} days (0 = never)",
                    ranges::RETENTION_DAYS.start(),
                    ranges::RETENTION_DAYS.end()
                ),
            ));
        }
    }
    if s.retry_max_secs < s.retry_initial_secs {
        problems.push(Problem::value(
            &["sync", "retry_max_secs"],
            "retry_max_secs must not be smaller than retry_initial_secs",
        ));
    }
    if s.window_days == Some(0) {
        problems.push(Problem::value(
            &["sync", "window_days"],
            "window_days = 0 would sync nothing; remove the key to sync all mail",
        ));
    }
    match s.after_window {
        AfterWindow::Keep => {}
        AfterWindow::Archive | AfterWindow::Delete if s.window_days.is_none() => {
            problems.push(Problem::value(
                &["sync", "after_window"],
                "after_window needs window_days: without a sync window no mail is ever older than it",
            ));
        }
        AfterWindow::Archive if file.folders.archive.is_none() => {
            problems.push(Problem::value(
                &["sync", "after_window"],
                "after_window = \"archive\" needs folders.archive (the folder to move old mail to)",
            ));
        }
        AfterWindow::Archive | AfterWindow::Delete => {}
    }
    problems
}

/// A number outside its documented range (see [`ranges`]).
/// `auth = "oauth2"` and the `[oauth2]` section belong together; endpoints must be HTTPS
/// (plain HTTP only on loopback, for tests); the daemon fetches tokens itself, so a
/// password next to `auth = "oauth2"` would never be used.
fn oauth2(file: &AccountFile) -> Vec<Problem> {
    let mut problems = Vec::new();
    let imap = file.imap.auth == Some(AuthMechanism::Oauth2);
    let smtp = file.smtp.auth == Some(AuthMechanism::Oauth2);
    for (section, used, password) in
        [("imap", imap, file.imap.password.is_some()), ("smtp", smtp, file.smtp.password.is_some())]
    {
        if used && password {
            problems.push(Problem::key(
                &[section, "password"],
                format!(
                    "{section}.password is not used with auth = \"oauth2\": the daemon gets access tokens \
                     from the provider itself; remove it"
                ),
            ));
        }
    }
    let Some(oauth) = &file.oauth2 else {
        if imap || smtp {
            let section = if imap { "imap" } else { "smtp" };
            problems.push(Problem::value(
                &[section, "auth"],
                "auth = \"oauth2\" needs an [oauth2] section with at least client_id \
                 (see the README, \"Gmail and Microsoft 365 (OAuth2)\")",
            ));
        }
        return problems;
    };
    if !imap && !smtp {
        problems.push(Problem::key(
            &["oauth2"],
            "[oauth2] is only used with auth = \"oauth2\" in [imap] or [smtp]; set it there or remove the section",
        ));
    }
    if oauth.client_id.trim().is_empty() {
        problems.push(Problem::value(
            &["oauth2", "client_id"],
            "client_id must be the id of the app registered with the provider",
        ));
    }
    match oauth.provider.as_deref() {
        Some(p) if p.trim().is_empty() => problems.push(Problem::value(
            &["oauth2", "provider"],
            "provider must be \"google\", \"microsoft\", \"custom\" or left out (the provider adapter decides)",
        )),
        Some("custom") if oauth.token_url.is_none() => problems.push(Problem::value(
            &["oauth2", "provider"],
            "provider = \"custom\" needs token_url (and auth_url for the browser flow, device_url for --device)",
        )),
        _ => {}
    }
    for (key, url) in
        [("auth_url", &oauth.auth_url), ("token_url", &oauth.token_url), ("device_url", &oauth.device_url)]
    {
        if let Some(url) = url
            && !secure_url(url)
        {
            problems.push(Problem::value(
                &["oauth2", key],
                format!("{key} must be an https:// URL (http:// only on 127.0.0.1 or localhost), not {url:?}"),
            ));
        }
    }
    if let Some(scopes) = &oauth.scopes
        && (scopes.is_empty() || scopes.iter().any(|s| s.trim().is_empty() || s.contains(char::is_whitespace)))
    {
        problems.push(Problem::value(
            &["oauth2", "scopes"],
            "scopes must list at least one scope, each without spaces; leave the key out for the adapter's",
        ));
    }
    if let Some(tenant) = &oauth.tenant
        && (tenant.is_empty() || !tenant.bytes().all(|b| b.is_ascii_alphanumeric() || b".-".contains(&b)))
    {
        problems.push(Problem::value(
            &["oauth2", "tenant"],
            format!(
                "tenant must be a directory id or domain such as \"contoso.onmicrosoft.com\" or \"common\", not {tenant:?}"
            ),
        ));
    }
    problems
}

/// `https://…`, or `http://` to a loopback host.
fn secure_url(url: &str) -> bool {
    if url.starts_with("https://") && url.len() > "https://".len() {
        return true;
    }
    let Some(rest) = url.strip_prefix("http://") else { return false };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    matches!(host, "127.0.0.1" | "localhost" | "::1")
}

fn in_range<T: PartialOrd + Display>(key: &[&'static str], value: T, range: &RangeInclusive<T>) -> Option<Problem> {
    if range.contains(&value) {
        return None;
    }
    let name = key.last().copied().unwrap_or_default();
    Some(Problem::value(key, format!("{name} must be between {} and {}, not {value}", range.start(), range.end())))
}

fn same_folder(a: &str, b: &str) -> bool {
    a == b || (a.eq_ignore_ascii_case("INBOX") && b.eq_ignore_ascii_case("INBOX"))
}

fn looks_like_address(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else { return false };
    !local.is_empty() && !domain.is_empty() && !s.chars().any(|c| c.is_whitespace() || c == '<' || c == '>' || c == ',')
}
