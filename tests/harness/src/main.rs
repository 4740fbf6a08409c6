//! `postfach-mailservers`: starts and stops the demo's mail servers (used by `make demo`).
//!
//! ```text
//! postfach-mailservers demo DIR   # start (replacing an earlier run) and seed; returns
//! postfach-mailservers stop DIR   # stop them
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::process::ExitCode;

use postfach_test_harness::demo;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["demo", dir] => match demo::start(&PathBuf::from(dir)) {
            Ok(summary) => {
                println!("{summary}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("postfach-mailservers: {e}");
                ExitCode::from(1)
            }
        },
        ["stop", dir] => {
            if demo::stop(&PathBuf::from(dir)) {
                println!("demo mail servers stopped");
            }
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("usage: postfach-mailservers demo DIR | stop DIR");
            ExitCode::from(2)
        }
    }
}
