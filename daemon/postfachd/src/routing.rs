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
use crate::model::MessageId;
use crate::plugins::{Assignment, CallContext, Decision, MessageMeta, PluginHost};
use crate::store::{Answer, ApplyStats, RouteInput, RouteResult, Step, Store, StoreError};

/// Messages per call into a router plugin; longer lists are split into calls of this size.
const CALL_BATCH: usize = 1000;

/// An account's router chain, ready to run.
pub struct Chain {
    /// Router plugin ids from `[routing] plugins`, in the order they run.
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
    store: Option<Store>,
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
        Decision::Project(Assignment { project, reason }) => {
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
    store: &Store,
    host: &Arc<PluginHost>,
    account: &Account,
    projects: Option<Arc<HashSet<String>>>,
    touched: Vec<MessageId>,
) -> Result<ApplyStats, StoreError> {
    let chain = Arc::new(chain(account, host, projects, Some(Store::clone(store))));
    let (ids, upto) = store.route_candidates(&account.id, &chain.key, touched).await?;
    let mut stats = ApplyStats::default();
    // In slices, oldest first: a changed chain re-routes the whole account without holding
    // all of it in memory at once.
    for slice in ids.chunks(ROUTE_SLICE) {
        stats += route_batch(store, host, &chain, &account.id, slice.to_vec()).await?.0;
    }
    store.mark_routed(&account.id, &chain.key, upto).await?;
    Ok(stats)
}

/// Messages routed per slice by [`route_account`].
const ROUTE_SLICE: usize = 2000;

/// Routes the batches of a running pass as they are committed, in commit order, on its
/// own task: routing overlaps the download instead of following it. One chain serves
/// the whole pass, so a reply routed later in the pass sees its parent's decision.
pub struct BatchRouter {
    feed: tokio::sync::mpsc::UnboundedSender<Vec<MessageId>>,
    task: tokio::task::JoinHandle<BatchRouted>,
}

/// What a [`BatchRouter`] did.
#[derive(Debug, Default)]
pub struct BatchRouted {
    /// Assignments made, removed or changed.
    pub stats: ApplyStats,
    /// Messages settled: routed to a project, or undecided without a parent reference.
    /// The rest (a reply no router decided on) is routed again after the pass: its parent
    /// may be stored later in the pass (a reply in the inbox to mail in Sent).
    pub settled: HashSet<MessageId>,
    /// The first failure (the store, or a blocking task); routing stopped there.
    pub error: Option<String>,
}

impl BatchRouter {
    /// Starts the router task for an account's pass.
    pub fn start(
        store: &Store,
        host: &Arc<PluginHost>,
        account: &Account,
        projects: Option<Arc<HashSet<String>>>,
    ) -> BatchRouter {
        let (feed, mut batches) = tokio::sync::mpsc::unbounded_channel::<Vec<MessageId>>();
        let chain = Arc::new(chain(account, host, projects, Some(Store::clone(store))));
        let (store, host, account) = (Store::clone(store), Arc::clone(host), account.id.clone());
        let task = tokio::spawn(async move {
            let mut done = BatchRouted::default();
            while let Some(ids) = batches.recv().await {
                if done.error.is_some() {
                    continue;
                }
                match route_batch(&store, &host, &chain, &account, ids).await {
                    Ok((stats, settled)) => {
                        done.stats += stats;
                        done.settled.extend(settled);
                    }
                    Err(e) => done.error = Some(e.to_string()),
                }
            }
            done
        });
        BatchRouter { feed, task }
    }

    /// A sender for the ids of each committed batch.
    pub fn feed(&self) -> tokio::sync::mpsc::UnboundedSender<Vec<MessageId>> {
        self.feed.clone()
    }

