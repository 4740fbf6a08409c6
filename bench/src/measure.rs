//! Running a program and measuring it: wall time, CPU time (user + system) and peak RSS,
//! as GNU time reports them for the process and its children.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

/// One measured run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Run {
    /// Wall-clock seconds.
    pub wall: f64,
    /// User + system CPU seconds.
    pub cpu: f64,
    /// Peak resident set size in MiB.
    pub rss_mib: f64,
}

/// Runs `cmd` under `/usr/bin/time` and returns what it used; fails if the program fails.
pub fn run(cmd: &mut Command, scratch: &Path) -> anyhow::Result<Run> {
    let report = scratch.join("time.out");
    let program = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
    let mut timed = Command::new("/usr/bin/time");
    timed.arg("-f").arg("%e %U %S %M").arg("-o").arg(&report).arg(&program).args(&args);
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => timed.env(k, v),
            None => timed.env_remove(k),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        timed.current_dir(dir);
    }
    let started = Instant::now();
    let out =
        timed.output().with_context(|| format!("running {program:?} under /usr/bin/time (apt-get install time)"))?;
    let wall = started.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!(
            "{program:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = std::fs::read_to_string(&report).context("reading /usr/bin/time's report")?;
    let line = text.lines().last().unwrap_or("");
    let f: Vec<f64> = line.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    let [_, user, sys, rss_kib] = f[..] else { bail!("unexpected /usr/bin/time output: {text}") };
    Ok(Run { wall, cpu: user + sys, rss_mib: rss_kib / 1024.0 })
}

/// The resident set size of a running process, in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse().ok())
}
