//! `postfach-mailservers`: starts and stops the demo's mail servers (used by `make demo`).
//!
//! ```text
//! postfach-mailservers demo DIR   # start (replacing an earlier run) and seed; returns
//! postfach-mailservers stop DIR   # stop them
//! postfach-mailservers webhooks PORT SECRET_FILE   # a webhook receiver printing each delivery
//! postfach-mailservers oauth PORT USER   # an OAuth2 provider whose browser page agrees at once
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
        ["webhooks", port, secret_file] => webhooks(port, secret_file),
        ["oauth", port, user] => oauth(port, user),
        ["stop", dir] => {
            if demo::stop(&PathBuf::from(dir)) {
                println!("demo mail servers stopped");
            }
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("usage: postfach-mailservers demo DIR | stop DIR | webhooks PORT SECRET_FILE | oauth PORT USER");
            ExitCode::from(2)
        }
    }
}

/// Runs the loopback OAuth2 provider until killed; prints what the token endpoint was asked.
fn oauth(port: &str, user: &str) -> ExitCode {
    let config = postfach_test_harness::OAuthConfig { user: user.to_owned(), ..Default::default() };
    let provider = match port
        .parse()
        .map_err(|e| format!("{e}"))
        .and_then(|p| postfach_test_harness::OAuthServer::start_on(p, config).map_err(|e| e.to_string()))
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("postfach-mailservers: OAuth2 provider: {e}");
            return ExitCode::from(1);
        }
    };
    println!("OAuth2 provider for {user} at {}", provider.url(""));
    let mut seen = 0;
    loop {
        let n = provider.token_requests();
        if n != seen {
            println!("token requests: {n}");
            seen = n;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// Receives webhooks until killed; prints one line per delivery with its signature check.
fn webhooks(port: &str, secret_file: &str) -> ExitCode {
    let secret = std::fs::read_to_string(secret_file).unwrap_or_default();
    let receiver = match port
        .parse()
        .map_err(|e| format!("{e}"))
        .and_then(|p| postfach_test_harness::WebhookReceiver::start_on(p, secret.trim()).map_err(|e| e.to_string()))
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("postfach-mailservers: webhook receiver: {e}");
            return ExitCode::from(1);
        }
    };
    println!("receiving webhooks at {}", receiver.url());
    let mut shown = 0;
    loop {
        let all = receiver.deliveries();
        for d in &all[shown..] {
            let body = d.json();
            let subject = body["message"]["subject"].as_str().map(|s| format!(" \"{s}\"")).unwrap_or_default();
            println!(
                "{} {:<12} {:<10}{subject}  signature {}",
                d.header("webhook-id").unwrap_or("?"),
                body["kind"].as_str().unwrap_or("?"),
                body["account"].as_str().unwrap_or("?"),
                if d.verified { "verified" } else { "WRONG" }
            );
        }
        shown = all.len();
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
