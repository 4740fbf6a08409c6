//! `postfachd projects`, `postfachd route explain`, `postfachd route dry-run`.
#![allow(clippy::print_stderr)]

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use super::output::{self, Table, clip};
use super::{CliError, load_account, open_store, plugin_host};
use crate::config::Config;
use crate::model::MessageId;
use crate::plugins::{HostConfig, PluginHost, PluginKind};
use crate::routing;
use crate::store::{self, Answer, Store};

/// One line of `postfachd projects --json`.
#[derive(Debug, Serialize)]
struct ProjectJson {
    project: String,
    name: Option<String>,
    account: String,
    messages: u64,
}

/// Messages per project and account.
pub async fn projects(config: &Config, json: bool) -> Result<(), CliError> {
    let store = open_store(config).await?;
    let names = config.projects()?.unwrap_or_default();
    let rows: Vec<ProjectJson> = store
        .projects()
        .await?
        .into_iter()
        .map(|(project, account, messages)| ProjectJson {
            name: names.0.get(&project).cloned(),
            project,
            account,
            messages,
        })
        .collect();
    if json {
        output::json(&rows);
        return Ok(());
    }
    let mut table = Table::new(&["PROJECT", "NAME", "ACCOUNT", "MESSAGES"]);
    for r in &rows {
        table.row(vec![
            r.project.clone(),
            r.name.clone().unwrap_or_default(),
            r.account.clone(),
            r.messages.to_string(),
        ]);
    }
    table.print();
    Ok(())
}

/// Which routers ran for a message, what each answered, and which won.
pub async fn explain(config: &Config, local_id: i64, json: bool) -> Result<(), CliError> {
    let store = open_store(config).await?;
    let id = MessageId(local_id);
    let Some(store::Trace { account, folder, at, steps, manual }) = store.trace(id).await? else {
        return Err(CliError::NotRouted(id));
    };
    let assignment = store.assignments(vec![id]).await?.remove(&id);
    if json {
        output::json(&serde_json::json!({
            "local_id": local_id,
            "account": account,
            "folder": folder,
            "routed_at": at.rfc3339(),
            "steps": steps,
            "project": assignment.as_ref().map(|a| &a.0),
            "plugin": assignment.as_ref().map(|a| &a.1),
            "manual": manual.as_ref().map(|m| serde_json::json!({
                "project": m.project, "user": m.user, "at": m.at.rfc3339(),
            })),
        }));
        return Ok(());
    }
    let subject =
        store.message_summaries(vec![id]).await?.into_iter().next().and_then(|m| m.subject).unwrap_or_default();
    output::line(&format!("message {local_id} in {account}: \"{subject}\""));
    output::line(&format!(
        "routed {} as seen in folder \"{}\"",
        at.rfc3339().unwrap_or_default(),
        folder.unwrap_or_default()
    ));
    if steps.is_empty() {
        output::line("no routers are configured for this account ([routing] plugins)");
    }
    for (i, s) in steps.iter().enumerate() {
        let won = s.answer == Answer::Project && assignment.as_ref().is_some_and(|a| a.1 == s.plugin);
        let what = match s.answer {
            Answer::Project => {
                format!("project {} ({})", s.project.as_deref().unwrap_or(""), s.detail.as_deref().unwrap_or(""))
            }
            Answer::Error => format!("error: {}", s.detail.as_deref().unwrap_or("")),
            Answer::Skip => "skip".to_owned(),
        };
        output::line(&format!("  {}. {}: {what}{}", i + 1, s.plugin, if won { "  <- wins" } else { "" }));
    }
    if let Some(m) = &manual {
        let what = m.project.as_deref().map_or_else(|| "no project".to_owned(), |p| format!("project {p}"));
        output::line(&format!(
            "  manual: {what}, set by {} at {}  <- wins over the routers",
            m.user,
            m.at.rfc3339().unwrap_or_default()
        ));
    }
    match assignment {
        Some((project, plugin)) => output::line(&format!("assigned to {project} by {plugin}")),
        None => output::line("not assigned to any project"),
    }
    Ok(())
}

/// One line of `postfachd route dry-run --json`.
#[derive(Debug, Serialize)]
struct DryRunJson {
    local_id: i64,
    subject: Option<String>,
    change: &'static str,
    current: Option<String>,
    proposed: Option<String>,
    plugin: Option<String>,
    reason: Option<String>,
    errors: Vec<String>,
}

