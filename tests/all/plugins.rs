//! The plugin host: sandbox proofs (an endless loop, unbounded allocation, a panic, an
//! import the host does not offer, a newer API version), quarantine, reload with calls in
//! flight, the compile cache, and the SDK's README examples built and loaded.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use postfach::plugins::{
    CallContext, CallError, Decision, Folder, HostConfig, Limits, MessageMeta, PluginError, PluginHost, PluginRole,
};
use postfach_test_harness::mail::Mail;
use postfach_test_harness::{DovecotConfig, MailboxSpec};
use serde_json::Value;

use crate::support::{Env, account_toml, bundled_plugins, dovecot, repo_root, sdk_example, test_plugin};

const T: Duration = Duration::from_secs(60);

fn host_with(files: &[(&Path, &str)]) -> (tempfile::TempDir, Arc<PluginHost>) {
    let dir = tempfile::tempdir().unwrap();
    for (src, name) in files {
        std::fs::copy(src, dir.path().join(name)).unwrap();
    }
    let host = PluginHost::new(
        HostConfig {
            dirs: vec![dir.path().to_owned()],
            cache_dir: None,
            limits: Limits { timeout: Duration::from_millis(100), memory_bytes: 32 << 20 },
        },
        None,
    )
    .unwrap();
    (dir, host)
}

fn folders() -> Vec<Folder> {
    ["INBOX", "Gesendet", "Papierkorb"]
        .iter()
        .map(|n| Folder {
            name: (*n).into(),
            raw: (*n).into(),
            delimiter: Some("/".into()),
            attributes: vec![],
            path: vec![(*n).into()],
        })
        .collect()
}

fn call_error(result: Result<Vec<postfach::plugins::RoleChoice>, PluginError>) -> CallError {
    match result {
        Err(PluginError::Call { error, .. }) => error,
        other => panic!("expected a failed call, got {other:?}"),
    }
}

#[test]
fn each_misbehaviour_fails_only_its_call_with_a_clear_reason() {
    let (_dir, host) = host_with(&[
        (&test_plugin("looper"), "looper.wasm"),
        (&test_plugin("hog"), "hog.wasm"),
        (&test_plugin("panicker"), "panicker.wasm"),
        (&bundled_plugins().join("generic.wasm"), "generic.wasm"),
    ]);
    let started = std::time::Instant::now();
    assert_eq!(call_error(host.roles("looper", &folders())), CallError::Timeout(100));
    assert!(started.elapsed() < Duration::from_secs(2), "the deadline stopped the loop");
    assert_eq!(call_error(host.roles("hog", &folders())), CallError::Memory { limit_mib: 32 });
    match call_error(host.roles("panicker", &folders())) {
        CallError::Panic(message) => assert!(message.starts_with("Ordnerliste kaputt: 3 Ordner at "), "{message}"),
        other => panic!("expected a panic, got {other:?}"),
    }
    // The host and other plugins are unharmed.
    let roles = host.roles("generic", &folders()).unwrap();
    assert!(roles.iter().any(|c| c.folder == "Gesendet" && c.role == PluginRole::Sent));
}

