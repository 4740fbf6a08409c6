//! The WebAssembly plugin host: provider adapters and routers, sandboxed.
//!
//! One wasmtime [`Engine`] compiles every component once (cached on disk, keyed by the
//! file's hash and the engine's compatibility hash) and runs each call in a fresh store
//! with an empty WASI context, a memory cap and an epoch deadline. A trap, timeout or
//! panic fails that call only; after [`QUARANTINE_AFTER`] consecutive failures the plugin
//! is quarantined until its file changes. [`PluginHost::reload`] rescans the plugin
//! directories: new and changed files are loaded, removed ones dropped, and calls already
//! running finish on the version they started with.
//!
//! Plugins are found in the bundled directory ([`bundled_dir`]) and then in the config's
//! `plugin_dirs`; a plugin in a later directory replaces one with the same id from an
//! earlier one, so a hosting provider can ship an improved adapter.

#![deny(missing_docs)]

mod api;
mod cache;
mod sandbox;
mod types;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::Serialize;
use tracing::{info, warn};
use wasmtime::component::Component;
use wasmtime::{Config, Engine, Store};

pub use api::domain_role;
pub use postfach_plugin_types::{
    Assignment, Decision, Folder, LoginForm, OAuth2Defaults, Quirks, Role as PluginRole, RoleChoice,
    RoleSource as PluginRoleSource, Security as PluginSecurity, Server, ServerDefaults,
};
pub use sandbox::{CallError, Limits};
pub use types::{CallContext, FolderNames, MessageMeta, ProjectLookup};

use cache::Cache;
use sandbox::State;

/// Consecutive failed calls after which a plugin is quarantined.
pub const QUARANTINE_AFTER: u32 = 5;

/// The plugin API versions this host implements (major.minor).
pub const SUPPORTED_API: &[&str] = &["0.1", "0.2", "0.3"];

/// What a plugin is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PluginKind {
    /// Knows a mail provider.
    ProviderAdapter,
    /// Assigns messages to projects.
    Router,
}

impl PluginKind {
    /// The name used in listings.
    pub fn as_str(self) -> &'static str {
        match self {
            PluginKind::ProviderAdapter => "provider-adapter",
            PluginKind::Router => "router",
        }
    }
}

/// Why a plugin file could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read: {0}")]
    Io(String),
    /// Not a valid component for this engine.
    #[error("not a valid WebAssembly component: {0}")]
    Compile(String),
    /// Built against an API version this host does not implement.
    #[error("built for postfach:plugin@{found}; this postfachd supports postfach:plugin@{supported}")]
    Version {
        /// The `postfach:plugin` version the plugin imports (`0.3.0`).
        found: String,
        /// The versions this host implements, as shown in the message (`0.1.x, 0.2.x`).
        supported: String,
    },
    /// Exports neither `route` (router) nor `roles` (provider adapter).
    #[error("not a Postfach plugin: it exports neither `roles` (provider adapter) nor `route` (router)")]
    NotAPlugin,
    /// Imports something the host does not offer, or exports the wrong signatures.
    #[error("does not fit this host: {0}")]
    Link(String),
    /// Its `id` call failed.
    #[error("its `id` call {0}")]
    Id(CallError),
    /// Its id is empty or has characters outside `[a-z0-9._-]`.
    #[error("reports the id {0:?}; ids must match [a-z0-9._-]+")]
    BadId(String),
    /// Another file in the same directory has the same id.
    #[error("has the id `{id}`, which {other} already provides")]
    Duplicate {
        /// The id both files report.
        id: String,
        /// Path of the file that keeps the id: the one that sorts first in the directory.
        other: String,
    },
}

/// Why the plugin host could not start: wasmtime refused the engine configuration (an
/// unsupported CPU, say). Plugins that fail to load are no such error; they are listed
/// with their reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot create the WebAssembly engine: {reason}")]
pub struct EngineError {
    /// wasmtime's words.
    pub reason: String,
}

