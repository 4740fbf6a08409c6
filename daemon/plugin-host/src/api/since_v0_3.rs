//! Plugin API 0.3 (`plugin-sdk/wit/v0.3`), the newest: its generated types are the ones
//! the host converts to and from its own ([`crate::types`]), and older versions reuse
//! its host interface (see `since_v0_2` and `since_v0_1`). Since 0.2, provider adapters
//! export `oauth2`.

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, Store};

use crate::sandbox::{LogLevel, State};
use crate::types::{FolderNames, MessageMeta};
use postfach_model::Role as DomainRole;
use postfach_plugin_types::{
    Assignment, Decision, Folder, LoginForm, OAuth2Defaults, Quirks, Role, RoleChoice, RoleSource, Security, Server,
    ServerDefaults,
};

/// The package version these bindings implement.
pub const VERSION: &str = "0.3.0";

pub(super) mod router {
    wasmtime::component::bindgen!({
        world: "router",
        path: "../../plugin-sdk/wit/v0.3",
    });
}

mod adapter {
    wasmtime::component::bindgen!({
        world: "provider-adapter",
        path: "../../plugin-sdk/wit/v0.3",
        with: {
            "postfach:plugin/types": super::router::postfach::plugin::types,
            "postfach:plugin/host": super::router::postfach::plugin::host,
        },
    });
}

use router::postfach::plugin::host as wit_host;
pub(super) use router::postfach::plugin::types as wit;

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

/// A component checked against one of the 0.3 worlds and ready to instantiate.
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
        Ok(Some(decisions.into_iter().map(decision).collect()))
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
        Ok(Some(d.map(server_defaults)))
    }

    /// Calls `roles` (adapters only).
    pub fn roles(&self, store: &mut Store<State>, folders: &[Folder]) -> wasmtime::Result<Option<Vec<RoleChoice>>> {
        let Pre::Adapter(pre) = self else { return Ok(None) };
        let choices = pre.instantiate(&mut *store)?.call_roles(store, &self::folders(folders))?;
        Ok(Some(choices.into_iter().map(role_choice).collect()))
    }

    /// Calls `folder-names` (adapters only).
    pub fn folder_names(&self, store: &mut Store<State>) -> wasmtime::Result<Option<Option<FolderNames>>> {
        let Pre::Adapter(pre) = self else { return Ok(None) };
        let names = pre.instantiate(&mut *store)?.call_folder_names(store)?;
        Ok(Some(Some(folder_names(names))))
    }

    /// Calls `quirks` (adapters only).
    pub fn quirks(&self, store: &mut Store<State>) -> wasmtime::Result<Option<Quirks>> {
        let Pre::Adapter(pre) = self else { return Ok(None) };
        let q = pre.instantiate(&mut *store)?.call_quirks(store)?;
        Ok(Some(quirks(q)))
    }

    /// Calls `oauth2` (adapters only).
    pub fn oauth2(&self, store: &mut Store<State>, email: &str) -> wasmtime::Result<Option<Option<OAuth2Defaults>>> {
        let Pre::Adapter(pre) = self else { return Ok(None) };
        let o = pre.instantiate(&mut *store)?.call_oauth2(store, email)?;
        Ok(Some(o.map(oauth2_defaults)))
    }
}

/// A router's decision, as the host keeps it.
pub(super) fn decision(d: wit::Decision) -> Decision {
    match d {
        wit::Decision::Project(a) => Decision::Project(Assignment { project: a.project, reason: a.reason }),
        wit::Decision::Skip => Decision::Skip,
    }
}

/// An adapter's server settings, as the host keeps them.
pub(super) fn server_defaults(d: wit::ServerDefaults) -> ServerDefaults {
    ServerDefaults {
        imap: server_from_wit(d.imap),
        smtp: server_from_wit(d.smtp),
        login: match d.login {
            wit::LoginForm::FullAddress => LoginForm::FullAddress,
            wit::LoginForm::LocalPart => LoginForm::LocalPart,
        },
        hint: d.hint,
    }
}

/// The listed folders, as adapters receive them.
pub(super) fn folders(folders: &[Folder]) -> Vec<wit::Folder> {
    folders
        .iter()
        .map(|f| wit::Folder {
            name: f.name.clone(),
            raw: f.raw.clone(),
            delimiter: f.delimiter.clone(),
            attributes: f.attributes.clone(),
            path: f.path.clone(),
        })
        .collect()
}

/// An adapter's role decision, as the host keeps it.
pub(super) fn role_choice(c: wit::RoleChoice) -> RoleChoice {
    RoleChoice {
        folder: c.folder,
        role: plugin_role(c.role),
        source: match c.source {
            wit::RoleSource::Attribute => RoleSource::Attribute,
            wit::RoleSource::Adapter => RoleSource::Adapter,
            wit::RoleSource::Name => RoleSource::Name,
        },
        reason: c.reason,
    }
}

/// An adapter's folder names, as the host keeps them (`other` is no system folder).
pub(super) fn folder_names(names: Vec<wit::FolderName>) -> FolderNames {
    names.into_iter().filter_map(|n| domain_role(plugin_role(n.role)).map(|role| (role, n.path))).collect()
}

/// An adapter's quirks, as the host keeps them.
pub(super) fn quirks(q: wit::Quirks) -> Quirks {
    Quirks {
        auto_saves_sent: q.auto_saves_sent,
        max_connections: q.max_connections,
        idle_refresh_secs: q.idle_refresh_secs,
        noop_keepalive: q.noop_keepalive,
        avoid_partial_fetch: q.avoid_partial_fetch,
    }
}

/// An adapter's OAuth2 endpoints, as the host keeps them.
fn oauth2_defaults(o: wit::Oauth2Provider) -> OAuth2Defaults {
    OAuth2Defaults {
        provider: o.name,
        auth_url: o.auth_url,
        token_url: o.token_url,
        device_url: o.device_url,
        scopes: o.scopes,
        scope_on_refresh: o.scope_on_refresh,
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

/// A WIT role as the plugin API's own.
fn plugin_role(r: wit::Role) -> Role {
    match r {
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
        wit::Role::Other => Role::Other,
    }
}

/// A plugin API role as the daemon's domain role; `other` ("known to be none") is none.
pub fn domain_role(r: Role) -> Option<DomainRole> {
    Some(match r {
        Role::Inbox => DomainRole::Inbox,
        Role::Sent => DomainRole::Sent,
        Role::Drafts => DomainRole::Drafts,
        Role::Trash => DomainRole::Trash,
        Role::Junk => DomainRole::Junk,
        Role::Archive => DomainRole::Archive,
        Role::All => DomainRole::All,
        Role::Flagged => DomainRole::Flagged,
        Role::Important => DomainRole::Important,
        Role::Outbox => DomainRole::Outbox,
        Role::Other => return None,
    })
}

/// Encodes messages as one text with spans. Account and folder usually repeat from one
/// message to the next and are stored once per run; everything else is appended, which is
/// cheaper than looking values up.
pub(super) fn encode(messages: &[MessageMeta]) -> wit::Batch {
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
