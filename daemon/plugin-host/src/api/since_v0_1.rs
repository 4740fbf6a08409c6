//! Plugin API 0.1 (`plugin-sdk/wit/v0.1`): plugins built before `folder-names` existed.
//! Its host interface is the newest version's own (`with`, the WIT is the same); its types
//! are generated anew, so this module converts them to and from the newest's, and that
//! module does the rest. An adapter of this version names no folders and knows no OAuth2
//! endpoints.

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, Store};

use super::since_v0_3 as latest;
use crate::sandbox::State;
use crate::types::{FolderNames, MessageMeta};
use postfach_plugin_types::{Decision, Folder, OAuth2Defaults, Quirks, RoleChoice, ServerDefaults};

/// The package version these bindings implement.
pub const VERSION: &str = "0.1.0";

mod router {
    wasmtime::component::bindgen!({
        world: "router",
        path: "../../plugin-sdk/wit/v0.1",
        with: { "postfach:plugin/host": crate::api::since_v0_3::router::postfach::plugin::host },
    });
}

mod adapter {
    wasmtime::component::bindgen!({
        world: "provider-adapter",
        path: "../../plugin-sdk/wit/v0.1",
        with: {
            "postfach:plugin/types": super::router::postfach::plugin::types,
            "postfach:plugin/host": crate::api::since_v0_3::router::postfach::plugin::host,
        },
    });
}

use router::postfach::plugin::types as wit;

impl wit::Host for State {}

/// A component checked against one of the 0.1 worlds and ready to instantiate.
#[derive(Clone)]
pub enum Pre {
    /// A router.
    Router(router::RouterPre<State>),
    /// A provider adapter.
    Adapter(adapter::ProviderAdapterPre<State>),
}

/// Links WASI (empty) and the host interface for `component` and type-checks it against
/// the router or the adapter world of 0.1.
pub fn prepare(engine: &Engine, component: &Component, is_router: bool) -> wasmtime::Result<Pre> {
    let mut linker: Linker<State> = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    if is_router {
        router::Router::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)?;
        Ok(Pre::Router(router::RouterPre::new(linker.instantiate_pre(component)?)?))
    } else {
        adapter::ProviderAdapter::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)?;
        Ok(Pre::Adapter(adapter::ProviderAdapterPre::new(linker.instantiate_pre(component)?)?))
    }
}

impl Pre {
    /// Calls `id`.
    pub fn id(&self, store: &mut Store<State>) -> wasmtime::Result<String> {
        match self {
            Pre::Router(pre) => pre.instantiate(&mut *store)?.call_id(store),
            Pre::Adapter(pre) => pre.instantiate(&mut *store)?.call_id(store),
        }
    }

    /// Calls `route` (routers only).
    pub fn route(&self, store: &mut Store<State>, batch: &[MessageMeta]) -> wasmtime::Result<Option<Vec<Decision>>> {
        let Pre::Router(pre) = self else { return Ok(None) };
        let batch = batch_to_v0_1(latest::encode(batch));
        let decisions = pre.instantiate(&mut *store)?.call_route(store, &batch)?;
        Ok(Some(decisions.into_iter().map(|d| latest::decision(decision_from_v0_1(d))).collect()))
    }

    /// Calls `detect` (adapters only).
    pub fn detect(
        &self,
        store: &mut Store<State>,
        email: &str,
        imap_host: Option<&str>,
        server_id: &[(String, String)],
    ) -> wasmtime::Result<Option<u8>> {
        let Pre::Adapter(pre) = self else { return Ok(None) };
        Ok(Some(pre.instantiate(&mut *store)?.call_detect(store, email, imap_host, server_id)?))
    }

    /// Calls `defaults` (adapters only).
    pub fn defaults(&self, store: &mut Store<State>, email: &str) -> wasmtime::Result<Option<Option<ServerDefaults>>> {
        let Pre::Adapter(pre) = self else { return Ok(None) };
        let d = pre.instantiate(&mut *store)?.call_defaults(store, email)?;
        Ok(Some(d.map(|d| latest::server_defaults(server_defaults_from_v0_1(d)))))
    }

    /// Calls `roles` (adapters only).
    pub fn roles(&self, store: &mut Store<State>, folders: &[Folder]) -> wasmtime::Result<Option<Vec<RoleChoice>>> {
        let Pre::Adapter(pre) = self else { return Ok(None) };
        let folders: Vec<wit::Folder> = latest::folders(folders).into_iter().map(folder_to_v0_1).collect();
        let choices = pre.instantiate(&mut *store)?.call_roles(store, &folders)?;
        Ok(Some(choices.into_iter().map(|c| latest::role_choice(role_choice_from_v0_1(c))).collect()))
    }

