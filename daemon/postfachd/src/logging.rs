//! Log output: tracing to stderr, pretty or JSON, filtered by `POSTFACH_LOG`
//! (e.g. `POSTFACH_LOG=postfach=debug`).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber. `default` is the filter when `POSTFACH_LOG` is unset.
pub fn init(format: LogFormat, default: &str) {
    let filter = EnvFilter::try_from_env("POSTFACH_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    // Colour only on a terminal: journald and log files get plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let result = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
    };
    // A subscriber may already be installed (tests); keep it.
    drop(result);
}