    /// Routes what is still queued and returns what was done.
    pub async fn finish(self) -> BatchRouted {
        drop(self.feed);
        self.task
            .await
            .unwrap_or_else(|e| BatchRouted { error: Some(format!("routing task: {e}")), ..Default::default() })
    }
}

/// Routes exactly `ids` with `chain` (no search for messages routed by another chain:
/// the pass's final routing does that once); returns what changed and the messages
/// settled (see [`BatchRouted::settled`]).
async fn route_batch(
    store: &Store,
    host: &Arc<PluginHost>,
    chain: &Arc<Chain>,
    account: &str,
    ids: Vec<MessageId>,
) -> Result<(ApplyStats, Vec<MessageId>), StoreError> {
    let inputs = store.route_inputs_of(account, ids).await?;
    if inputs.is_empty() {
        return Ok((ApplyStats::default(), Vec::new()));
    }
    // Settled: decided, or without a parent whose later arrival could decide it.
    let orphans: HashSet<MessageId> =
        inputs.iter().filter(|m| m.in_reply_to.is_none() && m.references.is_empty()).map(|m| m.local_id).collect();
    let (host, run_chain) = (Arc::clone(host), Arc::clone(chain));
    let results = tokio::task::spawn_blocking(move || run(&host, &run_chain, &inputs))
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?;
    let settled =
        results.iter().filter(|r| r.winner.is_some() || orphans.contains(&r.local_id)).map(|r| r.local_id).collect();
    let stats = store.apply_routes(account, &chain.key, results).await?;
    Ok((stats, settled))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::plugins::{HostConfig, Limits};

    fn account(extra: &str) -> (tempfile::TempDir, Account) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mm.toml");
        let toml = format!("description = \"x\"\n[identity]\nemail = \"mm@x.de\"\n{extra}");
        std::fs::write(&file, toml).unwrap();
        let account = crate::config::load_account(&file, dir.path()).unwrap();
        (dir, account)
    }

    fn host(dir: &std::path::Path) -> Arc<PluginHost> {
        let limits = Limits { timeout: std::time::Duration::from_millis(100), memory_bytes: 1 << 20 };
        PluginHost::new(HostConfig { dirs: vec![dir.to_owned()], cache_dir: None, limits }, None).unwrap()
    }

    fn input(message_id: &str) -> RouteInput {
        RouteInput { local_id: MessageId(1), message_id: Some(message_id.into()), ..RouteInput::default() }
    }

    #[test]
    fn the_chain_key_follows_routers_options_and_the_project_list() {
        let (dir, plain) = account("[routing]\nplugins = [\"subject-tag\"]\n");
        let host = host(dir.path());
        let key = |a: &Account, p: Option<&[&str]>| {
            let projects = p.map(|p| Arc::new(p.iter().map(|s| (*s).to_owned()).collect::<HashSet<_>>()));
            chain(a, &host, projects, None).key
        };
        let base = key(&plain, None);
        assert_eq!(base, key(&plain, None), "stable");
        let (_d, other_router) = account("[routing]\nplugins = [\"sender-map\"]\n");
        let (_e, with_option) =
            account("[routing]\nplugins = [\"subject-tag\"]\n[routing.options]\n\"subject-tag.prefix\" = \"P\"\n");
        assert_ne!(base, key(&other_router, None));
        assert_ne!(base, key(&with_option, None));
        assert_ne!(base, key(&plain, Some(&["210-01"])));
        assert_ne!(key(&plain, Some(&["210-01"])), key(&plain, Some(&["210-01", "211-07"])));
    }

    #[test]
    fn a_project_outside_the_list_is_an_error_and_a_listed_one_wins() {
        let (dir, account) = account("");
        let host = host(dir.path());
        let projects = Some(Arc::new(HashSet::from(["210-01".to_owned()])));
        let chain = chain(&account, &host, projects, None);
        let mut result = RouteResult { local_id: MessageId(1), folder: String::new(), steps: Vec::new(), winner: None };
        let unknown = Decision::project("999-99", "guess");
        let step = decide(&chain, "r1", &input("a@x"), unknown, &mut result);
        assert_eq!((step.answer, result.winner.is_none()), (Answer::Error, true));
        assert!(step.detail.unwrap().contains("not in the project list"));
        let known = Decision::project("210-01", "tag");
        let step = decide(&chain, "r2", &input("a@x"), known, &mut result);
        assert_eq!(step.answer, Answer::Project);
        assert_eq!(result.winner, Some(("210-01".into(), "r2".into(), "tag".into())));
        // A reply in the same run sees its parent's decision before the store has it.
        let lookup = chain.ctx.project_of.as_ref().unwrap();
        assert_eq!(lookup("a@x"), Some("210-01".into()));
        assert_eq!(lookup("b@x"), None);
    }

    #[test]
    fn without_routers_nothing_is_decided() {
        let (dir, account) = account("");
        let host = host(dir.path());
        let chain = chain(&account, &host, None, None);
        let results = run(&host, &chain, &[input("a@x"), input("b@x")]);
        assert!(results.iter().all(|r| r.steps.is_empty() && r.winner.is_none()));
    }
}
