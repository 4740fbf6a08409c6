//! One plugin call's sandbox: a fresh store with an empty WASI context (no files, no
//! network, no environment, no stdio), a memory cap, a wall-clock deadline, and the host
//! functions' state. Errors are classified so the log and `postfachd plugins` can say
//! what happened: timeout, memory, panic (with its message) or another trap.

use std::time::Duration;

use wasmtime::component::ResourceTable;
use wasmtime::{Engine, ResourceLimiter, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::types::CallContext;

/// How often the engine's epoch advances; the granularity of call deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Log lines one call may write before the rest is dropped.
const MAX_LOG_LINES: u32 = 200;
/// Longest log line kept, in bytes.
const MAX_LOG_LINE: usize = 4096;

/// Per-call limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock budget of a call, instantiation included.
    pub timeout: Duration,
    /// Linear memory cap in bytes.
    pub memory_bytes: usize,
}

/// Log levels a plugin can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Finest detail; logged at `TRACE` under the target `postfach::plugin`.
    Trace,
    /// Diagnostics; logged at `DEBUG`.
    Debug,
    /// Normal events; logged at `INFO`.
    Info,
    /// Something odd but handled; logged at `WARN`.
    Warn,
    /// A failure; logged at `ERROR`. Text starting `panicked: ` becomes the call's panic message.
    Error,
}

/// The state of a store: WASI (empty), limits, and what the host functions need.
pub struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    memory: MemoryLimit,
    plugin_id: String,
    ctx: CallContext,
    panic: Option<String>,
    log_lines: u32,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

struct MemoryLimit {
    max_bytes: usize,
    exceeded: Option<usize>,
}

impl ResourceLimiter for MemoryLimit {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.exceeded = Some(desired);
            // Trap right away: a refused grow would make Rust's allocator abort anyway,
            // without saying why.
            return Err(wasmtime::Error::msg("memory limit exceeded"));
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

impl State {
    /// `host.log`: into the daemon's tracing output, tagged with the plugin id. A panic
    /// report from the SDK's hook is remembered for the error message.
    pub fn log(&mut self, level: LogLevel, message: &str) {
        if level == LogLevel::Error && message.starts_with("panicked: ") {
            self.panic = Some(message.trim_start_matches("panicked: ").to_owned());
        }
        self.log_lines += 1;
        if self.log_lines > MAX_LOG_LINES {
            if self.log_lines == MAX_LOG_LINES + 1 {
                tracing::warn!(plugin = %self.plugin_id, "plugin logs too much; dropping the rest of this call's lines");
            }
            return;
        }
        let mut text = message;
        if text.len() > MAX_LOG_LINE {
            let mut end = MAX_LOG_LINE;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text = &text[..end];
        }
        let plugin = &self.plugin_id;
        match level {
            LogLevel::Trace => tracing::trace!(target: "postfach::plugin", %plugin, "{text}"),
            LogLevel::Debug => tracing::debug!(target: "postfach::plugin", %plugin, "{text}"),
            LogLevel::Info => tracing::info!(target: "postfach::plugin", %plugin, "{text}"),
            LogLevel::Warn => tracing::warn!(target: "postfach::plugin", %plugin, "{text}"),
            LogLevel::Error => tracing::error!(target: "postfach::plugin", %plugin, "{text}"),
        }
    }

    /// `host.option`: the account's `"<plugin id>.<key>"` option.
    pub fn option(&self, key: &str) -> Option<String> {
        self.ctx.options.get(&format!("{}.{key}", self.plugin_id)).cloned()
    }

    /// `host.project-exists`: true for any project when no project list is configured.
    pub fn project_exists(&self, project: &str) -> bool {
        self.ctx.projects.as_ref().is_none_or(|p| p.contains(project))
    }

    /// `host.project-of`: the project a stored message (by Message-ID) is assigned to.
    pub fn project_of(&self, message_id: &str) -> Option<String> {
        self.ctx.project_of.as_ref().and_then(|f| f(message_id))
    }
}

/// A store for one call, with limits and deadline armed.
pub fn store(engine: &Engine, plugin_id: &str, ctx: CallContext, limits: Limits) -> Store<State> {
    let state = State {
        // No arguments, environment, preopened directories, network or stdio.
        wasi: WasiCtxBuilder::new().build(),
        table: ResourceTable::new(),
        memory: MemoryLimit { max_bytes: limits.memory_bytes, exceeded: None },
        plugin_id: plugin_id.to_owned(),
        ctx,
        panic: None,
        log_lines: 0,
    };
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.memory);
    let ticks = limits.timeout.as_millis().div_ceil(EPOCH_TICK.as_millis()).max(1) as u64;
    // One extra tick: the current one may be about to end.
    store.set_epoch_deadline(ticks + 1);
    store.epoch_deadline_trap();
    store
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The deadline passed (an endless loop, or very slow code).
    #[error("did not finish within {0} ms (plugins.call_timeout_ms)")]
    Timeout(u64),
    /// The memory cap was hit.
    #[error("exceeded its memory limit of {limit_mib} MiB (plugins.memory_limit_mib)")]
    Memory {
        /// The configured cap in MiB (`plugins.memory_limit_mib`).
        limit_mib: u64,
    },
    /// The plugin panicked; the message comes from the SDK's panic hook.
    #[error("panicked: {0}")]
    Panic(String),
    /// Another trap or host error.
    #[error("trapped: {0}")]
    Trap(String),
    /// The plugin answered something the host cannot use.
    #[error("returned an invalid result: {0}")]
    Invalid(String),
}

/// Classifies a failed call.
pub fn classify(error: &wasmtime::Error, store: &Store<State>, limits: Limits) -> CallError {
    if let Some(wasmtime::Trap::Interrupt) = error.downcast_ref::<wasmtime::Trap>() {
        return CallError::Timeout(limits.timeout.as_millis() as u64);
    }
    let state = store.data();
    if state.memory.exceeded.is_some() {
        return CallError::Memory { limit_mib: (limits.memory_bytes >> 20) as u64 };
    }
    if let Some(message) = &state.panic {
        return CallError::Panic(message.clone());
    }
    // The root cause first line is the useful part ("wasm trap: ...").
    let text = format!("{error:#}");
    CallError::Trap(text.lines().next().unwrap_or("unknown trap").to_owned())
}
