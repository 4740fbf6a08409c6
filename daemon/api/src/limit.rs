//! Rate limiting of failed bearer attempts per client IP: after [`MAX_FAILURES`] rejected
//! tokens from one address within a [`WINDOW_SECS`] window, further rejected tokens from
//! it are answered with 429 and `Retry-After` (the rest of the window) instead of 401.
//!
//! A valid token still works from a limited address: tokens are 256 random bits, so
//! guessing is hopeless anyway, and a client sharing an address with a misbehaving one
//! (behind NAT, or any local process on loopback) must not be locked out by it. The limit
//! bounds the flood: failures become 429s, counted once per window and logged once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Rejected tokens an address may present in one window before it gets 429s.
pub const MAX_FAILURES: u32 = 10;

/// The window's length.
pub const WINDOW_SECS: i64 = 60;

/// Addresses tracked before windows that have ended are dropped.
const PRUNE_ABOVE: usize = 4096;

/// Failed attempts per client address, in fixed windows.
#[derive(Debug, Default)]
pub struct Failures {
    windows: Mutex<HashMap<IpAddr, Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: i64,
    count: u32,
}

impl Failures {
    /// Records a rejected token from `ip` at `now` (Unix seconds). Returns `Some(seconds
    /// until the window ends)` when the address is over the limit (answer 429), `None`
    /// while it is not (answer 401).
    pub fn fail(&self, ip: IpAddr, now: i64) -> Option<i64> {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if windows.len() > PRUNE_ABOVE {
            windows.retain(|_, w| now - w.start < WINDOW_SECS);
        }
        let window = windows.entry(ip).or_insert(Window { start: now, count: 0 });
        if now - window.start >= WINDOW_SECS {
            *window = Window { start: now, count: 0 };
        }
        window.count = window.count.saturating_add(1);
        if window.count > MAX_FAILURES {
            if window.count == MAX_FAILURES + 1 {
                tracing::warn!(%ip, "too many rejected API tokens from one address; answering 429 until the window ends");
            }
            Some((window.start + WINDOW_SECS - now).max(1))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eleventh_failure_within_a_minute_is_limited_until_the_window_ends() {
        let failures = Failures::default();
        let ip: IpAddr = [10, 0, 0, 1].into();
        let other: IpAddr = [10, 0, 0, 2].into();
        for i in 0..MAX_FAILURES {
            assert_eq!(failures.fail(ip, 1000 + i64::from(i)), None);
        }
        assert_eq!(failures.fail(ip, 1015), Some(45));
        assert_eq!(failures.fail(ip, 1059), Some(1));
        assert_eq!(failures.fail(other, 1059), None, "another address has its own window");
        assert_eq!(failures.fail(ip, 1060), None, "a new window starts afresh");
    }
}
