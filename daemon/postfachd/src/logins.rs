//! Spreading IMAP logins over time: at most `imap_logins_per_minute` (postfach.toml) logins
//! to one server (host and port), across all of the daemon's accounts.
//!
//! A daemon that starts (or restarts after a network outage) thousands of accounts would
//! otherwise log them all in within a second, a burst providers answer with throttling or
//! temporary blocks. Each login takes the next free slot for its server, slots being
//! `60 s / rate` apart, and waits for it; so logins to one server never come closer than
//! that, and logins to different servers do not wait for each other. Every login of the
//! process goes through [`wait`]: the account tasks, IDLE watchers, account tests and
//! bodies fetched on demand.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

/// The slots of one process.
struct Gate {
    /// Time between two logins to one server.
    spacing: Duration,
    /// Per server, the earliest moment of the next login.
    next: Mutex<HashMap<String, Instant>>,
}

static GATE: OnceLock<Gate> = OnceLock::new();

/// Sets the rate for the whole process (the daemon, once at start); 0 = no limit. Later
/// calls change nothing: the rate of a running daemon does not change on reload.
pub fn configure(per_minute: u32) {
    if per_minute > 0 {
        let spacing = Duration::from_secs(60) / per_minute;
        let _ = GATE.set(Gate { spacing, next: Mutex::new(HashMap::new()) });
    }
}

/// Waits for this login's slot on `server` (`host:port`); returns at once without a limit.
pub async fn wait(server: &str) {
    let Some(gate) = GATE.get() else { return };
    let slot = {
        let mut next = gate.next.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let slot = next.get(server).copied().filter(|t| *t > now).unwrap_or(now);
        next.insert(server.to_owned(), slot + gate.spacing);
        slot
    };
    tokio::time::sleep_until(slot).await;
}
