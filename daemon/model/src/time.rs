//! Timestamps: Unix seconds, as the store keeps them, and RFC 3339 for people and JSON.

/// Seconds since the Unix epoch, now.
pub fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Formats a Unix timestamp as RFC 3339 in UTC (`2026-11-23T01:02:03Z`).
pub fn rfc3339(ts: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(ts, 0).map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// A point in time as the store keeps it: Unix seconds, UTC.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Now.
    pub fn now() -> Timestamp {
        Timestamp(now_unix())
    }

    /// RFC 3339 in UTC (`2026-11-23T01:02:03Z`); `None` out of chrono's range.
    pub fn rfc3339(self) -> Option<String> {
        rfc3339(self.0)
    }

    /// This time plus `secs` seconds, saturating at the ends of the range.
    pub fn plus_secs(self, secs: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(secs))
    }

    /// Seconds from `self` until `later` (negative when `later` is earlier).
    pub fn secs_until(self, later: Timestamp) -> i64 {
        later.0.saturating_sub(self.0)
    }
}
