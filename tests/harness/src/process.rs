//! Small process helpers that need no unsafe code: signals through kill(1), the
//! effective uid through id(1).

use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The effective uid of this process.
pub fn euid() -> u32 {
    Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(u32::MAX)
}

/// The name of the effective user.
pub fn user_name() -> String {
    Command::new("id")
        .arg("-un")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// The name of the effective user's primary group.
pub fn group_name() -> String {
    Command::new("id")
        .arg("-gn")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// The primary group id of the effective user.
pub fn egid() -> u32 {
    Command::new("id")
        .arg("-g")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(u32::MAX)
}

/// Sends `signal` (e.g. "TERM") to `pid`.
pub fn signal(pid: u32, signal: &str) -> bool {
    Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status().is_ok_and(|s| s.success())
}

/// Sends SIGTERM to `child` and waits for it up to `grace`, then kills it.
pub fn terminate(child: &mut Child, grace: Duration) {
    signal(child.id(), "TERM");
    wait_or_kill(child, grace);
}

/// Waits for `child` to exit up to `grace`, then kills it; either way it is reaped.
pub fn wait_or_kill(child: &mut Child, grace: Duration) {
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}
