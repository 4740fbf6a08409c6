//! Generated bindings and the glue the registration macros expand to. Not public API.
#![allow(missing_docs)]

pub use wit_bindgen;

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

#[cfg(all(target_arch = "wasm32", feature = "router"))]
pub mod router {
    wit_bindgen::generate!({
        world: "router",
        path: "wit/v0.2",
        pub_export_macro: true,
        export_macro_name: "export_router",
        default_bindings_module: "postfach_plugin_sdk::__private::router",
        runtime_path: "postfach_plugin_sdk::__private::wit_bindgen::rt",
    });
}

#[cfg(all(target_arch = "wasm32", feature = "provider-adapter"))]
pub mod adapter {
    wit_bindgen::generate!({
        world: "provider-adapter",
        path: "wit/v0.2",
        pub_export_macro: true,
        export_macro_name: "export_adapter",
        default_bindings_module: "postfach_plugin_sdk::__private::adapter",
        runtime_path: "postfach_plugin_sdk::__private::wit_bindgen::rt",
    });
}

#[cfg(all(target_arch = "wasm32", feature = "router"))]
pub use router::postfach::plugin as wit;

#[cfg(all(target_arch = "wasm32", feature = "provider-adapter", not(feature = "router")))]
pub use adapter::postfach::plugin as wit;

#[cfg(all(target_arch = "wasm32", feature = "router"))]
pub fn route<R: crate::Router>(batch: wit::types::Batch) -> Vec<wit::types::Decision> {
    use wit::types as w;
    install_panic_hook();
    let router = R::new();
    let messages = decode(&batch);
    router
        .route_batch(&messages)
        .into_iter()
        .map(|d| match d {
            crate::Decision::Project(a) => w::Decision::Project(w::Assignment { project: a.project, reason: a.reason }),
            crate::Decision::Skip => w::Decision::Skip,
        })
        .collect()
}

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
mod adapter_glue {
    use super::wit::types as w;
    use crate::{LoginForm, ProviderAdapter, Role, RoleSource, Security};

    pub fn adapter_detect<A: ProviderAdapter>(
        email: String,
        imap_host: Option<String>,
        server_id: Vec<(String, String)>,
    ) -> u8 {
        super::install_panic_hook();
        A::new().detect(&email, imap_host.as_deref(), &server_id).min(100)
    }

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

    pub fn adapter_defaults<A: ProviderAdapter>(email: String) -> Option<w::ServerDefaults> {
        super::install_panic_hook();
        A::new().defaults(&email).map(|d| w::ServerDefaults {
            imap: server(d.imap),
            smtp: server(d.smtp),
            login: match d.login {
                LoginForm::FullAddress => w::LoginForm::FullAddress,
                LoginForm::LocalPart => w::LoginForm::LocalPart,
            },
            hint: d.hint,
        })
    }

    pub fn adapter_roles<A: ProviderAdapter>(folders: Vec<w::Folder>) -> Vec<w::RoleChoice> {
        super::install_panic_hook();
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
        A::new()
            .roles(&folders)
            .into_iter()
            .map(|c| w::RoleChoice {
                folder: c.folder,
                role: role_to_wit(c.role),
                source: match c.source {
                    RoleSource::Attribute => w::RoleSource::Attribute,
                    RoleSource::Adapter => w::RoleSource::Adapter,
                    RoleSource::Name => w::RoleSource::Name,
                },
                reason: c.reason,
            })
            .collect()
    }

    fn role_to_wit(role: Role) -> w::Role {
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

    pub fn adapter_folder_names<A: ProviderAdapter>() -> Vec<w::FolderName> {
        super::install_panic_hook();
        A::new().folder_names().into_iter().map(|n| w::FolderName { role: role_to_wit(n.role), path: n.path }).collect()
    }

    pub fn adapter_quirks<A: ProviderAdapter>() -> w::Quirks {
        super::install_panic_hook();
        let q = A::new().quirks();
        w::Quirks {
            auto_saves_sent: q.auto_saves_sent,
            max_connections: q.max_connections,
            idle_refresh_secs: q.idle_refresh_secs,
            noop_keepalive: q.noop_keepalive,
            avoid_partial_fetch: q.avoid_partial_fetch,
        }
    }
}

#[cfg(all(target_arch = "wasm32", feature = "provider-adapter"))]
pub use adapter_glue::{adapter_defaults, adapter_detect, adapter_folder_names, adapter_quirks, adapter_roles};
