//! Plugin call costs, through the real host (fresh sandbox per call, epoch deadline,
//! memory limiter):
//!
//! - routing a batch of 1,000 messages through a trivial router component, per message;
//! - folder-role mapping of a 200-folder account through the `generic` adapter.
//!
//! Run with `cargo bench -p postfach --bench plugins`. Prints medians over repeated runs;
//! the figures go into the README.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use postfach::plugins::{CallContext, Folder, HostConfig, Limits, MessageMeta, PluginHost};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).unwrap().to_path_buf()
}

fn cargo_wasm(manifest: &Path, package: &str, target: &Path) {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--quiet", "--release", "--target", "wasm32-wasip2", "-p", package, "--manifest-path"])
        .arg(manifest)
        .env("CARGO_TARGET_DIR", target)
        .status()
        .unwrap();
    assert!(status.success(), "building {package} failed");
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn measure(iterations: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    for _ in 0..3 {
        f();
    }
    let samples: Vec<Duration> = (0..iterations)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    let mut sorted = samples.clone();
    sorted.sort();
    (median(samples), sorted[sorted.len() * 9 / 10])
}

fn message(i: usize) -> MessageMeta {
    MessageMeta {
        account: "architekt".into(),
        folder: "INBOX".into(),
        folder_path: vec!["INBOX".into()],
        message_id: Some(format!("msg-{i}@fixture.postfach.test")),
        subject: Some(format!("Re: [P-210-01] Bauzeitenplan Wohnanlage, Version {i}")),
        from: vec!["Bauunternehmung Kraft <info@kraft-bau.de>".into()],
        to: vec!["Max Mustermann <mm@muster-architekten.de>".into()],
        cc: vec!["buero@muster-architekten.de".into()],
        in_reply_to: Some(format!("msg-{}@fixture.postfach.test", i.saturating_sub(1))),
        references: vec![format!("msg-{}@fixture.postfach.test", i.saturating_sub(1))],
        date: Some(1_795_424_400 + i as i64),
        size: 4096,
        flags: vec!["\\Seen".into()],
        headers: vec![("List-Id".into(), "<bau.example>".into())],
    }
}

fn folders() -> Vec<Folder> {
    let mut out = Vec::new();
    for name in ["INBOX", "Gesendet", "Entwürfe", "Papierkorb", "Spamverdacht", "Archiv", "Postausgang"] {
        out.push(Folder {
            name: name.into(),
            raw: name.into(),
            delimiter: Some("/".into()),
            attributes: vec!["\\HasNoChildren".into()],
            path: vec![name.into()],
        });
    }
    let mut n = 0;
    while out.len() < 200 {
        let name = format!("ProjektPro/{:03}-{:02} Projekt {n}", 200 + n / 10, n % 10);
        out.push(Folder {
            raw: name.clone(),
            path: name.split('/').map(str::to_owned).collect(),
            name,
            delimiter: Some("/".into()),
            attributes: vec!["\\HasNoChildren".into()],
        });
        n += 1;
    }
    out
}

fn main() {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-plugins");
    cargo_wasm(&repo().join("tests/plugins/Cargo.toml"), "test-trivial-router", &target);
    cargo_wasm(&repo().join("plugins/Cargo.toml"), "postfach-adapter-generic", &target);
    let dir = tempfile::tempdir().unwrap();
    let release = target.join("wasm32-wasip2/release");
    std::fs::copy(release.join("test_trivial_router.wasm"), dir.path().join("trivial.wasm")).unwrap();
    std::fs::copy(release.join("postfach_adapter_generic.wasm"), dir.path().join("generic.wasm")).unwrap();
    let host = PluginHost::new(
        HostConfig {
            dirs: vec![dir.path().to_owned()],
            cache_dir: None,
            limits: Limits { timeout: Duration::from_secs(5), memory_bytes: 64 << 20 },
        },
        None,
    )
    .unwrap();

    let batch: Vec<MessageMeta> = (0..1000).map(message).collect();
    let iterations: usize = std::env::var("BENCH_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    let (route_median, route_p90) = measure(iterations, || {
        let decisions = host.route("trivial", CallContext::default(), &batch).unwrap();
        assert_eq!(decisions.len(), batch.len());
    });
    let one: Vec<MessageMeta> = vec![message(1)];
    let (single_median, _) = measure(200, || {
        host.route("trivial", CallContext::default(), &one).unwrap();
    });
    let folders = folders();
    let (roles_median, roles_p90) = measure(50, || {
        let roles = host.roles("generic", &folders).unwrap();
        assert!(roles.len() >= 6);
    });

    let per_message = route_median.as_secs_f64() * 1e6 / batch.len() as f64;
    println!("plugin benchmarks (median of repeated calls; each call = fresh sandbox + instantiate)");
    println!(
        "  route 1,000 messages, trivial router:   {:>8.2} ms per batch (p90 {:.2} ms) = {:.2} µs per message (target < 2 µs)",
        route_median.as_secs_f64() * 1e3,
        route_p90.as_secs_f64() * 1e3,
        per_message
    );
    println!("  route 1 message (call overhead):        {:>8.1} µs", single_median.as_secs_f64() * 1e6);
    println!(
        "  roles for 200 folders, generic adapter: {:>8.2} ms per call (p90 {:.2} ms)",
        roles_median.as_secs_f64() * 1e3,
        roles_p90.as_secs_f64() * 1e3
    );
    println!("  per-message target met: {}", if per_message < 2.0 { "yes" } else { "NO" });
}
