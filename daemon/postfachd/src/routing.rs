//! Routing: running an account's router chain over its messages and recording the result.
//!
//! Routers run in the order of `[routing] plugins`; the first decision wins and later
//! routers do not see that message. A router that fails (trap, timeout, quarantine, a
//! project not in the project list) is recorded for each message it was asked about, and
//! routing goes on with the next router. After every sync pass the daemon routes the
//! messages whose locations changed (new mail, moves, mail gone from a folder) and every
//! message last routed by a different chain: the chain's key covers the router list, the
//! options, the plugin files and the project list, so changing any of them re-routes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock};

use crate::config::Account;
use crate::plugins::{CallContext, Decision, MessageMeta, PluginHost};
use crate::store::{Answer, ApplyStats, RouteInput, RouteResult, SharedStore, Step, StoreError};

/// Messages per router call.
const CALL_BATCH: usize = 1000;

/// An account's router chain, ready to run.
pub struct Chain {
    /// Router ids in order.
    pub plugins: Vec<String>,
    /// Options and project list for the host functions.
    pub ctx: CallContext,
    /// Identifies this chain's configuration (see the module docs).
    pub key: String,
    decided: Arc<RwLock<HashMap<String, String>>>,
    projects: Option<Arc<HashSet<String>>>,
}

/// The account's `[routing.options]` as the host hands them to plugins: strings as they
/// are, other values (tables, lists, numbers) as JSON.
pub fn options(account: &Account) -> BTreeMap<String, String> {
    account
        .file
        .routing
        .options
        .iter()
        .map(|(k, v)| {
            let text = match v {
                toml::Value::String(s) => s.clone(),
                other => serde_json::to_string(other).unwrap_or_default(),
            };
            (k.clone(), text)
        })
        .collect()
}

/// Builds the chain for an account. `project_of` answers from the store, and from the
/// decisions already made in the same run (a reply routed with its parent).
pub fn chain(
    account: &Account,
    host: &PluginHost,
    projects: Option<Arc<HashSet<String>>>,
    store: Option<SharedStore>,
) -> Chain {
    let plugins = account.file.routing.plugins.clone();
    let options = options(account);
    let mut key = blake3::Hasher::new();
    for id in &plugins {
        key.update(id.as_bytes());
        key.update(&[0]);
        key.update(host.digest(id).unwrap_or_default().as_bytes());
        key.update(&[0]);
    }
    for (k, v) in &options {
        key.update(k.as_bytes());
        key.update(&[1]);
        key.update(v.as_bytes());
        key.update(&[1]);
    }
    if let Some(p) = &projects {
        let mut sorted: Vec<&String> = p.iter().collect();
        sorted.sort();
        for project in sorted {
            key.update(project.as_bytes());
            key.update(&[2]);
        }
    }
    let decided: Arc<RwLock<HashMap<String, String>>> = Arc::default();
    let lookup_decided = Arc::clone(&decided);
    let project_of: crate::plugins::ProjectLookup = Arc::new(move |message_id: &str| {
        if let Some(p) = lookup_decided.read().ok().and_then(|d| d.get(message_id).cloned()) {
            return Some(p);
        }
        store.as_ref()?.project_of(message_id).ok().flatten()
    });
    Chain {
        plugins,
        ctx: CallContext { options, projects: projects.clone(), project_of: Some(project_of) },
        key: key.finalize().to_hex().to_string(),
        decided,
        projects,
    }
}

fn meta(m: &RouteInput) -> MessageMeta {
    MessageMeta {
        account: m.account.clone(),
        folder: m.folder.clone(),
        folder_path: m.folder_path.clone(),
        message_id: m.message_id.clone(),
        subject: m.subject.clone(),
        from: m.from.clone(),
        to: m.to.clone(),
        cc: m.cc.clone(),
        in_reply_to: m.in_reply_to.clone(),
        references: m.references.clone(),
        date: m.date,
        size: m.size,
        flags: m.flags.clone(),
        headers: Vec::new(),
    }
}

/// Runs the chain over `inputs`. Blocking (plugin calls).
pub fn run(host: &PluginHost, chain: &Chain, inputs: &[RouteInput]) -> Vec<RouteResult> {
    let mut results: Vec<RouteResult> = inputs
        .iter()
        .map(|m| RouteResult { local_id: m.local_id, folder: m.folder.clone(), steps: Vec::new(), winner: None })
        .collect();
    for plugin in &chain.plugins {
        let pending: Vec<usize> = (0..inputs.len()).filter(|&i| results[i].winner.is_none()).collect();
        for chunk in pending.chunks(CALL_BATCH) {
            let batch: Vec<MessageMeta> = chunk.iter().map(|&i| meta(&inputs[i])).collect();
            match host.route(plugin, chain.ctx.clone(), &batch) {
                Ok(decisions) => {
                    for (&i, decision) in chunk.iter().zip(decisions) {
                        let step = decide(chain, plugin, &inputs[i], decision, &mut results[i]);
                        results[i].steps.push(step);
                    }
                }
                Err(e) => {
                    let error = e.to_string();
                    for &i in chunk {
                        results[i].steps.push(Step {
                            plugin: plugin.clone(),
                            answer: Answer::Error,
                            project: None,
                            detail: Some(error.clone()),
                        });
                    }
                }
            }
        }
    }
    results
}

fn decide(chain: &Chain, plugin: &str, input: &RouteInput, decision: Decision, result: &mut RouteResult) -> Step {
    match decision {
        Decision::Skip => Step { plugin: plugin.to_owned(), answer: Answer::Skip, project: None, detail: None },
        Decision::Project { project, reason } => {
            // Routers check the list themselves; this keeps a careless one honest.
            if chain.projects.as_ref().is_some_and(|p| !p.contains(&project)) {
                return Step {
                    plugin: plugin.to_owned(),
                    answer: Answer::Error,
                    project: Some(project.clone()),
                    detail: Some(format!("project {project} is not in the project list")),
                };
            }
            if let (Some(id), Ok(mut decided)) = (&input.message_id, chain.decided.write()) {
                decided.insert(id.clone(), project.clone());
            }
            result.winner = Some((project.clone(), plugin.to_owned(), reason.clone()));
            Step { plugin: plugin.to_owned(), answer: Answer::Project, project: Some(project), detail: Some(reason) }
        }
    }
}

/// Routes what an account's last pass touched (plus everything routed by another chain)
/// and records the outcome. The plugin calls run on a blocking thread.
pub async fn route_account(
    store: &SharedStore,
    host: &Arc<PluginHost>,
    account: &Account,
    projects: Option<Arc<HashSet<String>>>,
    touched: Vec<i64>,
) -> Result<ApplyStats, StoreError> {
    let chain = chain(account, host, projects, Some(SharedStore::clone(store)));
    let key = chain.key.clone();
    let inputs = store.route_inputs(&account.id, &key, touched).await?;
    if inputs.is_empty() {
        return Ok(ApplyStats::default());
    }
    let host = Arc::clone(host);
    let results = tokio::task::spawn_blocking(move || run(&host, &chain, &inputs))
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?;
    store.apply_routes(&account.id, &key, results).await
}
