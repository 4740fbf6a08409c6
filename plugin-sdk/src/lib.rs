//! Write Postfach plugins in Rust.
//!
//! A plugin is a WebAssembly component (`wasm32-wasip2`) that Postfach loads from its
//! plugin directories and calls in a sandbox. There are two kinds:
//!
//! - a **provider adapter** knows one mail provider: which servers an address uses, what
//!   its folders are for, and how it behaves ([`ProviderAdapter`]);
//! - a **router** assigns messages to projects ([`Router`]).
//!
//! Implement the trait, register the type with [`register_provider_adapter!`] or
//! [`register_router!`], and enable the matching cargo feature (`provider-adapter` or
//! `router`) of this crate:
//!
//! ```
//! use postfach_plugin_sdk::{register_router, Decision, MessageMeta, Router};
//!
//! struct Urgent;
//!
//! impl Router for Urgent {
//!     const ID: &'static str = "urgent";
//!
//!     fn new() -> Self {
//!         Urgent
//!     }
//!
//!     fn route(&self, message: &MessageMeta<'_>) -> Decision {
//!         match message.subject {
//!             Some(s) if s.starts_with("URGENT") => Decision::project("inbox-urgent", "subject starts with URGENT"),
//!             _ => Decision::Skip,
//!         }
//!     }
//! }
//!
//! register_router!(Urgent);
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2` and drop the `.wasm` into a
//! plugin directory. [`host`] gives access to the daemon's log and the account's options;
//! [`testing::FakeHost`] lets the same code run in native `cargo test`.

pub mod folders;
pub mod host;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
mod types;

pub use postfach_plugin_types::{
    Assignment, Decision, Folder, FolderName, Level, LoginForm, OAuth2Defaults, Quirks, Role, RoleChoice, RoleSource,
    Security, Server, ServerDefaults,
};
pub use types::{MessageMeta, Texts};

/// A provider adapter: servers, folder roles, quirks and OAuth2 endpoints of one mail
/// provider.
///
/// Every method but [`ProviderAdapter::new`] has a default: an adapter that only
/// implements `detect` and `defaults` still gets the standard role detection, and no
/// OAuth2 login.
pub trait ProviderAdapter: Sized {
    /// The adapter's id, used as `provider = "<id>"` in account files.
    const ID: &'static str;

    /// Creates the adapter; called once per plugin call.
    fn new() -> Self;

    /// How sure the adapter is that it serves this account: 0 (not at all) to 100.
    /// `server_id` is the server's answer to the IMAP `ID` command (empty before login).
    fn detect(&self, email: &str, imap_host: Option<&str>, server_id: &[(String, String)]) -> u8 {
        let _ = (email, imap_host, server_id);
        0
    }

    /// Server settings for an address, if the adapter knows them.
    fn defaults(&self, email: &str) -> Option<ServerDefaults> {
        let _ = email;
        None
    }

    /// Roles for the listed folders; default: [`folders::standard_roles`].
    fn roles(&self, folders: &[Folder]) -> Vec<RoleChoice> {
        folders::standard_roles(folders)
    }

    /// How the provider behaves; default: nothing special.
    fn quirks(&self) -> Quirks {
        Quirks::default()
    }

    /// What the provider calls the system folders, for creating missing ones; roles left
    /// out are never created. Default: the German names most providers here use
    /// ([`folders::german_folder_names`]).
    fn folder_names(&self) -> Vec<FolderName> {
        folders::german_folder_names()
    }

    /// The provider's OAuth2 endpoints and scopes for an address, for `auth = "oauth2"`
    /// accounts; `None` (the default) when it has no OAuth2 login for it. The URLs must be
    /// `https://` and may contain `{tenant}`, which the daemon replaces; the daemon
    /// rejects an answer with an empty name, URL or scope list.
    ///
    /// ```
    /// use postfach_plugin_sdk::{OAuth2Defaults, ProviderAdapter, domain_in};
    ///
    /// struct MusterMail;
    ///
    /// impl ProviderAdapter for MusterMail {
    ///     const ID: &'static str = "muster-mail";
    ///
    ///     fn new() -> Self {
    ///         MusterMail
    ///     }
    ///
    ///     fn oauth2(&self, email: &str) -> Option<OAuth2Defaults> {
    ///         domain_in(email, &["muster-mail.de"]).then(|| OAuth2Defaults {
    ///             provider: "muster-mail".into(),
    ///             auth_url: "https://login.muster-mail.de/authorize".into(),
    ///             token_url: "https://login.muster-mail.de/token".into(),
    ///             device_url: None,
    ///             scopes: vec!["imap".into(), "smtp".into()],
    ///             scope_on_refresh: false,
    ///         })
    ///     }
    /// }
    ///
    /// assert_eq!(MusterMail.oauth2("max@muster-mail.de").map(|o| o.provider), Some("muster-mail".into()));
    /// assert_eq!(MusterMail.oauth2("max@example.de"), None);
    ///
    /// // Without an `oauth2` of its own, an adapter has no OAuth2 login.
    /// struct Plain;
    /// impl ProviderAdapter for Plain {
    ///     const ID: &'static str = "plain";
    ///     fn new() -> Self {
    ///         Plain
    ///     }
    /// }
    /// assert_eq!(Plain.oauth2("max@muster-mail.de"), None);
    /// ```
    fn oauth2(&self, email: &str) -> Option<OAuth2Defaults> {
        let _ = email;
        None
    }
}

/// A router: assigns messages to projects. Routers run in a chain; the first decision
/// that is not [`Decision::Skip`] wins.
pub trait Router: Sized {
    /// The router's id, used in `[routing] plugins` and as the prefix of its options.
    const ID: &'static str;

