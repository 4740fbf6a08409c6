//! Timestamps: Unix seconds, as the store keeps them, and RFC 3339 for people and JSON.

/// Seconds since the Unix epoch, now.
pub fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Formats a Unix timestamp as RFC 3339 in UTC (`2026-11-23T01:02:03Z`).
pub fn rfc3339(ts: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(ts, 0).map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}
