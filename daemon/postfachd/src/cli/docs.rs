//! `postfachd docs --out DIR` (hidden): the man pages (`postfachd.1` and one page per
//! command, `postfachd-sync.1` …) and shell completions, generated from the same clap
//! definitions the command line is parsed with, so they cannot drift from it. The Debian
//! package installs them.

use std::path::Path;

use clap::CommandFactory;

use super::{Cli, CliError};

/// Writes `DIR/man/man1/*.1` and `DIR/completions/{postfachd.bash,_postfachd,postfachd.fish}`.
pub fn write(out: &Path) -> Result<(), CliError> {
    let fail = |what: &str, e: std::io::Error| CliError::Docs(format!("cannot write {what} in {}: {e}", out.display()));
    let man = out.join("man").join("man1");
    let completions = out.join("completions");
    for dir in [&man, &completions] {
        std::fs::create_dir_all(dir).map_err(|e| fail("the directories", e))?;
    }
    let cmd = Cli::command();
    page(&cmd, "postfachd", &man).map_err(|e| fail("the man pages", e))?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("postfachd-{}", sub.get_name());
        page(sub, &name, &man).map_err(|e| fail("the man pages", e))?;
    }
    let mut cmd = Cli::command();
    for (shell, file) in [
        (clap_complete::Shell::Bash, "postfachd.bash"),
        (clap_complete::Shell::Zsh, "_postfachd"),
        (clap_complete::Shell::Fish, "postfachd.fish"),
    ] {
        let mut f = std::fs::File::create(completions.join(file)).map_err(|e| fail("the completions", e))?;
        clap_complete::generate(shell, &mut cmd, "postfachd", &mut f);
    }
    Ok(())
}

fn page(cmd: &clap::Command, name: &str, dir: &Path) -> std::io::Result<()> {
    let cmd = cmd.clone().name(name.to_owned());
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut buf)?;
    std::fs::write(dir.join(format!("{name}.1")), buf)
}
