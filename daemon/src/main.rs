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
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(cli::run(cli))?;
    Ok(())
}
