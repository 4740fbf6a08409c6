//! The component's exports: the generated bindings (private to this crate), the one
//! `export!` of the world this build is for, and the glue between the generated types and
//! the SDK's own. The plugin's `register_router!` / `register_provider_adapter!` only
//! defines a constructor; the exports here call it for every plugin call.
#![allow(missing_docs)]

#[cfg(target_arch = "wasm32")]
/// Reports a panic through `host.log` before the instance traps, so the daemon can name
/// the panic message in its error.
pub fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".to_owned());
            let location = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
            crate::host::log(crate::Level::Error, &format!("panicked: {message}{location}"));
        }));
    });
}

#[cfg(all(target_arch = "wasm32", feature = "router", feature = "provider-adapter"))]
compile_error!(
    "postfach-plugin-sdk: enable exactly one of the features `router` and `provider-adapter` for a wasm build; \
     a component is either a router or a provider adapter"
);

#[cfg(all(target_arch = "wasm32", not(feature = "router"), not(feature = "provider-adapter")))]
compile_error!("postfach-plugin-sdk: enable the feature `router` or `provider-adapter`");

// The generated exports are `export_name` functions called by the component ABI: the one
// place where the SDK needs unsafe code, as every component does.
#[cfg(all(target_arch = "wasm32", feature = "router"))]
#[allow(unsafe_code)]
mod router {
    wit_bindgen::generate!({ world: "router", path: "wit/v0.3" });

    // The constructor `register_router!` defines in the plugin crate.
    unsafe extern "Rust" {
        safe fn __postfach_new_router() -> Box<dyn crate::AnyRouter>;
    }

    struct Component;

    impl Guest for Component {
        fn id() -> String {
            super::install_panic_hook();
            __postfach_new_router().id().to_owned()
        }

        fn route(batch: postfach::plugin::types::Batch) -> Vec<postfach::plugin::types::Decision> {
            use postfach::plugin::types as w;
            super::install_panic_hook();
            let router = __postfach_new_router();
            let messages = super::decode(&batch);
            router
                .route_batch(&messages)
                .into_iter()
                .map(|d| match d {
                    crate::Decision::Project(a) => {
                        w::Decision::Project(w::Assignment { project: a.project, reason: a.reason })
                    }
                    crate::Decision::Skip => w::Decision::Skip,
                })
                .collect()
        }
    }

    export!(Component);
}

#[cfg(all(target_arch = "wasm32", feature = "provider-adapter"))]
#[allow(unsafe_code)]
mod adapter {
    wit_bindgen::generate!({ world: "provider-adapter", path: "wit/v0.3" });

    // The constructor `register_provider_adapter!` defines in the plugin crate.
    unsafe extern "Rust" {
        safe fn __postfach_new_adapter() -> Box<dyn crate::AnyAdapter>;
    }

    use postfach::plugin::types as w;

    struct Component;

    impl Guest for Component {
        fn id() -> String {
            super::install_panic_hook();
            __postfach_new_adapter().id().to_owned()
        }

        fn detect(email: String, imap_host: Option<String>, server_id: Vec<(String, String)>) -> u8 {
            super::install_panic_hook();
            __postfach_new_adapter().detect(&email, imap_host.as_deref(), &server_id).min(100)
        }

        fn defaults(email: String) -> Option<w::ServerDefaults> {
            super::install_panic_hook();
            super::glue::defaults(__postfach_new_adapter().defaults(&email))
        }

        fn roles(folders: Vec<w::Folder>) -> Vec<w::RoleChoice> {
            super::install_panic_hook();
            let adapter = __postfach_new_adapter();
            super::glue::roles(&*adapter, folders)
        }

        fn quirks() -> w::Quirks {
            super::install_panic_hook();
            super::glue::quirks(__postfach_new_adapter().quirks())
        }

        fn folder_names() -> Vec<w::FolderName> {
            super::install_panic_hook();
            super::glue::folder_names(__postfach_new_adapter().folder_names())
        }

        fn oauth2(email: String) -> Option<w::Oauth2Provider> {
            super::install_panic_hook();
            __postfach_new_adapter().oauth2(&email).map(super::glue::oauth2)
        }
    }

    export!(Component);
}

/// The host interface of whichever world this build exports.
#[cfg(all(target_arch = "wasm32", feature = "router"))]
pub(crate) use router::postfach::plugin as wit;

#[cfg(all(target_arch = "wasm32", feature = "provider-adapter", not(feature = "router")))]
pub(crate) use adapter::postfach::plugin as wit;