/// Replays an account's stored messages through its chain (optionally with a router
/// file replacing the installed one of the same id) and prints what would change.
pub async fn dry_run(config: &Config, id: &str, plugin: Option<&Path>, json: bool) -> Result<(), CliError> {
    let mut account = load_account(config, id).await?;
    let store = open_store(config).await?;
    let (host, _dir) = match plugin {
        None => (plugin_host(config).await?, None),
        Some(file) => {
            let (host, dir, plugin_id) = host_with_file(config, file).await?;
            if !account.file.routing.plugins.contains(&plugin_id) {
                account.file.routing.plugins.push(plugin_id);
            }
            (host, Some(dir))
        }
    };
    let projects = config.projects()?.map(|p| p.numbers());
    let inputs = store.all_route_inputs(&account.id).await?;
    let current = store.assignments(inputs.iter().map(|m| m.local_id).collect()).await?;
    let manual = store.manual_projects(&account.id).await?;
    let (s, acct) = (Store::clone(&store), account.clone());
    let rows = tokio::task::spawn_blocking(move || -> Result<Vec<DryRunJson>, CliError> {
        let chain = routing::chain(&acct, &host, projects, Some(s));
        let results = routing::run(&host, &chain, &inputs);
        Ok(inputs
            .iter()
            .zip(results)
            .map(|(m, r)| {
                let now = current.get(&m.local_id).map(|a| a.0.clone());
                if let Some(kept) = manual.get(&m.local_id) {
                    // A person's assignment is never overridden; say so instead of a proposal.
                    return DryRunJson {
                        local_id: m.local_id.0,
                        subject: m.subject.clone(),
                        change: "manual",
                        current: now,
                        proposed: kept.project.clone(),
                        plugin: Some(crate::store::MANUAL.to_owned()),
                        reason: Some(format!("set by {}", kept.user)),
                        errors: Vec::new(),
                    };
                }
                let next = r.winner.as_ref().map(|w| w.0.clone());
                let change = match (&now, &next) {
                    (None, None) => "none",
                    (None, Some(_)) => "routed",
                    (Some(_), None) => "unrouted",
                    (Some(a), Some(b)) if a != b => "reassigned",
                    _ => "unchanged",
                };
                DryRunJson {
                    local_id: m.local_id.0,
                    subject: m.subject.clone(),
                    change,
                    current: now,
                    proposed: next,
                    plugin: r.winner.as_ref().map(|w| w.1.clone()),
                    reason: r.winner.as_ref().map(|w| w.2.clone()),
                    errors: r
                        .steps
                        .iter()
                        .filter(|s| s.answer == Answer::Error)
                        .map(|s| format!("{}: {}", s.plugin, s.detail.as_deref().unwrap_or("")))
                        .collect(),
                }
            })
            .collect())
    })
    .await??;
    if json {
        output::json(&rows);
        return Ok(());
    }
    let mut table = Table::new(&["ID", "SUBJECT", "NOW", "WOULD BE", "BY"]);
    for r in rows.iter().filter(|r| matches!(r.change, "routed" | "unrouted" | "reassigned")) {
        table.row(vec![
            r.local_id.to_string(),
            clip(r.subject.as_deref().unwrap_or(""), 40),
            r.current.clone().unwrap_or_else(|| "-".into()),
            r.proposed.clone().unwrap_or_else(|| "-".into()),
            clip(&format!("{}: {}", r.plugin.as_deref().unwrap_or("-"), r.reason.as_deref().unwrap_or("")), 60),
        ]);
    }
    table.print();
    let count = |c: &str| rows.iter().filter(|r| r.change == c).count();
    output::line(&format!(
        "{} messages: {} would be routed, {} unrouted, {} reassigned, {} unchanged, {} stay without a project, {} assigned by hand (nothing was written)",
        rows.len(),
        count("routed"),
        count("unrouted"),
        count("reassigned"),
        count("unchanged"),
        count("none"),
        count("manual")
    ));
    let errors: usize = rows.iter().map(|r| r.errors.len()).sum();
    if errors > 0 {
        let first = rows.iter().flat_map(|r| r.errors.iter()).next().cloned().unwrap_or_default();
        eprintln!("{errors} router errors, e.g. {first}");
    }
    Ok(())
}

/// A plugin host that also loads `file` (overriding an installed plugin with its id).
async fn host_with_file(
    config: &Config,
    file: &Path,
) -> Result<(Arc<PluginHost>, tempfile::TempDir, String), CliError> {
    let problem = |problem: String| CliError::RouterFile { path: file.to_owned(), problem };
    let dir = tempfile::tempdir().map_err(|e| problem(format!("cannot create a temporary directory for it: {e}")))?;
    let name = file.file_name().ok_or_else(|| problem("is not a file".into()))?;
    std::fs::copy(file, dir.path().join(name)).map_err(|e| problem(e.to_string()))?;
    let mut host_config = HostConfig::from_config(config);
    host_config.dirs.push(dir.path().to_owned());
    let host = tokio::task::spawn_blocking(move || PluginHost::new(host_config, None)).await??;
    let loaded = host.list().into_iter().find(|p| p.file.starts_with(dir.path()));
    match loaded {
        Some(p) if p.state == "ok" && p.kind == Some(PluginKind::Router) => Ok((host, dir, p.id)),
        Some(p) if p.state == "ok" => Err(problem("is a provider adapter, not a router".into())),
        Some(p) => Err(problem(p.reason.unwrap_or_default())),
        None => Err(problem("was not loaded".into())),
    }
}
