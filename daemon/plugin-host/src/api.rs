//! Host bindings, one module per plugin API version (`plugin-sdk/wit/v<version>`), all
//! made from one template so they cannot drift apart. Each converts between its generated
//! types and the host's own ([`super::types`]). A new API version is one more line at the
//! bottom and one more arm in [`Bindings`]; plugins built against older versions keep
//! loading through their own module.

use wasmtime::component::Component;
use wasmtime::{Engine, Store};

use super::sandbox::State;
use super::types::{Decision, FolderInfo, FolderNames, MessageMeta, Quirks, RoleChoice, ServerDefaults};

/// One API version's bindings. `$folder_names` is the body of `folder-names` for a
/// prepared adapter `$pre` (the function does not exist before 0.2).
macro_rules! bindings {
    ($module:ident, $version:literal, $path:literal, |$pre:ident, $store:ident| $folder_names:block) => {
        #[doc = concat!("Bindings for plugin API ", $version, ".")]
        pub mod $module {
        use wasmtime::component::{Component, HasSelf, Linker};
        use wasmtime::{Engine, Store};

        use crate::sandbox::{LogLevel, State};
        use crate::types::{
            Decision, FolderInfo, FolderNames, LoginForm, MessageMeta, Quirks, RoleChoice, Server, ServerDefaults,
        };
        use postfach_config::Security;
        use postfach_model::{Role, RoleSource};

        /// The package version these bindings implement.
        pub const VERSION: &str = $version;

        mod router {
            wasmtime::component::bindgen!({
                world: "router",
                path: $path,
            });
        }

        mod adapter {
            wasmtime::component::bindgen!({
                world: "provider-adapter",
                path: $path,
                with: {
                    "postfach:plugin/types": super::router::postfach::plugin::types,
                    "postfach:plugin/host": super::router::postfach::plugin::host,
                },
            });
        }

        use router::postfach::plugin::{host as wit_host, types as wit};

        impl wit_host::Host for State {
            fn log(&mut self, level: wit_host::Level, message: String) {
                let level = match level {
                    wit_host::Level::Trace => LogLevel::Trace,
                    wit_host::Level::Debug => LogLevel::Debug,
                    wit_host::Level::Info => LogLevel::Info,
                    wit_host::Level::Warn => LogLevel::Warn,
                    wit_host::Level::Error => LogLevel::Error,
                };
                State::log(self, level, &message);
            }

            fn option(&mut self, key: String) -> Option<String> {
                State::option(self, &key)
            }

            fn project_exists(&mut self, project: String) -> bool {
                State::project_exists(self, &project)
            }

            fn project_of(&mut self, message_id: String) -> Option<String> {
                State::project_of(self, &message_id)
            }
        }

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
        /// the router or the adapter world.
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
                let batch = encode(batch);
                let decisions = pre.instantiate(&mut *store)?.call_route(store, &batch)?;
                Ok(Some(
                    decisions
                        .into_iter()
                        .map(|d| match d {
                            wit::Decision::Project(a) => Decision::Project { project: a.project, reason: a.reason },
                            wit::Decision::Skip => Decision::Skip,
                        })
                        .collect(),
                ))
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
                Ok(Some(d.map(|d| ServerDefaults {
                    imap: server_from_wit(d.imap),
                    smtp: server_from_wit(d.smtp),
                    login: match d.login {
                        wit::LoginForm::FullAddress => LoginForm::FullAddress,
                        wit::LoginForm::LocalPart => LoginForm::LocalPart,
                    },
                    hint: d.hint,
                })))
            }

            /// Calls `roles` (adapters only).
            pub fn roles(&self, store: &mut Store<State>, folders: &[FolderInfo]) -> wasmtime::Result<Option<Vec<RoleChoice>>> {
                let Pre::Adapter(pre) = self else { return Ok(None) };
                let folders: Vec<wit::Folder> = folders
                    .iter()
                    .map(|f| wit::Folder {
                        name: f.name.clone(),
                        raw: f.raw.clone(),
                        delimiter: f.delimiter.clone(),
                        attributes: f.attributes.clone(),
                        path: f.path.clone(),
                    })
                    .collect();
                let choices = pre.instantiate(&mut *store)?.call_roles(store, &folders)?;
                Ok(Some(
                    choices
                        .into_iter()
                        .map(|c| RoleChoice {
                            folder: c.folder,
                            role: role_from_wit(c.role),
                            source: match c.source {
                                wit::RoleSource::Attribute => RoleSource::Attribute,
                                wit::RoleSource::Adapter => RoleSource::Adapter,
                                wit::RoleSource::Name => RoleSource::Name,
                            },
                            reason: c.reason,
                        })
                        .collect(),
                ))
            }

            /// Calls `folder-names` (adapters of API 0.2 and later; earlier ones name none).
            pub fn folder_names(&self, store: &mut Store<State>) -> wasmtime::Result<Option<Option<FolderNames>>> {
                let Pre::Adapter(pre) = self else { return Ok(None) };
                fn call(
                    $pre: &adapter::ProviderAdapterPre<State>,
                    $store: &mut Store<State>,
                ) -> wasmtime::Result<Option<FolderNames>> $folder_names
                call(pre, store).map(Some)
            }

            /// Calls `quirks` (adapters only).
            pub fn quirks(&self, store: &mut Store<State>) -> wasmtime::Result<Option<Quirks>> {
                let Pre::Adapter(pre) = self else { return Ok(None) };
                let q = pre.instantiate(&mut *store)?.call_quirks(store)?;
                Ok(Some(Quirks {
                    auto_saves_sent: q.auto_saves_sent,
                    max_connections: q.max_connections,
                    idle_refresh_secs: q.idle_refresh_secs,
                    noop_keepalive: q.noop_keepalive,
                    avoid_partial_fetch: q.avoid_partial_fetch,
                }))
            }
        }

        fn server_from_wit(s: wit::Server) -> Server {
            Server {
                host: s.host,
                port: s.port,
                security: match s.security {
                    wit::Security::Tls => Security::Tls,
                    wit::Security::Starttls => Security::Starttls,
                    wit::Security::Plain => Security::Plain,
                },
            }
        }

        fn role_from_wit(r: wit::Role) -> Option<Role> {
            Some(match r {
                wit::Role::Inbox => Role::Inbox,
                wit::Role::Sent => Role::Sent,
                wit::Role::Drafts => Role::Drafts,
                wit::Role::Trash => Role::Trash,
                wit::Role::Junk => Role::Junk,
                wit::Role::Archive => Role::Archive,
                wit::Role::All => Role::All,
                wit::Role::Flagged => Role::Flagged,
                wit::Role::Important => Role::Important,
                wit::Role::Outbox => Role::Outbox,
                wit::Role::Other => return None,
            })
        }

        /// Encodes messages as one text with spans. Account and folder usually repeat from one
        /// message to the next and are stored once per run; everything else is appended, which is
        /// cheaper than looking values up.
        fn encode(messages: &[MessageMeta]) -> wit::Batch {
            let mut e = Encoder::default();
            let messages = messages
                .iter()
                .map(|m| wit::MessageMeta {
                    account: e.repeated(0, &m.account),
                    folder: e.repeated(1, &m.folder),
                    folder_path: e.many(m.folder_path.iter().map(String::as_str)),
                    message_id: m.message_id.as_deref().map(|s| e.span(s)),
                    subject: m.subject.as_deref().map(|s| e.span(s)),
                    from: e.many(m.from.iter().map(String::as_str)),
                    to: e.many(m.to.iter().map(String::as_str)),
                    cc: e.many(m.cc.iter().map(String::as_str)),
                    in_reply_to: m.in_reply_to.as_deref().map(|s| e.span(s)),
                    references: e.many(m.references.iter().map(String::as_str)),
                    date: m.date,
                    size: m.size,
                    flags: e.many(m.flags.iter().map(String::as_str)),
                    headers: e.many(m.headers.iter().flat_map(|(n, v)| [n.as_str(), v.as_str()])),
                })
                .collect();
            wit::Batch { text: e.text, spans: e.spans, messages }
        }

        #[derive(Default)]
        struct Encoder {
            text: String,
            spans: Vec<wit::Span>,
            /// The last account and folder written, to store runs of them once.
            last: [Option<(String, wit::Span)>; 2],
        }

        impl Encoder {
            fn span(&mut self, s: &str) -> wit::Span {
                let start = self.text.len() as u32;
                self.text.push_str(s);
                wit::Span { start, len: s.len() as u32 }
            }

            fn repeated(&mut self, slot: usize, s: &str) -> wit::Span {
                if let Some((value, span)) = &self.last[slot]
                    && value == s
                {
                    return *span;
                }
                let span = self.span(s);
                self.last[slot] = Some((s.to_owned(), span));
                span
            }

            fn many<'a>(&mut self, items: impl Iterator<Item = &'a str>) -> wit::Spans {
                let start = self.spans.len() as u32;
                for s in items {
                    let span = self.span(s);
                    self.spans.push(span);
                }
                wit::Spans { start, len: self.spans.len() as u32 - start }
            }
        }
        }
    };
}