#[test]
fn quarantine_after_five_failures_lasts_until_the_file_changes() {
    let (dir, host) = host_with(&[(&test_plugin("looper"), "looper.wasm")]);
    for _ in 0..5 {
        assert_eq!(call_error(host.roles("looper", &folders())), CallError::Timeout(100));
    }
    let started = std::time::Instant::now();
    match host.roles("looper", &folders()) {
        Err(PluginError::Quarantined { reason, .. }) => {
            assert!(
                reason.contains("5 consecutive failures of `roles`") && reason.contains("did not finish within 100 ms"),
                "{reason}"
            );
        }
        other => panic!("expected quarantine, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_millis(50), "a quarantined plugin is not run");
    let info = host.list().into_iter().find(|p| p.id == "looper").unwrap();
    assert_eq!(info.state, "quarantined");

    // An unchanged file stays quarantined across a reload; a changed one starts afresh.
    host.reload();
    assert!(matches!(host.roles("looper", &folders()), Err(PluginError::Quarantined { .. })));
    let path = dir.path().join("looper.wasm");
    let mut bytes = std::fs::read(&path).unwrap();
    // A component custom section (id 0) named "v2": same code, different file.
    bytes.extend_from_slice(&[0, 4, 2, b'v', b'2', 0]);
    std::fs::write(&path, bytes).unwrap();
    let report = host.reload();
    assert_eq!(report.changed, ["looper"]);
    assert_eq!(call_error(host.roles("looper", &folders())), CallError::Timeout(100));
}

#[test]
fn calls_in_flight_keep_their_version_with_a_generous_deadline() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(test_plugin("slow-router-v1"), dir.path().join("slow.wasm")).unwrap();
    let host = PluginHost::new(
        HostConfig {
            dirs: vec![dir.path().to_owned()],
            cache_dir: None,
            limits: Limits { timeout: Duration::from_secs(5), memory_bytes: 32 << 20 },
        },
        None,
    )
    .unwrap();
    let batch = vec![MessageMeta::default()];
    let h = Arc::clone(&host);
    let b = batch.clone();
    // The router asks the host for a project as it starts: that is the signal.
    let (started, running) = std::sync::mpsc::channel::<()>();
    let started = std::sync::Mutex::new(started);
    let ctx = CallContext {
        project_of: Some(Arc::new(move |_: &str| {
            let _ = started.lock().unwrap().send(());
            None
        })),
        ..CallContext::default()
    };
    let in_flight = std::thread::spawn(move || h.route("slow-router", ctx, &b));
    running.recv_timeout(Duration::from_secs(10)).expect("the call to start");
    let tmp = dir.path().join(".slow.wasm.tmp");
    std::fs::copy(test_plugin("slow-router-v2"), &tmp).unwrap();
    std::fs::rename(&tmp, dir.path().join("slow.wasm")).unwrap();
    assert_eq!(host.reload().changed, ["slow-router"]);
    let project = |r: Result<Vec<Decision>, PluginError>| match r.unwrap().pop() {
        Some(Decision::Project(a)) => a.project,
        other => panic!("{other:?}"),
    };
    assert_eq!(project(in_flight.join().unwrap()), "v1", "the call that started on v1 finished on v1");
    assert_eq!(project(host.route("slow-router", CallContext::default(), &batch)), "v2");
}

#[test]
fn compiled_plugins_are_cached_and_a_corrupt_entry_is_rebuilt() {
    let env = Env::new();
    let cache = env.path().join("cache");
    std::fs::write(
        env.path().join("postfach.toml"),
        format!("data_dir = \"data\"\n[plugins]\ncache_dir = \"{}\"\n", cache.display()),
    )
    .unwrap();
    let listing = |env: &Env| -> Vec<Value> { env.json(&["plugins"]).as_array().unwrap().clone() };
    let first = listing(&env);
    let gmail = |l: &[Value]| l.iter().find(|p| p["id"] == "gmail").cloned().unwrap();
    assert_eq!(gmail(&first)["from_cache"], false);
    assert_eq!(gmail(&listing(&env))["from_cache"], true, "a restart does not recompile");
    // Damage every cache entry: the checksum catches it and the plugin is compiled again.
    for entry in std::fs::read_dir(&cache).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "cwasm") {
            let mut bytes = std::fs::read(&path).unwrap();
            let n = bytes.len();
            bytes[n / 2] ^= 0xff;
            std::fs::write(&path, bytes).unwrap();
        }
    }
    let again = listing(&env);
    assert_eq!(gmail(&again)["from_cache"], false);
    assert_eq!(gmail(&again)["state"], "ok");
}

#[test]
fn sandbox_proofs_in_the_running_daemon() {
    // Every account keeps syncing while its adapter loops, hogs memory, panics or cannot
    // be loaded at all.
    let users = ["looper@x.de", "hog@x.de", "panicker@x.de", "ok@x.de"];
    let dv = dovecot(DovecotConfig::default().mailbox(MailboxSpec::special("Gesendet", "\\Sent")), &users);
    for u in users {
        dv.client(u).unwrap().append("INBOX", &[], None, &Mail::new(1, &format!("Post für {u}")).to_bytes()).unwrap();
    }
    let env = Env::new();
    let plugins = env.plugin_dir();
    for name in ["looper", "hog", "panicker", "bad-import", "future-version"] {
        std::fs::copy(test_plugin(name), plugins.join(format!("{name}.wasm"))).unwrap();
    }
    for u in ["looper", "hog", "panicker"] {
        let toml =
            format!("provider = \"{u}\"\n{}", account_toml(&dv, &format!("{u}@x.de"), "[sync]\ninterval_secs = 1\n"));
        env.write_account(u, &toml);
    }
    env.write_account("ok", &account_toml(&dv, "ok@x.de", "[sync]\ninterval_secs = 1\n"));
    let daemon = env.daemon();

    let state = |id: &str| env.json(&["plugins"]).as_array().unwrap().iter().find(|p| p["id"] == id).cloned();
    for (id, why) in [
        ("looper", "did not finish within 100 ms"),
        ("hog", "exceeded its memory limit of 32 MiB"),
        ("panicker", "panicked: Ordnerliste kaputt: 2 Ordner"),
    ] {
        let p = daemon.wait_for(&format!("{id} quarantined"), T, || state(id).filter(|p| p["state"] == "quarantined"));
        assert!(p["reason"].as_str().unwrap().contains(why), "{id}: {p:#}");
    }
    let bad = state("bad-import").unwrap();
    assert_eq!(bad["state"], "failed");
    assert!(bad["reason"].as_str().unwrap().contains("acme:evil/network"), "{bad:#}");
    let future = state("future-version").unwrap();
    assert_eq!(future["state"], "failed");
    assert!(
        future["reason"]
            .as_str()
            .unwrap()
            .contains("built for postfach:plugin@9.0.0; this postfachd supports postfach:plugin@0.1.x, 0.2.x, 0.3.x"),
        "{future:#}"
    );
    for u in ["looper", "hog", "panicker", "ok"] {
        daemon.wait_for(&format!("{u} synced"), T, || {
            (env.account(u)["state"] == "idle" && env.messages(u).len() == 1).then_some(())
        });
    }
    // Roles fell back to attributes; the account says why.
    let folders = env.json(&["folders", "panicker"]);
    assert!(folders.as_array().unwrap().iter().any(|f| f["name"] == "Gesendet" && f["role_source"] == "attribute"));
    let e = daemon.wait_for("looper's warning", T, || {
        env.account("looper")["last_error"]
            .as_str()
            .filter(|e| e.contains("plugin `looper` is quarantined"))
            .map(str::to_owned)
    });
    assert!(e.contains("folder roles from SPECIAL-USE attributes instead"), "{e}");
    let log = daemon.log();
    assert!(log.contains("Ordnerliste kaputt"), "the panic message reaches the log");
    assert!(log.contains("plugin=panicker"), "with the plugin id");
}