/// Views the span-encoded batch as messages, without copying any text. Spans the host
/// produced are always in range and on character boundaries; anything else reads as empty.
#[cfg(all(target_arch = "wasm32", feature = "router"))]
fn decode(batch: &wit::types::Batch) -> Vec<crate::MessageMeta<'_>> {
    use crate::Texts;
    use wit::types as w;
    let text = batch.text.as_str();
    let one = |span: w::Span| -> &str {
        let start = span.start as usize;
        text.get(start..start + span.len as usize).unwrap_or_default()
    };
    let many = |run: w::Spans| -> Texts<'_> {
        let start = run.start as usize;
        Texts::spans(text, batch.spans.get(start..start + run.len as usize).unwrap_or_default())
    };
    batch
        .messages
        .iter()
        .map(|m| crate::MessageMeta {
            account: one(m.account),
            folder: one(m.folder),
            folder_path: many(m.folder_path),
            message_id: m.message_id.map(one),
            subject: m.subject.map(one),
            from: many(m.from),
            to: many(m.to),
            cc: many(m.cc),
            in_reply_to: m.in_reply_to.map(one),
            references: many(m.references),
            date: m.date,
            size: m.size,
            flags: many(m.flags),
            headers: many(m.headers),
        })
        .collect()
}

#[cfg(all(target_arch = "wasm32", feature = "provider-adapter"))]
mod glue {
    use super::wit::types as w;
    use crate::{
        AnyAdapter, FolderName, LoginForm, OAuth2Defaults, Quirks, Role, RoleSource, Security, ServerDefaults,
    };

    fn server(s: crate::Server) -> w::Server {
        w::Server {
            host: s.host,
            port: s.port,
            security: match s.security {
                Security::Tls => w::Security::Tls,
                Security::Starttls => w::Security::Starttls,
                Security::Plain => w::Security::Plain,
            },
        }
    }

    pub fn defaults(d: Option<ServerDefaults>) -> Option<w::ServerDefaults> {
        d.map(|d| w::ServerDefaults {
            imap: server(d.imap),
            smtp: server(d.smtp),
            login: match d.login {
                LoginForm::FullAddress => w::LoginForm::FullAddress,
                LoginForm::LocalPart => w::LoginForm::LocalPart,
            },
            hint: d.hint,
        })
    }

    pub fn roles(adapter: &dyn AnyAdapter, folders: Vec<w::Folder>) -> Vec<w::RoleChoice> {
        let folders: Vec<crate::Folder> = folders
            .into_iter()
            .map(|f| crate::Folder {
                name: f.name,
                raw: f.raw,
                delimiter: f.delimiter,
                attributes: f.attributes,
                path: f.path,
            })
            .collect();
        adapter
            .roles(&folders)
            .into_iter()
            .map(|c| w::RoleChoice {
                folder: c.folder,
                role: role(c.role),
                source: match c.source {
                    RoleSource::Attribute => w::RoleSource::Attribute,
                    RoleSource::Adapter => w::RoleSource::Adapter,
                    RoleSource::Name => w::RoleSource::Name,
                },
                reason: c.reason,
            })
            .collect()
    }

    fn role(role: Role) -> w::Role {
        match role {
            Role::Inbox => w::Role::Inbox,
            Role::Sent => w::Role::Sent,
            Role::Drafts => w::Role::Drafts,
            Role::Trash => w::Role::Trash,
            Role::Junk => w::Role::Junk,
            Role::Archive => w::Role::Archive,
            Role::All => w::Role::All,
            Role::Flagged => w::Role::Flagged,
            Role::Important => w::Role::Important,
            Role::Outbox => w::Role::Outbox,
            Role::Other => w::Role::Other,
        }
    }

    pub fn folder_names(names: Vec<FolderName>) -> Vec<w::FolderName> {
        names.into_iter().map(|n| w::FolderName { role: role(n.role), path: n.path }).collect()
    }

    pub fn oauth2(o: OAuth2Defaults) -> w::Oauth2Provider {
        w::Oauth2Provider {
            name: o.provider,
            auth_url: o.auth_url,
            token_url: o.token_url,
            device_url: o.device_url,
            scopes: o.scopes,
            scope_on_refresh: o.scope_on_refresh,
        }
    }

    pub fn quirks(q: Quirks) -> w::Quirks {
        w::Quirks {
            auto_saves_sent: q.auto_saves_sent,
            max_connections: q.max_connections,
            idle_refresh_secs: q.idle_refresh_secs,
            noop_keepalive: q.noop_keepalive,
            avoid_partial_fetch: q.avoid_partial_fetch,
        }
    }
}
