//! Reading the config directory: `postfach.toml` and every `accounts/<id>.toml`.
//!
//! Loading never stops at the first bad file: each account file is parsed and validated
//! on its own, so one broken file costs only that account. Rules across files (at most
//! one default account) are applied afterwards.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::account::Account;
use super::error::{ConfigError, ConfigErrors};
use super::location::{LineCol, Located, line_col};
use super::schema::{AccountFile, ClusterSettings, DaemonConfig};
use super::validate;

/// Name of the daemon's own file inside the config directory.
pub const DAEMON_FILE: &str = "postfach.toml";

/// The daemon configuration and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The config directory; relative paths in the files are relative to it.
    pub dir: PathBuf,
    /// Parsed `postfach.toml` (defaults when the file is absent).
    pub daemon: DaemonConfig,
}

impl Config {
    /// Loads `DIR/postfach.toml`; a missing file means all defaults.
    pub fn load(dir: &Path) -> Result<Config, ConfigError> {
        if !dir.is_dir() {
            return Err(ConfigError::file(
                dir,
                "config directory not found (pass --config DIR or set POSTFACH_CONFIG)",
            ));
        }
        let path = dir.join(DAEMON_FILE);
        let daemon =
            if path.exists() { parse::<DaemonConfig>(&path, &read_text(&path)?)? } else { DaemonConfig::default() };
        let config = Config { dir: dir.to_owned(), daemon };
        let src = std::fs::read_to_string(&path).unwrap_or_default();
        let located = Located::new(&src);
        let fail = |key: &[&str], message: String| ConfigError { path: path.clone(), at: located.value(key), message };
        for (key, value, range) in [
            ("call_timeout_ms", config.daemon.plugins.call_timeout_ms, super::ranges::PLUGIN_CALL_TIMEOUT_MS),
            ("memory_limit_mib", config.daemon.plugins.memory_limit_mib, super::ranges::PLUGIN_MEMORY_MIB),
        ] {
            if !range.contains(&value) {
                return Err(fail(
                    &["plugins", key],
                    format!("plugins.{key} must be between {} and {}", range.start(), range.end()),
                ));
            }
        }
        let logins = super::ranges::LOGINS_PER_MINUTE;
        if !logins.contains(&config.daemon.imap_logins_per_minute) {
            return Err(fail(
                &["imap_logins_per_minute"],
                format!("imap_logins_per_minute must be between {} and {}", logins.start(), logins.end()),
            ));
        }
        if let Some((key, message)) = store_rules(&config.daemon) {
            return Err(fail(&key, message));
        }
        if let Some(p) = super::api::rules(&config.daemon).into_iter().next() {
            let key: Vec<&str> = p.key.iter().map(String::as_str).collect();
            return Err(fail(&key, p.message));
        }
        for (key, dir) in [("data_dir", config.data_dir()), ("accounts_dir", config.accounts_dir())] {
            if dir.exists() && !dir.is_dir() {
                return Err(fail(&[key], format!("{key}: {} is a file, not a directory", dir.display())));
            }
        }
        Ok(config)
    }

    /// Resolves a path from the config files against the config directory.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        self.dir.join(path)
    }

    /// The directory holding the store.
    pub fn data_dir(&self) -> PathBuf {
        self.resolve(&self.daemon.data_dir)
    }

    /// The watched account directory.
    pub fn accounts_dir(&self) -> PathBuf {
        self.resolve(&self.daemon.accounts_dir)
    }

    /// The plugin directories from `plugin_dirs`, resolved.
    pub fn plugin_dirs(&self) -> Vec<PathBuf> {
        self.daemon.plugin_dirs.iter().map(|d| self.resolve(d)).collect()
    }

    /// The project list, if `projects_file` is set.
    pub fn projects(&self) -> Result<Option<super::projects::Projects>, ConfigError> {
        self.daemon.projects_file.as_ref().map(|f| super::projects::Projects::load(&self.resolve(f))).transpose()
    }

    /// The SQLite database file.
    pub fn store_path(&self) -> PathBuf {
        self.data_dir().join("postfach.sqlite3")
    }

    /// Loads every account file.
    pub fn load_accounts(&self) -> AccountSet {
        load_accounts(&self.accounts_dir(), &self.dir, None)
    }

    /// Loads every account file; if two claim `default = true`, `incumbent` (the account
    /// that is the default now) keeps it.
    pub fn load_accounts_keeping_default(&self, incumbent: Option<&str>) -> AccountSet {
        load_accounts(&self.accounts_dir(), &self.dir, incumbent)
    }
}