/// Why a call could not be made or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    /// No plugin with this id is loaded.
    #[error("no plugin `{0}` is loaded")]
    NotLoaded(String),
    /// The plugin is of the other kind.
    #[error("plugin `{id}` is a {actual}, not a {wanted}")]
    WrongKind {
        /// Id of the plugin asked for.
        id: String,
        /// Its actual kind (`router` or `provider-adapter`).
        actual: &'static str,
        /// The kind the call needs.
        wanted: &'static str,
    },
    /// Quarantined after repeated failures.
    #[error("plugin `{id}` is quarantined until its file changes: {reason}")]
    Quarantined {
        /// Id of the quarantined plugin.
        id: String,
        /// The failure that tipped it over.
        reason: String,
    },
    /// The call failed.
    #[error("plugin `{id}` {error}")]
    Call {
        /// Id of the plugin whose call failed.
        id: String,
        /// How the call failed: timeout, memory, panic, trap, or an invalid answer.
        error: CallError,
    },
}

/// Failures are counted per exported function: a plugin whose `roles` always traps is
/// broken even if its `defaults` works.
#[derive(Debug, Default)]
struct Health {
    consecutive_failures: BTreeMap<&'static str, u32>,
    quarantined: Option<String>,
    last_error: Option<String>,
}

impl Health {
    fn worst(&self) -> u32 {
        self.consecutive_failures.values().copied().max().unwrap_or(0)
    }
}

/// A loaded plugin. Calls hold an `Arc` to it, so a reload never cuts one short.
pub struct Loaded {
    id: String,
    kind: PluginKind,
    api: String,
    path: PathBuf,
    digest: String,
    from_cache: bool,
    pre: api::Bindings,
    health: Mutex<Health>,
}

impl Loaded {
    fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn info(&self) -> PluginInfo {
        let h = self.health();
        PluginInfo {
            id: self.id.clone(),
            kind: Some(self.kind),
            api_version: Some(self.api.clone()),
            file: self.path.clone(),
            digest: self.digest.clone(),
            state: if h.quarantined.is_some() { "quarantined" } else { "ok" },
            reason: h.quarantined.clone().or_else(|| h.last_error.clone()),
            failures: h.worst(),
            from_cache: self.from_cache,
        }
    }
}

/// A row of `postfachd plugins`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PluginInfo {
    /// The plugin's id (the file stem when it could not be loaded).
    pub id: String,
    /// Adapter or router; `None` when loading failed.
    pub kind: Option<PluginKind>,
    /// The `postfach:plugin` version it was built for (`0.3.0`); `None` when loading failed.
    pub api_version: Option<String>,
    /// Path of the `.wasm` file.
    pub file: PathBuf,
    /// BLAKE3 hex digest of the file; a new digest lifts a quarantine.
    pub digest: String,
    /// `ok`, `quarantined` or `failed` (could not be loaded).
    pub state: &'static str,
    /// Why it is quarantined or failed, or its last error.
    pub reason: Option<String>,
    /// Consecutive failed calls of its most-failing function; at [`QUARANTINE_AFTER`] it is quarantined.
    pub failures: u32,
    /// Whether the compiled code came from the on-disk cache.
    pub from_cache: bool,
}

/// What a reload changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReloadReport {
    /// Newly loaded ids.
    pub added: Vec<String>,
    /// Ids whose file changed.
    pub changed: Vec<String>,
    /// Ids no longer provided.
    pub removed: Vec<String>,
    /// Files that failed to load, with why.
    pub failed: Vec<(PathBuf, LoadError)>,
}

#[derive(Default)]
struct Registry {
    loaded: BTreeMap<String, Arc<Loaded>>,
    failed: Vec<(PathBuf, String, LoadError)>,
}

/// Called when a plugin's state changes (loaded, quarantined), e.g. to record it.
pub type Observer = Box<dyn Fn(&PluginInfo) + Send + Sync>;

