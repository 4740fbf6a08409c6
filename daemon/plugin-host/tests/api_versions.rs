//! The host against real components of every plugin API version: the bundled `gmail`,
//! `outlook` and `generic` adapters and a router built with the SDK (API 0.3), an adapter
//! built from the released 0.2 WIT and one from the 0.1 WIT (`tests/plugins`). Each is
//! built for `wasm32-wasip2` once per test run, into the target directories `make plugins`
//! and the integration tests use.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use postfach_plugins::{
    CallContext, Decision, Folder, HostConfig, Limits, LoginForm, MessageMeta, OAuth2Defaults, PluginHost, PluginRole,
    PluginSecurity, Server,
};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().to_path_buf()
}

/// `cargo build --release --target wasm32-wasip2` of `packages` in the workspace at
/// `manifest`, into `target`; returns where the `.wasm` files are.
fn build(manifest: &str, target: &Path, packages: &[&str]) -> PathBuf {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(["build", "--quiet", "--release", "--target", "wasm32-wasip2"])
        .arg("--manifest-path")
        .arg(repo_root().join(manifest))
        .env("CARGO_TARGET_DIR", target);
    for p in packages {
        cmd.args(["-p", p]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    target.join("wasm32-wasip2/release")
}

/// A host with one plugin directory holding these plugins, by name.
fn host() -> &'static (tempfile::TempDir, Arc<PluginHost>) {
    static HOST: OnceLock<(tempfile::TempDir, Arc<PluginHost>)> = OnceLock::new();
    HOST.get_or_init(|| {
        // Adapters only: building them together unifies nothing the script keeps apart.
        let bundled = build(
            "plugins/Cargo.toml",
            &target_dir().join("plugins"),
            &["postfach-adapter-gmail", "postfach-adapter-outlook", "postfach-adapter-generic"],
        );
        let tests = build(
            "tests/plugins/Cargo.toml",
            &target_dir().join("test-plugins"),
            &["test-legacy-adapter", "test-adapter-v0-2", "test-trivial-router"],
        );
        let dir = tempfile::tempdir().unwrap();
        for (built, name) in [
            (bundled.join("postfach_adapter_gmail.wasm"), "gmail"),
            (bundled.join("postfach_adapter_outlook.wasm"), "outlook"),
            (bundled.join("postfach_adapter_generic.wasm"), "generic"),
            (tests.join("test_legacy_adapter.wasm"), "legacy"),
            (tests.join("test_adapter_v0_2.wasm"), "adapter-v0-2"),
            (tests.join("test_trivial_router.wasm"), "trivial"),
        ] {
            std::fs::copy(&built, dir.path().join(format!("{name}.wasm"))).unwrap();
        }
        let host = PluginHost::new(
            HostConfig {
                dirs: vec![dir.path().to_owned()],
                cache_dir: None,
                limits: Limits { timeout: Duration::from_secs(5), memory_bytes: 32 << 20 },
            },
            None,
        )
        .unwrap();
        (dir, host)
    })
}

fn api_version(host: &PluginHost, id: &str) -> String {
    let info = host.list().into_iter().find(|p| p.id == id).unwrap();
    assert_eq!(info.state, "ok", "{info:?}");
    info.api_version.unwrap()
}

#[test]
fn every_api_version_loads() {
    let (_, host) = host();
    for (id, version) in [
        ("gmail", "0.3.0"),
        ("outlook", "0.3.0"),
        ("generic", "0.3.0"),
        ("trivial", "0.3.0"),
        ("adapter-v0-2", "0.2.0"),
        ("legacy", "0.1.0"),
    ] {
        assert_eq!(api_version(host, id), version, "{id}");
    }
}

#[test]
fn gmail_and_outlook_give_their_oauth2_endpoints() {
    let (_, host) = host();
    assert_eq!(
        host.oauth2("gmail", "max@gmail.com").unwrap(),
        Some(OAuth2Defaults {
            provider: "google".into(),
            auth_url: "https://accounts.google.com/o/oauth2/v2/auth".into(),
            token_url: "https://oauth2.googleapis.com/token".into(),
            device_url: None,
            scopes: vec!["https://mail.google.com/".into()],
            scope_on_refresh: false,
        })
    );
    assert_eq!(
        host.oauth2("outlook", "max@hotmail.de").unwrap(),
        Some(OAuth2Defaults {
            provider: "microsoft".into(),
            auth_url: "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize".into(),
            token_url: "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token".into(),
            device_url: Some("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/devicecode".into()),
            scopes: vec![
                "https://outlook.office.com/IMAP.AccessAsUser.All".into(),
                "https://outlook.office.com/SMTP.Send".into(),
                "offline_access".into(),
            ],
            scope_on_refresh: true,
        })
    );
}

#[test]
fn adapters_without_oauth2_answer_none() {
    let (_, host) = host();
    // A 0.3 adapter without an OAuth2 login, and one asked about an address it does not serve.
    assert_eq!(host.oauth2("generic", "max@gmail.com").unwrap(), None);
    // gmail answers for any address it serves (Workspace domains with `provider = "gmail"`).
    assert!(host.oauth2("gmail", "info@kanzlei-workspace.de").unwrap().is_some());
    // Adapters built before `oauth2` existed.
    assert_eq!(host.oauth2("adapter-v0-2", "max@zwei.example").unwrap(), None);
    assert_eq!(host.oauth2("legacy", "max@gmail.com").unwrap(), None);
    // Routers have no such function.
    assert!(host.oauth2("trivial", "max@gmail.com").is_err());
}

#[test]
fn an_adapter_built_for_api_0_2_keeps_working() {
    let (_, host) = host();
    // The best score; `generic` answers 1 for any address.
    assert_eq!(host.detect("max@zwei.example", None, &[]).first(), Some(&("adapter-v0-2".to_owned(), 100)));
    let defaults = host.defaults("adapter-v0-2", "max@zwei.example").unwrap().unwrap();
    assert_eq!(defaults.imap, Server::tls("imap.zwei.example", 993));
    assert_eq!(defaults.smtp.security, PluginSecurity::Starttls);
    assert_eq!(defaults.login, LoginForm::LocalPart);
    let roles = host.roles("adapter-v0-2", &[Folder::new("INBOX", &[]), Folder::new("Ablage", &[])]).unwrap();
    assert_eq!(
        roles.iter().map(|c| (c.folder.as_str(), c.role)).collect::<Vec<_>>(),
        [("Ablage", PluginRole::Archive)]
    );
    let names = host.folder_names("adapter-v0-2").unwrap().unwrap();
    assert_eq!(names.len(), 2, "{names:?}");
    assert_eq!(names[1].1, ["Ablage", "2026"]);
    let quirks = host.quirks("adapter-v0-2").unwrap();
    assert!(quirks.auto_saves_sent);
    assert_eq!(quirks.max_connections, 4);
    // 0.1 adapters name no folders.
    assert_eq!(host.folder_names("legacy").unwrap(), None);
}

#[test]
fn a_router_built_for_api_0_3_routes() {
    let (_, host) = host();
    let batch = [
        MessageMeta { subject: Some("never".into()), ..MessageMeta::default() },
        MessageMeta { subject: Some("Hallo".into()), ..MessageMeta::default() },
    ];
    let decisions = host.route("trivial", CallContext::default(), &batch).unwrap();
    assert_eq!(decisions, [Decision::project("x", "never"), Decision::Skip]);
}