/// `[store]` and `[cluster]`: a PostgreSQL URL, a password only with it, cluster
/// settings only with it, a lease time in range, a usable node id.
fn store_rules(daemon: &DaemonConfig) -> Option<(Vec<&'static str>, String)> {
    let store = &daemon.store;
    let cluster = &daemon.cluster;
    let lease = super::ranges::LEASE_SECS;
    if let Some(url) = &store.url {
        let scheme = url.split_once("://").map(|(s, _)| s);
        if !matches!(scheme, Some("postgres" | "postgresql")) {
            return Some((
                vec!["store", "url"],
                "store.url must be a PostgreSQL URL, postgres://user@host/database (leave it out for SQLite in data_dir)"
                    .into(),
            ));
        }
    } else {
        if store.password.is_some() {
            return Some((
                vec!["store", "password"],
                "store.password needs store.url: the SQLite store has no password".into(),
            ));
        }
        if *cluster != ClusterSettings::default() {
            return Some((
                vec!["cluster"],
                "[cluster] needs store.url = \"postgres://…\": the nodes of a cluster share a PostgreSQL store".into(),
            ));
        }
    }
    if !lease.contains(&cluster.lease_secs) {
        return Some((
            vec!["cluster", "lease_secs"],
            format!("cluster.lease_secs must be between {} and {}", lease.start(), lease.end()),
        ));
    }
    if let Some(id) = &cluster.node_id
        && (id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
    {
        return Some((
            vec!["cluster", "node_id"],
            "cluster.node_id must be 1 to 64 letters, digits, '-', '_' or '.'".into(),
        ));
    }
    None
}

/// The result of loading the account directory: good accounts and per-account errors.
#[derive(Debug, Default)]
pub struct AccountSet {
    /// Accounts whose file is valid, by id.
    pub accounts: BTreeMap<String, Account>,
    /// Problems by account id (files that failed to load or broke a cross-file rule).
    pub errors: BTreeMap<String, ConfigErrors>,
    /// Problems not tied to an account id (unreadable directory, badly named files).
    pub other_errors: Vec<ConfigError>,
}

impl AccountSet {
    /// Every error, sorted by file, for `check`.
    pub fn all_errors(&self) -> Vec<ConfigError> {
        let mut all: Vec<ConfigError> = self.other_errors.clone();
        for errs in self.errors.values() {
            all.extend(errs.0.iter().cloned());
        }
        all.sort_by(|a, b| (&a.path, a.at.line, a.at.col).cmp(&(&b.path, b.at.line, b.at.col)));
        all
    }
}

/// The account id a path stands for, if it is an account file: `<id>.toml`, not hidden,
/// not an editor backup.
pub fn account_id_of(path: &Path) -> Option<String> {
    if path.extension()? != "toml" {
        return None;
    }
    let stem = path.file_stem()?.to_str()?;
    if stem.starts_with('.') || stem.is_empty() {
        return None;
    }
    Some(stem.to_owned())
}

/// Loads and validates every `*.toml` in `dir`, then applies cross-file rules (see
/// [`Config::load_accounts_keeping_default`] for `incumbent`).
pub fn load_accounts(dir: &Path, base: &Path, incumbent: Option<&str>) -> AccountSet {
    let mut set = AccountSet::default();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            set.other_errors.push(ConfigError::file(dir, format!("cannot read the accounts directory: {e}")));
            return set;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let Some(id) = account_id_of(&path) else { continue };
        if path.is_symlink() && !path.exists() {
            let target = std::fs::read_link(&path).map(|t| t.display().to_string()).unwrap_or_default();
            let message = format!("dangling symlink: its target {target} does not exist; the account cannot start");
            set.errors.insert(id, ConfigError::file(&path, message).into());
            continue;
        }
        if !path.is_file() {
            continue;
        }
        match load_account(&path, base) {
            Ok(account) => {
                set.accounts.insert(id, account);
            }
            Err(errors) => {
                set.errors.insert(id, errors);
            }
        }
    }
    apply_cross_file_rules(&mut set, incumbent);
    set
}

