//! The PostgreSQL side of the store (`[store] url = "postgres://…"`): a connection pool,
//! its own migrations, and the cluster's coordination ([`leases`]).
//!
//! Several daemons share one database. What they must agree on — who syncs which
//! account, and whether a write still belongs to the holder of that account — is
//! decided by rows in the database and its clock, never by a node's own clock.

mod accounts;
mod api;
mod bodies;
mod changes;
pub mod copy;
mod events;
mod folders;
pub mod leases;
mod manual;
mod messages;
mod oauth;
mod outbox;
mod pages;
mod plugins;
mod routing;
mod schema;
mod webhooks;

use std::borrow::Cow;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use crate::StoreError;

/// Connections per node: the account passes write through a few, the API reads through
/// the rest; a node never needs one per account.
const POOL_SIZE: usize = 16;

/// How long a store operation may wait for a free connection.
const POOL_WAIT: Duration = Duration::from_secs(30);

/// How long a new connection may take (DNS, TCP, authentication).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A pool of connections to one PostgreSQL database, migrated to this build's schema.
#[derive(Clone)]
pub struct Postgres {
    pool: Pool,
    /// The URL without any password, for errors and logs.
    target: String,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres").field("target", &self.target).finish_non_exhaustive()
    }
}

impl Postgres {
    /// Connects to `url` (`postgres://user@host[:port]/database`), with `password` when
    /// given (it overrides one in the URL), and brings the schema up to date. Fails
    /// when the server cannot be reached or refuses the login, in the server's words.
    pub async fn connect(url: &str, password: Option<&str>) -> Result<Postgres, StoreError> {
        let target = redact(url);
        let mut config = tokio_postgres::Config::from_str(url)
            .map_err(|e| StoreError::Postgres { target: target.clone(), message: format!("invalid URL: {e}") })?;
        if let Some(password) = password {
            config.password(password);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.application_name("postfachd");
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            // A pool that stays exhausted is a bug or an overloaded database: an error in
            // the account's state says so, a silent hang would not.
            .wait_timeout(Some(POOL_WAIT))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Postgres { target: target.clone(), message: e.to_string() })?;
        let pg = Postgres { pool, target };
        let mut client = pg.client().await?;
        let found = schema::migrate(&mut client).await.map_err(|e| pg.error(&e))?;
        if found > schema::KNOWN {
            return Err(StoreError::Postgres {
                target: pg.target.clone(),
                message: format!(
                    "schema version {found}, newer than this postfachd ({}); upgrade postfachd",
                    schema::KNOWN
                ),
            });
        }
        drop(client);
        Ok(pg)
    }

    /// The URL this pool connects to, without any password.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// A connection from the pool.
    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.pool.get().await.map_err(|e| {
            let message = match e {
                deadpool_postgres::PoolError::Backend(e) => pg_text(&e),
                other => other.to_string(),
            };
            StoreError::Postgres { target: self.target.clone(), message }
        })
    }

    /// A PostgreSQL error as a [`StoreError`], in the server's words.
    pub(crate) fn error(&self, e: &tokio_postgres::Error) -> StoreError {
        StoreError::Postgres { target: self.target.clone(), message: pg_text(e) }
    }
}

/// The mail store on PostgreSQL: the pool, this node's id in a cluster, and the lease a
/// clone made by [`crate::Store::fenced`] checks with every write of its account's sync.
#[derive(Clone)]
pub(crate) struct PgStore {
    pg: Postgres,
    node: Option<Arc<str>>,
    /// How long this node's holds (of webhook endpoints) last without renewal.
    hold: Duration,
    fence: Option<Arc<(String, leases::Lease)>>,
}

impl PgStore {
    pub(crate) fn new(pg: Postgres, node: Option<(&str, Duration)>) -> PgStore {
        let hold = node.map_or(Duration::from_secs(30), |(_, lease)| lease);
        PgStore { pg, node: node.map(|(id, _)| Arc::from(id)), hold, fence: None }
    }

    pub(crate) fn fenced(&self, node: &str, lease: leases::Lease) -> PgStore {
        PgStore { fence: Some(Arc::new((node.to_owned(), lease))), ..self.clone() }
    }

    pub(crate) fn pool(&self) -> &Postgres {
        &self.pg
    }

    pub(crate) fn target(&self) -> &str {
        &self.pg.target
    }

    async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.pg.client().await
    }

    /// Maps a driver error to a [`StoreError`] in the server's words.
    fn e(&self) -> impl Fn(tokio_postgres::Error) -> StoreError + '_ {
        move |err| self.pg.error(&err)
    }

    /// Inside a transaction writing sync state: fails with [`StoreError::Fenced`] when
    /// this clone's lease is no longer current. The lease row stays share-locked until
    /// the transaction ends, so no other node can claim it in between.
    async fn check_fence(&self, tx: &impl deadpool_postgres::GenericClient) -> Result<(), StoreError> {
        match &self.fence {
            Some(fence) => leases::check(&self.pg, tx, &fence.0, &fence.1).await,
            None => Ok(()),
        }
    }
}

/// Runs `future` to completion from a blocking thread (a plugin's host call asking the
/// store): it runs on the runtime that drives the pool's connections, and this thread
/// waits for its answer.
pub(crate) fn block_on<T: Send + 'static>(
    future: impl std::future::Future<Output = Result<T, StoreError>> + Send + 'static,
) -> Result<T, StoreError> {
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|e| StoreError::Task(format!("no async runtime for a PostgreSQL call: {e}")))?;
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    runtime.spawn(async move {
        let _ = tx.send(future.await);
    });
    let wait = || rx.recv().map_err(|e| StoreError::Task(e.to_string()));
    // Called on a worker of the runtime itself (the daemon's start records plugin states),
    // its other tasks move to another worker while this one waits; elsewhere this just
    // waits.
    if runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
        tokio::task::block_in_place(wait)?
    } else {
        wait()?
    }
}

/// `text` without NUL characters, which PostgreSQL's text type cannot hold (SQLite can:
/// a header with a NUL byte must not make a message unstorable).
fn text(text: &str) -> Cow<'_, str> {
    if text.contains('\0') { Cow::Owned(text.replace('\0', "")) } else { Cow::Borrowed(text) }
}

/// [`text`] of an optional value.
fn opt_text(value: &Option<String>) -> Option<Cow<'_, str>> {
    value.as_deref().map(text)
}

/// The server's own message where there is one (with its SQLSTATE), else the client's.
fn pg_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        // tokio-postgres puts the cause (connection refused, …) in the source chain.
        None => postfach_model::with_causes(e),
    }
}

/// `url` with any password replaced by `***`: errors name the database, never a secret.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let (authority, path) = rest.split_once('/').map_or((rest, None), |(a, p)| (a, Some(p)));
    let redacted = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let mut out = format!("{scheme}://{redacted}");
    if let Some(path) = path {
        out.push('/');
        // Query parameters may hold `password=`; keep only the database name.
        out.push_str(path.split('?').next().unwrap_or_default());
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_password_in_the_url_never_reaches_an_error() {
        assert_eq!(
            super::redact("postgres://pf:geheim@db.example.de/postfach"),
            "postgres://pf:***@db.example.de/postfach"
        );
        assert_eq!(super::redact("postgres://pf@db:5433/postfach?password=geheim"), "postgres://pf@db:5433/postfach");
        assert_eq!(super::redact("postgres://db"), "postgres://db");
    }
}