/// The plugin host: one engine, the loaded plugins, the limits.
pub struct PluginHost {
    engine: Engine,
    limits: Limits,
    dirs: Vec<PathBuf>,
    cache: Option<Cache>,
    registry: RwLock<Registry>,
    observer: Option<Observer>,
}

impl std::fmt::Debug for PluginHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginHost").field("dirs", &self.dirs).field("limits", &self.limits).finish_non_exhaustive()
    }
}

/// The directory of the plugins that ship with postfachd: `$POSTFACH_BUNDLED_PLUGINS`;
/// else `plugins/` next to the executable (where `make plugins` puts them) if it exists;
/// else `../lib/postfach/plugins` from it (`/usr/lib/postfach/plugins` for the installed
/// `/usr/bin/postfachd`).
pub fn bundled_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("POSTFACH_BUNDLED_PLUGINS") {
        return Some(PathBuf::from(dir));
    }
    let bin = std::env::current_exe().ok()?.parent()?.to_owned();
    let next_to = bin.join("plugins");
    if next_to.is_dir() {
        return Some(next_to);
    }
    let installed = bin.parent().map(|usr| usr.join("lib/postfach/plugins"));
    Some(installed.filter(|d| d.is_dir()).unwrap_or(next_to))
}

/// How a host is set up.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Directories to load `*.wasm` from, in order (later ones override earlier ids).
    pub dirs: Vec<PathBuf>,
    /// Where compiled components are cached; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// Time and memory budget of each call (`[plugins]` in `postfach.toml`).
    pub limits: Limits,
}

impl HostConfig {
    /// The bundled directory, then the config's `plugin_dirs`; the cache in the data dir.
    pub fn from_config(config: &postfach_config::Config) -> HostConfig {
        let mut dirs: Vec<PathBuf> = bundled_dir().into_iter().collect();
        dirs.extend(config.plugin_dirs());
        HostConfig {
            dirs,
            cache_dir: Some(match &config.daemon.plugins.cache_dir {
                Some(dir) => config.resolve(dir),
                None => config.data_dir().join("plugin-cache"),
            }),
            limits: limits(&config.daemon.plugins),
        }
    }
}

impl PluginHost {
    /// Creates the engine (with its epoch ticker) and loads every plugin.
    pub fn new(config: HostConfig, observer: Option<Observer>) -> Result<Arc<PluginHost>, EngineError> {
        let mut wasm = Config::new();
        wasm.wasm_component_model(true);
        wasm.epoch_interruption(true);
        let engine = Engine::new(&wasm).map_err(|e| EngineError { reason: e.to_string() })?;
        start_epoch_ticker(&engine);
        let host = Arc::new(PluginHost {
            cache: config.cache_dir.as_deref().map(|d| Cache::new(d, &engine)),
            engine,
            limits: config.limits,
            dirs: config.dirs,
            registry: RwLock::new(Registry::default()),
            observer,
        });
        let report = host.reload();
        for (path, error) in &report.failed {
            warn!(file = %path.display(), %error, "plugin not loaded");
        }
        Ok(host)
    }

