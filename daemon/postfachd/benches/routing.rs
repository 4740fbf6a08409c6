//! Routing throughput: the full bundled chain (projektpro-folders, subject-tag,
//! sender-map, thread-follow) over 10,000 stored messages, as the daemon runs it after a
//! sync: load from the store, run the chain, write assignments, traces and events.
//!
//! Run with `cargo bench -p postfach --bench routing`.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use postfach::config::load_account;
use postfach::model::now_unix;
use postfach::plugins::{HostConfig, Limits, PluginHost};
use postfach::store::{FetchedMessage, ListedFolder, Store};
use postfach_test_harness::mail::Mail;

const MESSAGES: usize = 10_000;

fn folder(name: &str) -> ListedFolder {
    ListedFolder {
        name: name.into(),
        raw: name.into(),
        delimiter: Some("/".into()),
        path: name.split('/').map(str::to_owned).collect(),
        attributes: vec![],
        role: (name == "INBOX").then_some(postfach::model::Role::Inbox),
        role_source: None,
        selectable: true,
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(bench());
}

async fn bench() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).unwrap().to_path_buf();
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-routing");
    let plugins = target.join("plugins");
    let status =
        Command::new(repo.join("scripts/build-plugins.sh")).arg(&plugins).env("TARGET_DIR", &target).status().unwrap();
    assert!(status.success());

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store.sqlite3")).unwrap();
    let names = ["INBOX", "ProjektPro/210-01 Wohnanlage", "ProjektPro/211-07 Schule Süd", "Kunden/Meier"];
    let rows = store.replace_listing("bench", names.map(folder).to_vec()).await.unwrap();

    // A realistic mix: project folders, subject tags, mapped senders, reply chains, noise.
    let started = Instant::now();
    for chunk_start in (0..MESSAGES).step_by(500) {
        let mut by_folder: Vec<Vec<FetchedMessage>> = vec![Vec::new(); names.len()];
        for i in chunk_start..(chunk_start + 500).min(MESSAGES) {
            let folder = match i % 10 {
                0 | 1 => 1,
                2 => 2,
                3 => 3,
                _ => 0,
            };
            let subject = match i % 7 {
                0 => format!("[P-210-01] Statik Teil {i}"),
                1 => format!("Re: Angebot {i}"),
                _ => format!("Nachricht {i}"),
            };
            let from = if i % 5 == 0 { "Bauamt <bauamt@musterstadt.de>" } else { "Kunde <kunde@example.org>" };
            let mut mail = Mail::new(i, &subject).from(from);
            if i % 7 == 1 && i > 0 {
                mail = mail.reply_to(&format!("msg-{}@fixture.postfach.test", i - 1));
            }
            let raw = mail.to_bytes();
            by_folder[folder].push(FetchedMessage {
                uid: i as u32 + 1,
                flags: vec!["\\Seen".into()],
                modseq: None,
                internal_date: Some(now_unix()),
                hash: blake3::hash(&raw).to_hex().to_string(),
                headers: postfach::imap::parse_headers(&raw),
                gmail_thread: None,
                header_only: None,
                raw,
            });
        }
        for (f, batch) in by_folder.iter().enumerate() {
            let id = rows.iter().find(|r| r.folder.name == names[f]).unwrap().id;
            store.commit_batch("bench", id, 1, batch.clone(), Vec::new()).await.unwrap();
        }
    }
    println!("stored {MESSAGES} messages in {:.1}s", started.elapsed().as_secs_f64());

    let config_dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(config_dir.path().join("accounts")).unwrap();
    let account_file = config_dir.path().join("accounts/bench.toml");
    std::fs::write(
        &account_file,
        r#"description = "bench"
[identity]
email = "bench@example.de"
[imap]
host = "imap.example.de"
[routing]
plugins = ["projektpro-folders", "subject-tag", "sender-map", "thread-follow"]
[routing.options]
"sender-map.map" = { "bauamt@musterstadt.de" = "211-07" }
"#,
    )
    .unwrap();
    let account = load_account(&account_file, config_dir.path()).unwrap();
    let host: Arc<PluginHost> = PluginHost::new(
        HostConfig {
            dirs: vec![plugins],
            cache_dir: None,
            limits: Limits { timeout: Duration::from_millis(100), memory_bytes: 32 << 20 },
        },
        None,
    )
    .unwrap();

    let mut samples = Vec::new();
    for round in 0..5 {
        // Forget earlier traces so every message is routed again, as after a chain change.
        store.forget_routing("bench").await.unwrap();
        let start = Instant::now();
        let stats = postfach::routing::route_account(&store, &host, &account, None, Vec::new()).await.unwrap();
        let elapsed = start.elapsed();
        if round == 0 {
            println!(
                "first run: {} routed, {} unrouted, {} reassigned",
                stats.routed, stats.unrouted, stats.reassigned
            );
        }
        samples.push(elapsed);
    }
    samples.sort();
    let median = samples[samples.len() / 2];
    let per = median.as_secs_f64() * 1e6 / MESSAGES as f64;
    let chain = postfach::routing::chain(&account, &host, None, Some(store.clone()));
    let inputs = store.all_route_inputs("bench").await.unwrap();
    let t = Instant::now();
    let _ = postfach::routing::run(&host, &chain, &inputs);
    let chain_only = t.elapsed();
    println!("routing {MESSAGES} stored messages through the full chain (median of 5):");
    println!(
        "  load + 4 routers + write: {:.0} ms = {:.1} µs per message = {:.0} messages/s",
        median.as_secs_f64() * 1e3,
        per,
        MESSAGES as f64 / median.as_secs_f64()
    );
    println!(
        "  of which the router chain alone: {:.0} ms = {:.1} µs per message",
        chain_only.as_secs_f64() * 1e3,
        chain_only.as_secs_f64() * 1e6 / MESSAGES as f64
    );
}
