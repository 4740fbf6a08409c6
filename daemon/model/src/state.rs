//! The visible state of an account.

use std::fmt;
use std::str::FromStr;

/// The visible state of an account, as shown by `postfachd accounts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountState {
    /// Known from its file, not running (daemon stopped, or not started yet).
    Stopped,
    /// Opening the connection and logging in.
    Connecting,
    /// A sync pass is running.
    Syncing,
    /// Synced; waiting for the next pass.
    Idle,
    /// The last attempt failed; waiting before the next one.
    BackingOff,
    /// The server refused the credentials; waiting before the next attempt.
    AuthFailed,
    /// Switched off: `enabled = false`, or auto-disabled after `max_failures`.
    Disabled,
    /// `receive = false`: the account is only used for sending.
    SendOnly,
    /// The account file is invalid and there is no earlier valid version to run.
    ConfigError,
    /// The account's task died of an internal error (a bug); it is restarted with backoff.
    Failed,
}

impl AccountState {
    /// Every state, in the order of the enum.
    pub const ALL: [AccountState; 10] = [
        AccountState::Stopped,
        AccountState::Connecting,
        AccountState::Syncing,
        AccountState::Idle,
        AccountState::BackingOff,
        AccountState::AuthFailed,
        AccountState::Disabled,
        AccountState::SendOnly,
        AccountState::ConfigError,
        AccountState::Failed,
    ];

    /// The kebab-case name used in tables and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountState::Stopped => "stopped",
            AccountState::Connecting => "connecting",
            AccountState::Syncing => "syncing",
            AccountState::Idle => "idle",
            AccountState::BackingOff => "backing-off",
            AccountState::AuthFailed => "auth-failed",
            AccountState::Disabled => "disabled",
            AccountState::SendOnly => "send-only",
            AccountState::ConfigError => "config-error",
            AccountState::Failed => "failed",
        }
    }
}

impl fmt::Display for AccountState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AccountState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "stopped" => AccountState::Stopped,
            "connecting" => AccountState::Connecting,
            "syncing" => AccountState::Syncing,
            "idle" => AccountState::Idle,
            "backing-off" => AccountState::BackingOff,
            "auth-failed" => AccountState::AuthFailed,
            "disabled" => AccountState::Disabled,
            "send-only" => AccountState::SendOnly,
            "config-error" => AccountState::ConfigError,
            "failed" => AccountState::Failed,
            other => return Err(format!("unknown account state `{other}`")),
        })
    }
}
