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
use super::schema::{AccountFile, DaemonConfig};
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
        let daemon = match std::fs::read_to_string(&path) {
            Ok(src) => parse::<DaemonConfig>(&path, &src)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => DaemonConfig::default(),
            Err(e) => return Err(ConfigError::file(&path, format!("cannot read: {e}"))),
        };
        let config = Config { dir: dir.to_owned(), daemon };
        if config.daemon.plugins.call_timeout_ms == 0 || config.daemon.plugins.memory_limit_mib == 0 {
            let src = std::fs::read_to_string(&path).unwrap_or_default();
            let at = Located::new(&src).key(&["plugins"]);
            return Err(ConfigError {
                path,
                at,
                message: "plugin limits must be at least 1 (call_timeout_ms, memory_limit_mib)".into(),
            });
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
        load_accounts(&self.accounts_dir(), &self.dir)
    }
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

/// Loads and validates every `*.toml` in `dir`, then applies cross-file rules.
pub fn load_accounts(dir: &Path, base: &Path) -> AccountSet {
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
    apply_cross_file_rules(&mut set);
    set
}

/// At most one account may be the default sender; later ids (sorted) lose.
fn apply_cross_file_rules(set: &mut AccountSet) {
    let defaults: Vec<String> = set.accounts.values().filter(|a| a.file.default).map(|a| a.id.clone()).collect();
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

/// Loads and validates one account file.
pub fn load_account(path: &Path, base: &Path) -> Result<Account, ConfigErrors> {
    let id = account_id_of(path).ok_or_else(|| ConfigError::file(path, "not an account file (<id>.toml)"))?;
    validate::account_id(&id).map_err(|m| ConfigError::file(path, m))?;
    let src = std::fs::read_to_string(path).map_err(|e| ConfigError::file(path, format!("cannot read: {e}")))?;
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

/// Deserializes `src`, turning serde's span into `path:line:col`.
fn parse<T: serde::de::DeserializeOwned>(path: &Path, src: &str) -> Result<T, ConfigError> {
    toml::from_str(src).map_err(|e| {
        let at = e.span().map_or_else(LineCol::default, |span| line_col(src, span.start));
        ConfigError { path: path.to_owned(), at, message: clean_message(e.message()) }
    })
}

/// serde's messages end with a newline and sometimes quote long expectation lists; keep
/// them on one line.
fn clean_message(message: &str) -> String {
    message.trim().replace('\n', "; ")
}