    /// The directories plugins are loaded from.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Rescans the plugin directories. Unchanged files keep their loaded state
    /// (including quarantine); new and changed ones are loaded; missing ones dropped.
    pub fn reload(&self) -> ReloadReport {
        let before: BTreeMap<String, Arc<Loaded>> =
            self.registry.read().unwrap_or_else(|p| p.into_inner()).loaded.clone();
        let mut loaded: BTreeMap<String, (usize, Arc<Loaded>)> = BTreeMap::new();
        let mut failed = Vec::new();
        for (dir_index, dir) in self.dirs.iter().enumerate() {
            for path in wasm_files(dir) {
                let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                match self.load(&path, &before) {
                    Ok(plugin) => match loaded.get(&plugin.id) {
                        Some((index, other)) if *index == dir_index => {
                            let error =
                                LoadError::Duplicate { id: plugin.id.clone(), other: other.path.display().to_string() };
                            failed.push((path, stem, error));
                        }
                        Some((_, other)) => {
                            info!(plugin = %plugin.id, file = %path.display(), replaces = %other.path.display(),
                                "plugin overrides one from an earlier directory");
                            loaded.insert(plugin.id.clone(), (dir_index, plugin));
                        }
                        None => {
                            loaded.insert(plugin.id.clone(), (dir_index, plugin));
                        }
                    },
                    Err(error) => failed.push((path, stem, error)),
                }
            }
        }
        let loaded: BTreeMap<String, Arc<Loaded>> = loaded.into_iter().map(|(id, (_, p))| (id, p)).collect();
        let mut report = ReloadReport::default();
        for (id, p) in &loaded {
            match before.get(id) {
                None => report.added.push(id.clone()),
                Some(old) if old.digest != p.digest || old.path != p.path => report.changed.push(id.clone()),
                Some(_) => {}
            }
        }
        report.removed = before.keys().filter(|id| !loaded.contains_key(*id)).cloned().collect();
        report.failed = failed.iter().map(|(p, _, e)| (p.clone(), e.clone())).collect();
        for id in report.added.iter().chain(&report.changed) {
            if let Some(p) = loaded.get(id) {
                info!(plugin = %id, kind = p.kind.as_str(), api = %p.api, file = %p.path.display(), "plugin loaded");
                self.notify(&p.info());
            }
        }
        for id in &report.removed {
            info!(plugin = %id, "plugin removed");
        }
        let mut registry = self.registry.write().unwrap_or_else(|p| p.into_inner());
        registry.loaded = loaded;
        registry.failed = failed;
        report
    }