bindings!(v0_1, "0.1.0", "../../plugin-sdk/wit/v0.1", |pre, store| {
    let _ = (pre, store);
    Ok(None)
});

bindings!(v0_2, "0.2.0", "../../plugin-sdk/wit/v0.2", |pre, store| {
    let names = pre.instantiate(&mut *store)?.call_folder_names(store)?;
    Ok(Some(names.into_iter().filter_map(|n| role_from_wit(n.role).map(|role| (role, n.path))).collect()))
});

/// A component prepared against the API version it was built for.
#[derive(Clone)]
pub enum Bindings {
    /// API 0.1.
    V0_1(v0_1::Pre),
    /// API 0.2.
    V0_2(v0_2::Pre),
}

/// Calls the same method on whichever version's bindings a plugin has.
macro_rules! dispatch {
    ($self:ident, $pre:ident => $call:expr) => {
        match $self {
            Bindings::V0_1($pre) => $call,
            Bindings::V0_2($pre) => $call,
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
            Some("0.1") => Ok(Bindings::V0_1(v0_1::prepare(engine, component, is_router)?)),
            Some(_) => Ok(Bindings::V0_2(v0_2::prepare(engine, component, is_router)?)),
            None => v0_2::prepare(engine, component, is_router)
                .map(Bindings::V0_2)
                .or_else(|_| v0_1::prepare(engine, component, is_router).map(Bindings::V0_1)),
        }
    }

    /// The API version (`0.2.0`).
    pub fn version(&self) -> &'static str {
        match self {
            Bindings::V0_1(_) => v0_1::VERSION,
            Bindings::V0_2(_) => v0_2::VERSION,
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
    pub fn roles(&self, store: &mut Store<State>, folders: &[FolderInfo]) -> wasmtime::Result<Option<Vec<RoleChoice>>> {
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
}
