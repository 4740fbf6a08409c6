//! The allowed range of every number in the config files, in one place: `check` and the
//! loader enforce them with `path:line:col`, and the README's configuration reference
//! lists the same figures. The bounds keep every later computation (dates, instants,
//! retry times) far from overflow, and catch typos such as an extra zero or three.

use std::ops::RangeInclusive;

/// `[sync] interval_secs`: one second to one day.
pub const INTERVAL_SECS: RangeInclusive<u64> = 1..=86_400;
/// `[sync] idle_renew_secs`: ten seconds to the 29 minutes RFC 2177 allows.
pub const IDLE_RENEW_SECS: RangeInclusive<u64> = 10..=1_740;
/// `[sync] max_message_mib`: 1 MiB to the 500 MiB Postfach can fetch at all.
pub const MAX_MESSAGE_MIB: RangeInclusive<u64> = 1..=500;
/// `[sync] window_days`: one day to 100 years.
pub const WINDOW_DAYS: RangeInclusive<u32> = 1..=36_500;
/// `[sync] server_retention_days.*`: 0 (never) to 100 years.
pub const RETENTION_DAYS: RangeInclusive<u32> = 0..=36_500;
/// `[sync] max_failures`: 1 to 1000 consecutive failures.
pub const MAX_FAILURES: RangeInclusive<u32> = 1..=1_000;
/// `[sync] retry_initial_secs`, `retry_max_secs` and `[smtp]`'s: one second to one day.
pub const RETRY_SECS: RangeInclusive<u64> = 1..=86_400;
/// `[imap]` / `[smtp] timeout_secs` (also the time a password command may take).
pub const TIMEOUT_SECS: RangeInclusive<u64> = 1..=3_600;
/// `[smtp] give_up_after_hours`: one hour to one year.
pub const GIVE_UP_AFTER_HOURS: RangeInclusive<u64> = 1..=8_760;
/// `postfach.toml` `[plugins] call_timeout_ms`: up to one minute.
pub const PLUGIN_CALL_TIMEOUT_MS: RangeInclusive<u64> = 1..=60_000;
/// `postfach.toml` `[plugins] memory_limit_mib`: up to 4 GiB.
pub const PLUGIN_MEMORY_MIB: RangeInclusive<u64> = 1..=4_096;
/// `postfach.toml` `[api] max_body_mib`: up to 1 GiB.
pub const API_MAX_BODY_MIB: RangeInclusive<u64> = 1..=1_024;
/// `postfach.toml` `[api] request_timeout_secs`: one second to one hour.
pub const API_REQUEST_TIMEOUT_SECS: RangeInclusive<u64> = 1..=3_600;

/// `imap_logins_per_minute` in `postfach.toml`: 0 (no limit) up to 100 a second.
pub const LOGINS_PER_MINUTE: RangeInclusive<u32> = 0..=6_000;
/// `[cluster] lease_secs`: long enough for a renewal every third of it over a slow
/// network, short enough that a dead node's accounts move within minutes.
pub const LEASE_SECS: RangeInclusive<u32> = 6..=600;
