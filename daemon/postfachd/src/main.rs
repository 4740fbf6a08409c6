//! `postfachd`: the Postfach daemon and its command line.

use std::process::ExitCode;

use clap::Parser;
use postfach::cli::{self, Cli, CliError, Command};
use postfach::config::{Config, LogFormat};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The daemon logs at info in its configured format; one-shot commands only warn.
    let (format, level) = match &cli.command {
        Command::Run => (Config::load(&cli.config).map(|c| c.daemon.log_format).unwrap_or(LogFormat::Pretty), "info"),
        // Sending commands report the outcome themselves.
        Command::Send(_) | Command::SendTest { .. } => (LogFormat::Pretty, "error"),
        _ => (LogFormat::Pretty, "warn"),
    };
    postfach::logging::init(format, level);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(CliError::Reported) = e.downcast_ref::<CliError>() {
            } else {
                eprintln!("postfachd: {e:#}");
            }
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    // Before the runtime starts its threads (the switch is per thread). `docs` writes
    // wherever it is told and touches no store.
    if let (false, Ok(config)) = (matches!(cli.command, Command::Docs { .. }), Config::load(&cli.config)) {
        let data_dir = config.data_dir();
        match postfach::privileges::drop_to_owner_of(&data_dir) {
            Ok(Some(uid)) => tracing::debug!(uid, dir = %data_dir.display(), "running as the data directory's owner"),
            Ok(None) => {}
            Err(e) => anyhow::bail!("cannot switch to the owner of {}: {e}", data_dir.display()),
        }
    }
    // Blocking work is store calls (one connection behind a mutex), plugin calls and name
    // lookups: a few dozen threads keep them all busy. Tokio's default of 512 let a
    // thousand accounts starting at once spawn hundreds of threads that each kept their
    // own malloc arena afterwards.
    let runtime = tokio::runtime::Builder::new_multi_thread().max_blocking_threads(32).enable_all().build()?;
    runtime.block_on(cli::run(cli))?;
    Ok(())
}