    /// Creates the router; called once per batch, so read options here.
    fn new() -> Self;

    /// Decides for one message.
    fn route(&self, message: &MessageMeta<'_>) -> Decision;

    /// Decides for a batch, one decision per message in order; default: [`Router::route`]
    /// for each.
    fn route_batch(&self, batch: &[MessageMeta<'_>]) -> Vec<Decision> {
        batch.iter().map(|m| self.route(m)).collect()
    }
}

/// The local part of an address (`max` of `max@example.de`).
pub fn local_part(email: &str) -> &str {
    email.rsplit_once('@').map_or(email, |(l, _)| l)
}

/// The domain of an address, lower-cased (`example.de`).
pub fn domain(email: &str) -> String {
    email.rsplit_once('@').map_or(String::new(), |(_, d)| d.trim().to_ascii_lowercase())
}

/// Whether the address's domain is one of `domains` (case-insensitive).
pub fn domain_in(email: &str, domains: &[&str]) -> bool {
    let d = domain(email);
    domains.iter().any(|x| x.eq_ignore_ascii_case(&d))
}

/// Whether `host` is one of `hosts` (case-insensitive, a trailing dot ignored).
pub fn host_in(host: Option<&str>, hosts: &[&str]) -> bool {
    host.is_some_and(|h| hosts.iter().any(|x| x.eq_ignore_ascii_case(h.trim_end_matches('.'))))
}

/// The value of `key` (case-insensitive) in an IMAP `ID` response.
pub fn server_id_value<'a>(server_id: &'a [(String, String)], key: &str) -> Option<&'a str> {
    server_id.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_str())
}

/// A [`Router`] behind a pointer: what [`register_router!`] registers, implemented for
/// every router. The SDK's exports construct the plugin's router through it for each
/// call.
pub trait AnyRouter {
    /// [`Router::ID`].
    fn id(&self) -> &'static str;
    /// [`Router::route_batch`].
    fn route_batch(&self, batch: &[MessageMeta<'_>]) -> Vec<Decision>;
}

impl<R: Router> AnyRouter for R {
    fn id(&self) -> &'static str {
        R::ID
    }

    fn route_batch(&self, batch: &[MessageMeta<'_>]) -> Vec<Decision> {
        Router::route_batch(self, batch)
    }
}

/// A [`ProviderAdapter`] behind a pointer: what [`register_provider_adapter!`]
/// registers, implemented for every adapter.
pub trait AnyAdapter {
    /// [`ProviderAdapter::ID`].
    fn id(&self) -> &'static str;
    /// [`ProviderAdapter::detect`].
    fn detect(&self, email: &str, imap_host: Option<&str>, server_id: &[(String, String)]) -> u8;
    /// [`ProviderAdapter::defaults`].
    fn defaults(&self, email: &str) -> Option<ServerDefaults>;
    /// [`ProviderAdapter::roles`].
    fn roles(&self, folders: &[Folder]) -> Vec<RoleChoice>;
    /// [`ProviderAdapter::quirks`].
    fn quirks(&self) -> Quirks;
    /// [`ProviderAdapter::folder_names`].
    fn folder_names(&self) -> Vec<FolderName>;
    /// [`ProviderAdapter::oauth2`].
    fn oauth2(&self, email: &str) -> Option<OAuth2Defaults>;
}

impl<A: ProviderAdapter> AnyAdapter for A {
    fn id(&self) -> &'static str {
        A::ID
    }

    fn detect(&self, email: &str, imap_host: Option<&str>, server_id: &[(String, String)]) -> u8 {
        ProviderAdapter::detect(self, email, imap_host, server_id)
    }

    fn defaults(&self, email: &str) -> Option<ServerDefaults> {
        ProviderAdapter::defaults(self, email)
    }

    fn roles(&self, folders: &[Folder]) -> Vec<RoleChoice> {
        ProviderAdapter::roles(self, folders)
    }

    fn quirks(&self) -> Quirks {
        ProviderAdapter::quirks(self)
    }

    fn folder_names(&self) -> Vec<FolderName> {
        ProviderAdapter::folder_names(self)
    }

    fn oauth2(&self, email: &str) -> Option<OAuth2Defaults> {
        ProviderAdapter::oauth2(self, email)
    }
}

/// Registers a [`ProviderAdapter`]: defines the constructor the SDK's exports call for
/// every call of the `provider-adapter` world. Needs the `provider-adapter` feature.
#[macro_export]
macro_rules! register_provider_adapter {
    ($adapter:ty) => {
        /// Constructs the adapter for one call from Postfach (registered with the SDK).
        #[cfg(target_arch = "wasm32")]
        #[allow(unsafe_code)]
        #[unsafe(no_mangle)]
        pub fn __postfach_new_adapter() -> ::std::boxed::Box<dyn $crate::AnyAdapter> {
            ::std::boxed::Box::new(<$adapter as $crate::ProviderAdapter>::new())
        }
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn() = || {
            fn is_adapter<T: $crate::ProviderAdapter>() {}
            is_adapter::<$adapter>();
        };
    };
}

/// Registers a [`Router`]: defines the constructor the SDK's exports call for every batch.
/// Needs the `router` feature.
#[macro_export]
macro_rules! register_router {
    ($router:ty) => {
        /// Constructs the router for one batch from Postfach (registered with the SDK).
        #[cfg(target_arch = "wasm32")]
        #[allow(unsafe_code)]
        #[unsafe(no_mangle)]
        pub fn __postfach_new_router() -> ::std::boxed::Box<dyn $crate::AnyRouter> {
            ::std::boxed::Box::new(<$router as $crate::Router>::new())
        }
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn() = || {
            fn is_router<T: $crate::Router>() {}
            is_router::<$router>();
        };
    };
}

mod export;
