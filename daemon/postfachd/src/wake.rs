//! Waking the running daemon from another process: a command (`send`, `mark`, `outbox
//! retry`, `oauth authorize`) writes a file in `<data_dir>/wake/`, which the daemon watches. A file is a
//! nudge, not a message: the work itself is in the store, so a missed or doubled nudge
//! loses nothing (the daemon also looks on its own at least every minute).

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::model::now_unix;

/// What a wake file asks for, by its name: `outbox` or `account.<id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// File `outbox`: entries may be due; the outbox loop looks at once instead of at its next check.
    Outbox,
    /// File `account.<id>`: the account with this id has local changes to apply.
    Account(String),
    /// File `oauth.<id>`: the account was just authorized (`oauth authorize`); it starts
    /// afresh, even when it had given up.
    Authorized(String),
}

/// The directory the daemon watches for wake files: `<data_dir>/wake`.
pub fn dir(config: &Config) -> PathBuf {
    config.data_dir().join("wake")
}

fn file_name(target: &Target) -> String {
    match target {
        Target::Outbox => "outbox".to_owned(),
        Target::Account(id) => format!("account.{id}"),
        Target::Authorized(id) => format!("oauth.{id}"),
    }
}

/// Which target a changed file in the wake directory names.
pub fn target_of(path: &Path) -> Option<Target> {
    let name = path.file_name()?.to_str()?;
    match name {
        "outbox" => Some(Target::Outbox),
        _ => name
            .strip_prefix("account.")
            .map(|id| Target::Account(id.to_owned()))
            .or_else(|| name.strip_prefix("oauth.").map(|id| Target::Authorized(id.to_owned()))),
    }
}

/// Nudges a running daemon; harmless when none runs.
pub fn nudge(config: &Config, target: &Target) {
    let dir = dir(config);
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join(file_name(target)), now_unix().to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_round_trip() {
        for t in [Target::Outbox, Target::Account("kanzlei".into()), Target::Authorized("gmail".into())] {
            assert_eq!(target_of(Path::new(&file_name(&t))), Some(t));
        }
        assert_eq!(target_of(Path::new("/x/other")), None);
    }
}