    fn load(&self, path: &Path, before: &BTreeMap<String, Arc<Loaded>>) -> Result<Arc<Loaded>, LoadError> {
        let bytes = std::fs::read(path).map_err(|e| LoadError::Io(e.to_string()))?;
        let digest = blake3::hash(&bytes).to_hex().to_string();
        if let Some(same) = before.values().find(|p| p.path == path && p.digest == digest) {
            return Ok(Arc::clone(same));
        }
        let (component, from_cache) = match &self.cache {
            Some(cache) => cache.load_or_compile(&self.engine, &bytes, &digest),
            None => Component::from_binary(&self.engine, &bytes).map(|c| (c, false)),
        }
        .map_err(|e| LoadError::Compile(first_line(&e)))?;
        let declared = api_version(&self.engine, &component)?;
        let kind = kind_of(&self.engine, &component)?;
        let major_minor = declared.as_deref().map(|v| v.split('.').take(2).collect::<Vec<_>>().join("."));
        let pre = api::Bindings::prepare(&self.engine, &component, kind == PluginKind::Router, major_minor.as_deref())
            .map_err(|e| LoadError::Link(format!("{e:#}").replace('\n', " ")))?;
        let api = declared.unwrap_or_else(|| pre.version().to_owned());
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let mut store = sandbox::store(&self.engine, &stem, CallContext::default(), self.limits);
        let id = pre.id(&mut store).map_err(|e| LoadError::Id(sandbox::classify(&e, &store, self.limits)))?;
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)) {
            return Err(LoadError::BadId(id));
        }
        Ok(Arc::new(Loaded { id, kind, api, path: path.to_owned(), digest, from_cache, pre, health: Mutex::default() }))
    }

    fn notify(&self, info: &PluginInfo) {
        if let Some(observer) = &self.observer {
            observer(info);
        }
    }

    /// Every plugin file: loaded ones and those that failed to load.
    pub fn list(&self) -> Vec<PluginInfo> {
        let registry = self.registry.read().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<PluginInfo> = registry.loaded.values().map(|p| p.info()).collect();
        out.extend(registry.failed.iter().map(|(path, stem, error)| PluginInfo {
            id: stem.clone(),
            kind: None,
            api_version: None,
            file: path.clone(),
            digest: std::fs::read(path).map(|b| blake3::hash(&b).to_hex().to_string()).unwrap_or_default(),
            state: "failed",
            reason: Some(error.to_string()),
            failures: 0,
            from_cache: false,
        }));
        out.sort_by(|a, b| a.id.cmp(&b.id).then(a.file.cmp(&b.file)));
        out
    }

    /// The loaded plugin with this id.
    pub fn get(&self, id: &str) -> Option<Arc<Loaded>> {
        self.registry.read().unwrap_or_else(|p| p.into_inner()).loaded.get(id).cloned()
    }

    /// The BLAKE3 hash of a loaded plugin's file.
    pub fn digest(&self, id: &str) -> Option<String> {
        self.get(id).map(|p| p.digest.clone())
    }

    /// Ids of the loaded plugins of a kind.
    pub fn ids(&self, kind: PluginKind) -> Vec<String> {
        let registry = self.registry.read().unwrap_or_else(|p| p.into_inner());
        registry.loaded.values().filter(|p| p.kind == kind).map(|p| p.id.clone()).collect()
    }

    /// Counts a call's outcome; the fifth consecutive failure of a function quarantines
    /// the plugin.
    fn record(&self, plugin: &Loaded, function: &'static str, result: Result<(), &CallError>) {
        let quarantined_now = {
            let mut h = plugin.health();
            match result {
                Ok(()) => {
                    h.consecutive_failures.insert(function, 0);
                    false
                }
                Err(e) => {
                    let n = {
                        let n = h.consecutive_failures.entry(function).or_insert(0);
                        *n += 1;
                        *n
                    };
                    h.last_error = Some(e.to_string());
                    if n >= QUARANTINE_AFTER && h.quarantined.is_none() {
                        h.quarantined = Some(format!("{n} consecutive failures of `{function}`, the last: {e}"));
                        true
                    } else {
                        false
                    }
                }
            }
        };
        if quarantined_now {
            warn!(plugin = %plugin.id, file = %plugin.path.display(), "plugin quarantined until its file changes");
            self.notify(&plugin.info());
        }
    }

    /// Runs one call in a fresh sandbox. Blocking: call it off the async runtime.
    fn call<R>(
        &self,
        id: &str,
        function: &'static str,
        kind: PluginKind,
        ctx: CallContext,
        f: impl FnOnce(&api::Bindings, &mut Store<State>) -> wasmtime::Result<Option<R>>,
        check: impl FnOnce(&R) -> Result<(), String>,
    ) -> Result<R, PluginError> {
        let plugin = self.get(id).ok_or_else(|| PluginError::NotLoaded(id.to_owned()))?;
        if plugin.kind != kind {
            return Err(PluginError::WrongKind {
                id: id.to_owned(),
                actual: plugin.kind.as_str(),
                wanted: kind.as_str(),
            });
        }
        if let Some(reason) = plugin.health().quarantined.clone() {
            return Err(PluginError::Quarantined { id: id.to_owned(), reason });
        }
        let mut store = sandbox::store(&self.engine, &plugin.id, ctx, self.limits);
        let started = std::time::Instant::now();
        let outcome = f(&plugin.pre, &mut store);
        metrics::histogram!("postfach_plugin_call_duration_seconds", "plugin" => plugin.id.clone(), "function" => function)
            .record(started.elapsed().as_secs_f64());
        let error = match outcome {
            Ok(Some(value)) => match check(&value) {
                Ok(()) => {
                    self.record(&plugin, function, Ok(()));
                    return Ok(value);
                }
                Err(why) => CallError::Invalid(why),
            },
            Ok(None) => {
                return Err(PluginError::WrongKind {
                    id: id.to_owned(),
                    actual: plugin.kind.as_str(),
                    wanted: kind.as_str(),
                });
            }
            Err(e) => sandbox::classify(&e, &store, self.limits),
        };
        warn!(plugin = %plugin.id, function, error = %error, "plugin call failed");
        metrics::counter!("postfach_plugin_failures_total", "plugin" => plugin.id.clone(), "function" => function)
            .increment(1);
        self.record(&plugin, function, Err(&error));
        Err(PluginError::Call { id: id.to_owned(), error })
    }

    /// Asks every adapter how well it fits; returns `(id, score)` sorted best first (ties
    /// by id), leaving out zero scores and failed calls.
    pub fn detect(&self, email: &str, imap_host: Option<&str>, server_id: &[(String, String)]) -> Vec<(String, u8)> {
        let mut scores: Vec<(String, u8)> = self
            .ids(PluginKind::ProviderAdapter)
            .into_iter()
            .filter_map(|id| {
                let score = self
                    .call(
                        &id,
                        "detect",
                        PluginKind::ProviderAdapter,
                        CallContext::default(),
                        |pre, s| pre.detect(s, email, imap_host, server_id),
                        |_| Ok(()),
                    )
                    .ok()?;
                (score > 0).then_some((id, score.min(100)))
            })
            .collect();
        scores.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        scores
    }

    /// An adapter's server settings for an address.
    pub fn defaults(&self, id: &str, email: &str) -> Result<Option<ServerDefaults>, PluginError> {
        self.call(
            id,
            "defaults",
            PluginKind::ProviderAdapter,
            CallContext::default(),
            |pre, s| pre.defaults(s, email),
            |_| Ok(()),
        )
    }

    /// An adapter's roles for a folder list. Choices naming unknown folders or giving a
    /// role twice make the answer invalid.
    pub fn roles(&self, id: &str, folders: &[Folder]) -> Result<Vec<RoleChoice>, PluginError> {
        self.call(
            id,
            "roles",
            PluginKind::ProviderAdapter,
            CallContext::default(),
            |pre, s| pre.roles(s, folders),
            |choices| {
                let mut seen_roles = std::collections::HashSet::new();
                let mut seen_folders = std::collections::HashSet::new();
                for c in choices {
                    if !folders.iter().any(|f| f.raw == c.folder) {
                        return Err(format!("a role for `{}`, which the server did not list", c.folder));
                    }
                    if !seen_folders.insert(c.folder.clone()) {
                        return Err(format!("two roles for `{}`", c.folder));
                    }
                    if let Some(role) = domain_role(c.role)
                        && !seen_roles.insert(role)
                    {
                        return Err(format!("the role {role} for two folders"));
                    }
                }
                Ok(())
            },
        )
    }

    /// An adapter's quirks: provider behaviour the sync and the outbox adapt to.
    pub fn quirks(&self, id: &str) -> Result<Quirks, PluginError> {
        self.call(id, "quirks", PluginKind::ProviderAdapter, CallContext::default(), |pre, s| pre.quirks(s), |_| Ok(()))
    }

    /// An adapter's names for the system folders it would create, as path segments;
    /// `None` from adapters built against API 0.1, which cannot say.
    pub fn folder_names(&self, id: &str) -> Result<Option<FolderNames>, PluginError> {
        self.call(
            id,
            "folder-names",
            PluginKind::ProviderAdapter,
            CallContext::default(),
            |pre, s| pre.folder_names(s),
            |names| match names {
                Some(list) if list.iter().any(|(_, path)| path.is_empty() || path.iter().any(|s| s.is_empty())) => {
                    Err("an empty folder name".to_owned())
                }
                _ => Ok(()),
            },
        )
    }

    /// An adapter's OAuth2 endpoints and scopes for an address (`auth = "oauth2"`
    /// accounts); `None` when the provider has no OAuth2 login for it, and from adapters
    /// built against API 0.1 or 0.2, which cannot say. An answer with an empty name, URL or
    /// scope list, or a URL other than `https://` (`http://` only to `localhost` or
    /// `127.0.0.1`, for tests), is invalid.
    pub fn oauth2(&self, id: &str, email: &str) -> Result<Option<OAuth2Defaults>, PluginError> {
        self.call(
            id,
            "oauth2",
            PluginKind::ProviderAdapter,
            CallContext::default(),
            |pre, s| pre.oauth2(s, email),
            |answer| answer.as_ref().map_or(Ok(()), check_oauth2),
        )
    }

    /// Routes a batch through one router: one decision per message.
    pub fn route(&self, id: &str, ctx: CallContext, batch: &[MessageMeta]) -> Result<Vec<Decision>, PluginError> {
        self.call(
            id,
            "route",
            PluginKind::Router,
            ctx,
            |pre, s| pre.route(s, batch),
            |decisions| {
                if decisions.len() != batch.len() {
                    return Err(format!("{} decisions for {} messages", decisions.len(), batch.len()));
                }
                decisions.iter().try_for_each(check_decision)
            },
        )
    }
}

