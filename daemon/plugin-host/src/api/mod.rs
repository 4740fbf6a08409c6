//! Host bindings, one module per plugin API version (`plugin-sdk/wit/v<version>`), the
//! way Zed keeps its extension API: the newest version's module owns the conversions
//! between the generated types and the host's own ([`crate::types`]); an older version
//! binds its own worlds and reuses the newer types wherever its WIT is the same. A new
//! API version is a new `since_v0_x.rs` plus one arm in [`Bindings`]; plugins built
//! against older versions keep loading through their own module.

#[cfg(test)]
mod fuzz;
mod since_v0_1;
mod since_v0_2;
mod since_v0_3;

pub use since_v0_3::domain_role;

use wasmtime::component::Component;
use wasmtime::{Engine, Store};

use crate::sandbox::State;
use crate::types::{FolderNames, MessageMeta};
use postfach_plugin_types::{Decision, Folder, OAuth2Defaults, Quirks, RoleChoice, ServerDefaults};

/// A component prepared against the API version it was built for.
#[derive(Clone)]
pub enum Bindings {
    /// API 0.1.
    V0_1(since_v0_1::Pre),
    /// API 0.2.
    V0_2(since_v0_2::Pre),
    /// API 0.3.
    V0_3(since_v0_3::Pre),
}

/// Calls the same method on whichever version's bindings a plugin has.
macro_rules! dispatch {
    ($self:ident, $pre:ident => $call:expr) => {
        match $self {
            Bindings::V0_1($pre) => $call,
            Bindings::V0_2($pre) => $call,
            Bindings::V0_3($pre) => $call,
        }
    };
}

impl Bindings {
    /// Type-checks `component` against the router or adapter world of its API version
    /// (`major.minor`); when the version is unknown, the newest that fits.
    pub fn prepare(
        engine: &Engine,
        component: &Component,
        is_router: bool,
        api: Option<&str>,
    ) -> wasmtime::Result<Bindings> {
        match api {
            Some("0.1") => Ok(Bindings::V0_1(since_v0_1::prepare(engine, component, is_router)?)),
            Some("0.2") => Ok(Bindings::V0_2(since_v0_2::prepare(engine, component, is_router)?)),
            Some(_) => Ok(Bindings::V0_3(since_v0_3::prepare(engine, component, is_router)?)),
            None => since_v0_3::prepare(engine, component, is_router)
                .map(Bindings::V0_3)
                .or_else(|_| since_v0_2::prepare(engine, component, is_router).map(Bindings::V0_2))
                .or_else(|_| since_v0_1::prepare(engine, component, is_router).map(Bindings::V0_1)),
        }
    }

    /// The API version (`0.3.0`).
    pub fn version(&self) -> &'static str {
        match self {
            Bindings::V0_1(_) => since_v0_1::VERSION,
            Bindings::V0_2(_) => since_v0_2::VERSION,
            Bindings::V0_3(_) => since_v0_3::VERSION,
        }
    }

    /// Calls `id`.
    pub fn id(&self, store: &mut Store<State>) -> wasmtime::Result<String> {
        dispatch!(self, pre => pre.id(store))
    }

    /// Calls `route` (routers only).
    pub fn route(&self, store: &mut Store<State>, batch: &[MessageMeta]) -> wasmtime::Result<Option<Vec<Decision>>> {
        dispatch!(self, pre => pre.route(store, batch))
    }

    /// Calls `detect` (adapters only).
    pub fn detect(
        &self,
        store: &mut Store<State>,
        email: &str,
        imap_host: Option<&str>,
        server_id: &[(String, String)],
    ) -> wasmtime::Result<Option<u8>> {
        dispatch!(self, pre => pre.detect(store, email, imap_host, server_id))
    }

    /// Calls `defaults` (adapters only).
    pub fn defaults(&self, store: &mut Store<State>, email: &str) -> wasmtime::Result<Option<Option<ServerDefaults>>> {
        dispatch!(self, pre => pre.defaults(store, email))
    }

    /// Calls `roles` (adapters only).
    pub fn roles(&self, store: &mut Store<State>, folders: &[Folder]) -> wasmtime::Result<Option<Vec<RoleChoice>>> {
        dispatch!(self, pre => pre.roles(store, folders))
    }

    /// Calls `quirks` (adapters only).
    pub fn quirks(&self, store: &mut Store<State>) -> wasmtime::Result<Option<Quirks>> {
        dispatch!(self, pre => pre.quirks(store))
    }

    /// Calls `folder-names` (adapters only; `Some(None)` from API 0.1 adapters).
    pub fn folder_names(&self, store: &mut Store<State>) -> wasmtime::Result<Option<Option<FolderNames>>> {
        dispatch!(self, pre => pre.folder_names(store))
    }

    /// Calls `oauth2` (adapters only; `Some(None)` from API 0.1 and 0.2 adapters).
    pub fn oauth2(&self, store: &mut Store<State>, email: &str) -> wasmtime::Result<Option<Option<OAuth2Defaults>>> {
        dispatch!(self, pre => pre.oauth2(store, email))
    }
}