#[test]
fn a_plugin_dropped_into_the_plugin_dir_is_loaded_without_restart() {
    let dv = dovecot(DovecotConfig::default().mailbox(MailboxSpec::new("Sent Messages")), &["max@icloud.com"]);
    dv.client("max@icloud.com").unwrap().append("INBOX", &[], None, &Mail::new(1, "Hallo").to_bytes()).unwrap();
    let env = Env::new();
    // Only the config's own plugin dir (still empty) and no bundled plugins.
    let plugins = env.plugin_dir();
    env.write_account(
        "mm",
        &format!(
            "provider = \"icloud\"\n{}",
            account_toml(
                &dv,
                "max@icloud.com",
                "[sync]\nretry_initial_secs = 1\nretry_max_secs = 1\nmax_failures = 100\n"
            )
        ),
    );
    let empty = tempfile::tempdir().unwrap();
    let mut daemon = env.daemon_with_env(&[("POSTFACH_BUNDLED_PLUGINS", empty.path().to_str().unwrap())]);
    let e = daemon.wait_for("no such adapter", T, || {
        env.account("mm")["last_error"]
            .as_str()
            .filter(|e| e.contains("names no loaded provider adapter"))
            .map(str::to_owned)
    });
    assert!(e.contains("provider = \"icloud\""), "{e}");
    let tmp = plugins.join(".icloud.wasm.tmp");
    std::fs::copy(bundled_plugins().join("icloud.wasm"), &tmp).unwrap();
    std::fs::rename(&tmp, plugins.join("icloud.wasm")).unwrap();
    daemon.wait_for("synced with the new adapter", T, || {
        (env.account("mm")["state"] == "idle" && env.account("mm")["provider"] == "icloud").then_some(())
    });
    let folders = env.json(&["folders", "mm"]);
    assert!(folders.as_array().unwrap().iter().any(|f| f["name"] == "Sent Messages" && f["role"] == "sent"));
    assert!(daemon.stop());
}

#[test]
fn readme_examples_build_and_load() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    for example in ["minimal_adapter", "minimal_router"] {
        let source = std::fs::read_to_string(repo_root().join(format!("plugin-sdk/examples/{example}.rs"))).unwrap();
        // The README shows the example up to its tests, verbatim.
        let shown = source.split("\n#[cfg(test)]").next().unwrap().trim_end();
        assert!(readme.contains(shown), "README.md does not show plugin-sdk/examples/{example}.rs as it is");
    }
    let adapter = sdk_example("minimal_adapter", "provider-adapter");
    let router = sdk_example("minimal_router", "router");
    let (_dir, host) = host_with(&[(&adapter, "muster-mail.wasm"), (&router, "project-tag.wasm")]);
    assert_eq!(host.detect("max@muster-mail.de", None, &[]), [("muster-mail".to_owned(), 100)]);
    let mut f = folders();
    f.push(Folder {
        name: "Ausgang".into(),
        raw: "Ausgang".into(),
        delimiter: None,
        attributes: vec![],
        path: vec!["Ausgang".into()],
    });
    let roles = host.roles("muster-mail", &f).unwrap();
    assert!(roles.iter().any(|c| c.folder == "Ausgang" && c.role == PluginRole::Sent), "{roles:?}");
    let ctx = CallContext { projects: Some(Arc::new(["123-45".to_owned()].into())), ..CallContext::default() };
    let batch = vec![
        MessageMeta { subject: Some("[Projekt 123-45] Pläne".into()), ..MessageMeta::default() },
        MessageMeta { subject: Some("Hallo".into()), ..MessageMeta::default() },
    ];
    let decisions = host.route("project-tag", ctx, &batch).unwrap();
    assert_eq!(decisions, [Decision::project("123-45", "subject tag [Projekt 123-45]"), Decision::Skip]);
}