/// The longest project id a router may answer, in bytes.
pub const MAX_PROJECT_BYTES: usize = 256;

/// The longest reason a router may give, in bytes.
pub const MAX_REASON_BYTES: usize = 4096;

/// Why a router's decision is unusable, if it is: a project id or reason beyond the
/// limits (stored with every message, shown in events and `route explain`), or an empty
/// project id.
fn check_decision(decision: &Decision) -> Result<(), String> {
    let Decision::Project(Assignment { project, reason }) = decision else { return Ok(()) };
    if project.trim().is_empty() {
        return Err("an empty project id".to_owned());
    }
    if project.len() > MAX_PROJECT_BYTES {
        return Err(format!("a project id of {} bytes (at most {MAX_PROJECT_BYTES})", project.len()));
    }
    if reason.len() > MAX_REASON_BYTES {
        return Err(format!("a reason of {} bytes (at most {MAX_REASON_BYTES})", reason.len()));
    }
    Ok(())
}

/// Why an adapter's OAuth2 answer is unusable, if it is.
fn check_oauth2(o: &OAuth2Defaults) -> Result<(), String> {
    if o.provider.trim().is_empty() {
        return Err("an OAuth2 provider without a name".to_owned());
    }
    let urls =
        [("auth_url", Some(&o.auth_url)), ("token_url", Some(&o.token_url)), ("device_url", o.device_url.as_ref())];
    for (field, url) in urls {
        if let Some(url) = url
            && !is_oauth2_url(url)
        {
            return Err(format!("the OAuth2 {field} {url:?} is not an https:// URL"));
        }
    }
    if o.scopes.is_empty() {
        return Err("no OAuth2 scopes".to_owned());
    }
    if let Some(scope) = o.scopes.iter().find(|s| s.is_empty() || s.contains(char::is_whitespace)) {
        return Err(format!("the OAuth2 scope {scope:?} is empty or has spaces"));
    }
    Ok(())
}