/// At most one account may be the default sender. The one that had it keeps it: the
/// incumbent if there is one, else the file changed longest ago; the file that was
/// edited to claim it as well is the one in error.
fn apply_cross_file_rules(set: &mut AccountSet, incumbent: Option<&str>) {
    let mut defaults: Vec<(bool, std::time::SystemTime, String)> = set
        .accounts
        .values()
        .filter(|a| a.file.default)
        .map(|a| {
            let changed = std::fs::metadata(&a.path).and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH);
            (Some(a.id.as_str()) != incumbent, changed, a.id.clone())
        })
        .collect();
    defaults.sort();
    let defaults: Vec<String> = defaults.into_iter().map(|(_, _, id)| id).collect();
    let Some((first, rest)) = defaults.split_first() else { return };
    let first_path = set.accounts.get(first).map(|a| a.path.clone()).unwrap_or_default();
    for id in rest {
        if let Some(account) = set.accounts.remove(id) {
            let src = std::fs::read_to_string(&account.path).unwrap_or_default();
            let error = ConfigError {
                at: Located::new(&src).key(&["default"]),
                path: account.path.clone(),
                message: format!(
                    "default = true is already set by account `{first}` ({}); only one account can be \
                     the default sender",
                    first_path.display()
                ),
            };
            set.errors.entry(id.clone()).or_insert_with(|| ConfigErrors(Vec::new())).0.push(error);
        }
    }
}

/// The directories that hold the real files behind symlinked account files: config
/// management tools deploy that way, and an edit there must be noticed like one in the
/// accounts directory itself.
pub fn symlink_target_dirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| account_id_of(p).is_some() && p.is_symlink())
        .filter_map(|p| std::fs::canonicalize(&p).ok())
        .filter_map(|target| target.parent().map(Path::to_path_buf))
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs
}

/// Loads and validates one account file.
pub fn load_account(path: &Path, base: &Path) -> Result<Account, ConfigErrors> {
    let id = account_id_of(path).ok_or_else(|| ConfigError::file(path, "not an account file (<id>.toml)"))?;
    validate::account_id(&id).map_err(|m| ConfigError::file(path, m))?;
    let src = read_text(path)?;
    let file: AccountFile = parse(path, &src)?;
    let problems = validate::account(&file);
    if !problems.is_empty() {
        let located = Located::new(&src);
        return Err(ConfigErrors(
            problems
                .into_iter()
                .map(|p| ConfigError {
                    path: path.to_owned(),
                    at: if p.at_value { located.value(&p.key) } else { located.key(&p.key) },
                    message: p.message,
                })
                .collect(),
        ));
    }
    Ok(Account::new(id, path.to_owned(), base.to_owned(), file, blake3::hash(src.as_bytes()).to_hex().to_string()))
}

/// Reads a config file as UTF-8; a bad byte is reported where it is.
fn read_text(path: &Path) -> Result<String, ConfigError> {
    let bytes = std::fs::read(path).map_err(|e| ConfigError::file(path, format!("cannot read: {e}")))?;
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let bad = e.as_bytes().get(valid).copied().unwrap_or_default();
        let prefix = String::from_utf8_lossy(&e.as_bytes()[..valid]).into_owned();
        ConfigError {
            path: path.to_owned(),
            at: line_col(&prefix, prefix.len()),
            message: format!(
                "invalid UTF-8 (byte 0x{bad:02X}); save the file as UTF-8 (it looks like Latin-1 or Windows-1252)"
            ),
        }
    })
}

/// Deserializes `src`, turning serde's span into `path:line:col`.
fn parse<T: serde::de::DeserializeOwned>(path: &Path, src: &str) -> Result<T, ConfigError> {
    toml::from_str(src).map_err(|e| {
        let at = e.span().map_or_else(LineCol::default, |span| line_col(src, span.start));
        let mut message = clean_message(e.message());
        // toml says "duplicate key" without naming it; the span covers the key.
        if message == "duplicate key"
            && let Some(key) = e.span().and_then(|s| src.get(s)).map(|k| k.trim().trim_matches('"'))
            && !key.is_empty()
        {
            message = format!("duplicate key `{key}`: it is already set earlier in the same table; keep one");
        }
        ConfigError { path: path.to_owned(), at, message }
    })
}

/// serde's messages end with a newline and sometimes quote long expectation lists; keep
/// them on one line.
fn clean_message(message: &str) -> String {
    message.trim().replace('\n', "; ")
}
