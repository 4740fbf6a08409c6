//! The systemd notification protocol (`sd_notify(3)`), for `Type=notify` units: `READY=1`
//! once the store is open, the accounts are started and the API listens; `RELOADING=1`
//! and `READY=1` around a SIGHUP reload; `STOPPING=1` when a stop begins; `WATCHDOG=1`
//! from the daemon's main loop at half the `WatchdogSec` interval, so a loop that hangs
//! stops feeding it and systemd restarts the service. Without `$NOTIFY_SOCKET` (not
//! started by systemd) every call does nothing.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use tracing::{debug, warn};

/// The service manager's notification socket, if there is one.
pub struct Notifier {
    socket: Option<(UnixDatagram, std::os::unix::net::SocketAddr)>,
    watchdog: Option<Duration>,
}

impl Notifier {
    /// Reads `$NOTIFY_SOCKET` (a path, or `@name` for an abstract socket) and
    /// `$WATCHDOG_USEC` / `$WATCHDOG_PID`.
    pub fn from_env() -> Notifier {
        let socket = std::env::var_os("NOTIFY_SOCKET").and_then(|path| {
            let path = path.to_string_lossy().into_owned();
            let addr = match path.strip_prefix('@') {
                Some(name) => {
                    use std::os::linux::net::SocketAddrExt;
                    std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
                }
                None => std::os::unix::net::SocketAddr::from_pathname(&path),
            };
            match (UnixDatagram::unbound(), addr) {
                (Ok(s), Ok(a)) => Some((s, a)),
                (Err(e), _) | (_, Err(e)) => {
                    warn!(socket = %path, error = %e, "cannot use the service manager's notification socket");
                    None
                }
            }
        });
        let for_us = std::env::var("WATCHDOG_PID").ok().is_none_or(|p| p.trim() == std::process::id().to_string());
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|u| u.trim().parse::<u64>().ok())
            .filter(|u| *u > 0 && for_us)
            .map(Duration::from_micros);
        Notifier { socket, watchdog }
    }

    /// How often to send `WATCHDOG=1`: half the service's `WatchdogSec`, if it has one.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog.map(|d| d / 2)
    }

    fn send(&self, state: &str) {
        let Some((socket, addr)) = &self.socket else { return };
        match socket.send_to_addr(state.as_bytes(), addr) {
            Ok(_) => debug!(state = %state.replace('\n', " "), "told the service manager"),
            Err(e) => warn!(error = %e, "cannot notify the service manager"),
        }
    }

    /// Started and serving.
    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={status}\nMAINPID={}", std::process::id()));
    }

    /// A reload begins (SIGHUP); [`Notifier::ready`] ends it.
    pub fn reloading(&self) {
        let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        let usec = (now.tv_sec as u64).saturating_mul(1_000_000) + (now.tv_nsec as u64) / 1_000;
        self.send(&format!("RELOADING=1\nMONOTONIC_USEC={usec}"));
    }

    /// A stop begins: in-flight sends and store writes are drained now.
    pub fn stopping(&self) {
        self.send("STOPPING=1\nSTATUS=stopping: finishing sends in flight");
    }

    /// The main loop is alive.
    pub fn watchdog(&self) {
        self.send("WATCHDOG=1");
    }
}