/// `https://` and a host, or `http://` to this machine (a test provider on loopback).
fn is_oauth2_url(url: &str) -> bool {
    if url.contains(char::is_whitespace) {
        return false;
    }
    if let Some(rest) = url.strip_prefix("https://") {
        return !rest.is_empty() && !rest.starts_with(['/', '?', '#', ':', '@']);
    }
    let Some(rest) = url.strip_prefix("http://") else { return false };
    ["127.0.0.1", "localhost"]
        .iter()
        .any(|host| rest.strip_prefix(host).is_some_and(|after| after.is_empty() || after.starts_with([':', '/'])))
}

fn wasm_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "wasm") && p.is_file())
        .collect();
    files.sort();
    files
}

/// The `postfach:plugin` version a component was built against, from its imports (none
/// when it imports nothing of the host).
fn api_version(engine: &Engine, component: &Component) -> Result<Option<String>, LoadError> {
    let ty = component.component_type();
    let mut found: Option<String> = None;
    for (name, _) in ty.imports(engine) {
        if let Some(rest) = name.strip_prefix("postfach:plugin/")
            && let Some((_, version)) = rest.split_once('@')
        {
            let major_minor: String = version.split('.').take(2).collect::<Vec<_>>().join(".");
            if !SUPPORTED_API.contains(&major_minor.as_str()) {
                return Err(LoadError::Version {
                    found: version.to_owned(),
                    supported: SUPPORTED_API.iter().map(|v| format!("{v}.x")).collect::<Vec<_>>().join(", "),
                });
            }
            found = Some(version.to_owned());
        }
    }
    Ok(found)
}

