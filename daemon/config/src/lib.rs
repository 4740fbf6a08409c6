//! Configuration: `postfach.toml` for the daemon, one `accounts/<id>.toml` per account.
//!
//! Files are parsed with serde (unknown keys are errors), checked for contradictions, and
//! every problem is reported as `path:line:col: message`. Secrets are resolved only when
//! an account starts, into values that never print. The accounts directory is watched so
//! adding, editing or removing a file takes effect without a restart.

#![deny(missing_docs)]

mod account;
pub mod api;
mod error;
#[cfg(test)]
mod fuzz;
mod load;
mod location;
mod pattern;
mod projects;
pub mod ranges;
mod schema;
mod secret;
mod validate;
mod watch;

pub use account::{Account, DEFAULT_TIMEOUT_SECS, EndpointError, ImapEndpoint, SmtpEndpoint, local_part, smtp_port};
pub use error::{ConfigError, ConfigErrors};
pub use load::{AccountSet, Config, DAEMON_FILE, account_id_of, load_account, load_accounts, symlink_target_dirs};
pub use location::{LineCol, Located};
pub use pattern::glob_match;
pub use projects::Projects;
pub use schema::{
    AccessSettings, AccountFile, AccountKind, AfterWindow, ApiSettings, AuthMechanism, Bodies, ClusterSettings,
    DaemonConfig, FolderSettings, Identity, ImapSettings, LogFormat, OAuth2Settings, PluginSettings, RetentionDays,
    RoutingSettings, Security, SmtpSettings, StoreSettings, SyncSettings, UserSettings, WebhookSettings,
};
pub use secret::{Secret, SecretError, SecretSource, cancel_commands};
pub use watch::{DEBOUNCE, DirWatcher, WRITE_QUIET, WatchError};