    /// 0.1 adapters name no folders (`folder-names` came with 0.2).
    pub fn folder_names(&self, _store: &mut Store<State>) -> wasmtime::Result<Option<Option<FolderNames>>> {
        Ok(matches!(self, Pre::Adapter(_)).then_some(None))
    }

    /// Calls `quirks` (adapters only).
    pub fn quirks(&self, store: &mut Store<State>) -> wasmtime::Result<Option<Quirks>> {
        let Pre::Adapter(pre) = self else { return Ok(None) };
        let q = pre.instantiate(&mut *store)?.call_quirks(store)?;
        Ok(Some(latest::quirks(latest::wit::Quirks {
            auto_saves_sent: q.auto_saves_sent,
            max_connections: q.max_connections,
            idle_refresh_secs: q.idle_refresh_secs,
            noop_keepalive: q.noop_keepalive,
            avoid_partial_fetch: q.avoid_partial_fetch,
        })))
    }

    /// 0.1 adapters know no OAuth2 endpoints (`oauth2` came with 0.3).
    pub fn oauth2(&self, _store: &mut Store<State>, _email: &str) -> wasmtime::Result<Option<Option<OAuth2Defaults>>> {
        Ok(matches!(self, Pre::Adapter(_)).then_some(None))
    }
}

fn span(s: latest::wit::Span) -> wit::Span {
    wit::Span { start: s.start, len: s.len }
}

fn spans(s: latest::wit::Spans) -> wit::Spans {
    wit::Spans { start: s.start, len: s.len }
}

fn batch_to_v0_1(b: latest::wit::Batch) -> wit::Batch {
    wit::Batch {
        text: b.text,
        spans: b.spans.into_iter().map(span).collect(),
        messages: b
            .messages
            .into_iter()
            .map(|m| wit::MessageMeta {
                account: span(m.account),
                folder: span(m.folder),
                folder_path: spans(m.folder_path),
                message_id: m.message_id.map(span),
                subject: m.subject.map(span),
                from: spans(m.from),
                to: spans(m.to),
                cc: spans(m.cc),
                in_reply_to: m.in_reply_to.map(span),
                references: spans(m.references),
                date: m.date,
                size: m.size,
                flags: spans(m.flags),
                headers: spans(m.headers),
            })
            .collect(),
    }
}

fn decision_from_v0_1(d: wit::Decision) -> latest::wit::Decision {
    match d {
        wit::Decision::Project(a) => {
            latest::wit::Decision::Project(latest::wit::Assignment { project: a.project, reason: a.reason })
        }
        wit::Decision::Skip => latest::wit::Decision::Skip,
    }
}

fn server_from_v0_1(s: wit::Server) -> latest::wit::Server {
    latest::wit::Server {
        host: s.host,
        port: s.port,
        security: match s.security {
            wit::Security::Tls => latest::wit::Security::Tls,
            wit::Security::Starttls => latest::wit::Security::Starttls,
            wit::Security::Plain => latest::wit::Security::Plain,
        },
    }
}

fn server_defaults_from_v0_1(d: wit::ServerDefaults) -> latest::wit::ServerDefaults {
    latest::wit::ServerDefaults {
        imap: server_from_v0_1(d.imap),
        smtp: server_from_v0_1(d.smtp),
        login: match d.login {
            wit::LoginForm::FullAddress => latest::wit::LoginForm::FullAddress,
            wit::LoginForm::LocalPart => latest::wit::LoginForm::LocalPart,
        },
        hint: d.hint,
    }
}

fn folder_to_v0_1(f: latest::wit::Folder) -> wit::Folder {
    wit::Folder { name: f.name, raw: f.raw, delimiter: f.delimiter, attributes: f.attributes, path: f.path }
}

fn role_choice_from_v0_1(c: wit::RoleChoice) -> latest::wit::RoleChoice {
    use latest::wit::Role as L;
    let role = match c.role {
        wit::Role::Inbox => L::Inbox,
        wit::Role::Sent => L::Sent,
        wit::Role::Drafts => L::Drafts,
        wit::Role::Trash => L::Trash,
        wit::Role::Junk => L::Junk,
        wit::Role::Archive => L::Archive,
        wit::Role::All => L::All,
        wit::Role::Flagged => L::Flagged,
        wit::Role::Important => L::Important,
        wit::Role::Outbox => L::Outbox,
        wit::Role::Other => L::Other,
    };
    let source = match c.source {
        wit::RoleSource::Attribute => latest::wit::RoleSource::Attribute,
        wit::RoleSource::Adapter => latest::wit::RoleSource::Adapter,
        wit::RoleSource::Name => latest::wit::RoleSource::Name,
    };
    latest::wit::RoleChoice { folder: c.folder, role, source, reason: c.reason }
}