fn kind_of(engine: &Engine, component: &Component) -> Result<PluginKind, LoadError> {
    let ty = component.component_type();
    let exports: Vec<&str> = ty.exports(engine).map(|(name, _)| name).collect();
    if exports.contains(&"route") {
        Ok(PluginKind::Router)
    } else if exports.contains(&"roles") {
        Ok(PluginKind::ProviderAdapter)
    } else {
        Err(LoadError::NotAPlugin)
    }
}

fn first_line(e: &wasmtime::Error) -> String {
    format!("{e:#}").lines().next().unwrap_or("").to_owned()
}

/// Advances the engine's epoch every [`sandbox::EPOCH_TICK`] while the engine lives.
fn start_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    let spawned = std::thread::Builder::new().name("postfach-epoch".into()).spawn(move || {
        while let Some(engine) = weak.upgrade() {
            engine.increment_epoch();
            drop(engine);
            std::thread::sleep(sandbox::EPOCH_TICK);
        }
    });
    if let Err(e) = spawned {
        warn!(error = %e, "cannot start the plugin deadline thread; plugin calls will not time out");
    }
}

/// Limits from the daemon config.
pub fn limits(config: &postfach_config::PluginSettings) -> Limits {
    Limits {
        timeout: Duration::from_millis(config.call_timeout_ms),
        memory_bytes: (config.memory_limit_mib as usize).saturating_mul(1 << 20),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn google() -> OAuth2Defaults {
        OAuth2Defaults {
            provider: "google".into(),
            auth_url: "https://accounts.google.com/o/oauth2/v2/auth".into(),
            token_url: "https://oauth2.googleapis.com/token".into(),
            device_url: None,
            scopes: vec!["https://mail.google.com/".into()],
            scope_on_refresh: false,
        }
    }

    #[test]
    fn oauth2_answers_need_a_name_https_urls_and_scopes() {
        assert_eq!(check_oauth2(&google()), Ok(()));
        let tenant = OAuth2Defaults {
            auth_url: "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize".into(),
            device_url: Some("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/devicecode".into()),
            ..google()
        };
        assert_eq!(check_oauth2(&tenant), Ok(()));
        let loopback = OAuth2Defaults {
            auth_url: "http://127.0.0.1:8080/authorize".into(),
            token_url: "http://localhost/token".into(),
            ..google()
        };
        assert_eq!(check_oauth2(&loopback), Ok(()));

        let invalid = [
            OAuth2Defaults { provider: " ".into(), ..google() },
            OAuth2Defaults { auth_url: String::new(), ..google() },
            OAuth2Defaults { token_url: "http://oauth2.googleapis.com/token".into(), ..google() },
            OAuth2Defaults { token_url: "http://127.0.0.1.example.com/token".into(), ..google() },
            OAuth2Defaults { token_url: "http://localhostx/token".into(), ..google() },
            OAuth2Defaults { auth_url: "https:///auth".into(), ..google() },
            OAuth2Defaults { auth_url: "ftp://accounts.google.com/".into(), ..google() },
            OAuth2Defaults { device_url: Some(String::new()), ..google() },
            OAuth2Defaults { device_url: Some("http://example.com/device".into()), ..google() },
            OAuth2Defaults { scopes: vec![], ..google() },
            OAuth2Defaults { scopes: vec!["https://mail.google.com/".into(), String::new()], ..google() },
            OAuth2Defaults { scopes: vec!["openid email".into()], ..google() },
        ];
        for answer in invalid {
            assert!(check_oauth2(&answer).is_err(), "{answer:?}");
        }
        assert_eq!(
            check_oauth2(&OAuth2Defaults { token_url: "http://example.com/token".into(), ..google() }),
            Err("the OAuth2 token_url \"http://example.com/token\" is not an https:// URL".to_owned())
        );
    }
}
