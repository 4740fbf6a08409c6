//! The command line: argument definitions and one module per command group.
//!
//! Every command takes `--config DIR`; listing commands print a table, or a JSON array
//! with `--json`. Exit status: 0 success, 1 a user-facing error (printed on stderr),
//! 2 a usage error.

mod accounts;
mod api;
mod autoconfig;
mod backup;
mod changes;
mod check;
mod cluster;
mod docs;
mod folders;
mod import;
mod messages;
mod oauth;
mod outbox;
mod output;
mod plugins;
mod probe;
mod routing;
mod send;
mod sync;

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::config::{Account, Config, ConfigError, ConfigErrors};
use crate::daemon::DaemonError;
use crate::imap::ImapError;
use crate::store::{Store, StoreError};

/// Postfach: keeps IMAP/SMTP accounts in sync with a local store.
#[derive(Debug, Parser)]
#[command(name = "postfachd", version, about, long_about = None)]
pub struct Cli {
    /// The config directory (postfach.toml, accounts/).
    #[arg(long, global = true, env = "POSTFACH_CONFIG", default_value = "/etc/postfach")]
    pub config: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon (SIGHUP reloads, SIGTERM stops cleanly).
    Run,
    /// One full sync pass (all accounts or one), then exit; for cron and benchmarks.
    Sync {
        /// Only this account.
        account: Option<String>,
        /// Required: run a single pass (the continuous mode is `postfachd run`).
        #[arg(long, required = true)]
        once: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Validate every config file; exit 1 with path:line:col: message on any error.
    Check,
    /// List accounts with their state.
    Accounts {
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// List an account's folders (stored, or fresh from the server with --refresh).
    Folders {
        /// The account id.
        account: String,
        /// Connect to the server and load the folder list now.
        #[arg(long)]
        refresh: bool,
        /// Create the missing sent, drafts, trash, junk and archive folders on the server
        /// (provider naming, the server's separator); implies --refresh.
        #[arg(long)]
        create_missing: bool,
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// List stored messages.
    Messages {
        /// The account id.
        account: String,
        /// Only messages in this folder (decoded full name, e.g. `INBOX.Entwürfe`).
        #[arg(long)]
        folder: Option<String>,
        /// Only messages assigned to this project.
        #[arg(long)]
        project: Option<String>,
        /// At most this many (newest first).
        #[arg(long)]
        limit: Option<usize>,
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// List the loaded plugins: id, kind, API version, state (ok, quarantined + why).
    Plugins {
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Print a ready account file for an address, from the provider adapters.
    Autoconfig {
        /// The address.
        email: String,
    },
    /// Write the man pages and the bash, zsh and fish completions into DIR (for packaging).
    #[command(hide = true)]
    Docs {
        /// Where to write `man/` and `completions/`.
        #[arg(long)]
        out: PathBuf,
    },
    /// Copy the store to FILE, consistently, while the daemon keeps running.
    Backup {
        /// The file to write (must not exist).
        #[arg(long)]
        to: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The cluster (a PostgreSQL store shared by several daemons): its nodes and each
    /// account's holder.
    Cluster {
        /// What to show.
        #[command(subcommand)]
        action: ClusterAction,
    },
    /// The store as a whole: move it between SQLite and PostgreSQL.
    Store {
        /// What to do.
        #[command(subcommand)]
        action: StoreAction,
    },
    /// Put a backup in place of the store (the daemon must be stopped); the old store is kept aside.
    Restore {
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Messages per project and account.
    Projects {
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Routing: explain a message's routing, or replay an account's mail through a chain.
    Route {
        /// What to do.
        #[command(subcommand)]
        action: RouteAction,
    },
    /// Test an account: IMAP login + LIST, SMTP connect + EHLO + AUTH; no mail is sent.
    Test {
        /// The account id.
        account: String,
        /// Print a JSON array of steps.
        #[arg(long)]
        json: bool,
    },
    /// Send a short test message from an account, right away.
    SendTest {
        /// The account id.
        account: String,
        /// The recipient.
        #[arg(long, required = true)]
        to: Vec<String>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Put a message in the outbox (the running daemon delivers it), or deliver it now.
    Send(SendCommand),
    /// Print a stored message's RFC 5322 source. With `[sync] bodies = "on-demand"` a
    /// message stored header-only is fetched from the server first, and kept.
    Show {
        /// The message's local id (from `postfachd messages`).
        local_id: i64,
    },
    /// Mark a stored message read, unread, flagged, answered … on the server.
    #[command(group(clap::ArgGroup::new("what").required(true).multiple(true)))]
    Mark {
        /// The message's local id (from `postfachd messages`).
        local_id: i64,
        /// Set \Seen.
        #[arg(long, group = "what", conflicts_with = "unread")]
        read: bool,
        /// Clear \Seen.
        #[arg(long, group = "what")]
        unread: bool,
        /// Set \Flagged.
        #[arg(long, group = "what", conflicts_with = "unflag")]
        flag: bool,
        /// Clear \Flagged.
        #[arg(long, group = "what")]
        unflag: bool,
        /// Set \Answered.
        #[arg(long, group = "what", conflicts_with = "unanswered")]
        answered: bool,
        /// Clear \Answered.
        #[arg(long, group = "what")]
        unanswered: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a message on the server: into the trash, or for good when it is in the
    /// trash already (the store keeps it, marked gone from the server).
    Delete {
        /// The message's local id.
        local_id: i64,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Move a message to the server's junk folder (trains the provider's filter), or with
    /// `--not-spam` back to the inbox.
    Spam {
        /// The message's local id.
        local_id: i64,
        /// Not spam: move it from the junk folder back to the inbox.
        #[arg(long)]
        not_spam: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Import an mbox file or a maildir (from a POP3-era mail client) into an account's
    /// store; mail that later syncs over IMAP is never stored twice.
    Import {
        /// The account id.
        account: String,
        /// An mbox file, or a maildir (with cur/ and new/).
        path: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Queued, sent and failed messages with the server's words; `retry ID` queues one again.
    Outbox {
        /// What to do; lists the outbox when absent.
        #[command(subcommand)]
        action: Option<OutboxAction>,
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// API tokens: create (shown once), list, revoke.
    Token {
        /// What to do.
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Every write made through the API: who, with which token, what, when.
    Audit {
        /// At most this many entries, newest first.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// OAuth2 logins: authorize an account at its provider, show refresh state, forget tokens.
    Oauth {
        /// What to do.
        #[command(subcommand)]
        action: OAuthAction,
    },
    /// Webhook endpoints: delivered seq, lag, state and last error; `secret` makes a signing secret.
    Webhooks {
        /// What to do; lists the endpoints when absent.
        #[command(subcommand)]
        action: Option<WebhookAction>,
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
}

/// `postfachd cluster …`.
#[derive(Debug, Subcommand)]
pub enum ClusterAction {
    /// Nodes (id, last seen, accounts held) and each account's holder and epoch.
    Status {
        /// Print `{"nodes": [...], "accounts": [...]}`.
        #[arg(long)]
        json: bool,
    },
}

/// `postfachd store …`.
#[derive(Debug, Subcommand)]
pub enum StoreAction {
    /// Copy the whole store into an empty one on the other backend, checked by counts and
    /// hashes: from SQLite to `postgres://user@host/db` (then set `[store] url`), or from
    /// PostgreSQL (`[store] url`) to a new SQLite file. No daemon may run on the source.
    Copy {
        /// `postgres://…` (from SQLite), or a new SQLite file (from PostgreSQL).
        #[arg(long)]
        to: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `postfachd token …`.
#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Create a token and print it (once: only its hash is stored).
    Create {
        /// The user it acts as (from [users] in postfach.toml, unless --admin).
        #[arg(long)]
        user: String,
        /// It sees every account and may do everything.
        #[arg(long)]
        admin: bool,
        /// read, write, send or metrics; repeat for several (default: read).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Limit it to this account; repeat for several.
        #[arg(long = "account")]
        accounts: Vec<String>,
        /// It stops working after this many days.
        #[arg(long)]
        expires_days: Option<u32>,
        /// Print `{"id": …, "token": "pf_…"}`.
        #[arg(long)]
        json: bool,
    },
    /// List tokens: id, user, admin, scopes, accounts, created, expires, last used.
    List {
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token at once.
    Revoke {
        /// The token's id (`tok_…`).
        id: String,
    },
}

/// `postfachd oauth …`.
#[derive(Debug, Subcommand)]
pub enum OAuthAction {
    /// Authorize at the provider: open the printed URL (a redirect to 127.0.0.1 finishes
    /// it), or with --device enter the printed code on the provider's page.
    Authorize {
        /// The account (`auth = "oauth2"`).
        account: String,
        /// Use the device-code flow (for a machine without a browser).
        #[arg(long)]
        device: bool,
        /// Give up waiting for the browser after this many seconds.
        #[arg(long, default_value_t = crate::oauth::AUTHORIZE_TIMEOUT.as_secs())]
        timeout_secs: u64,
    },
    /// Per account: refresh token present, access token expiry, last refresh, last error.
    Status {
        /// Only this account.
        account: Option<String>,
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Delete the stored tokens of an account.
    Forget {
        /// The account.
        account: String,
    },
}

/// `postfachd webhooks …`.
#[derive(Debug, Subcommand)]
pub enum WebhookAction {
    /// Print a new random signing secret (`whsec_…`) for a [[webhooks]] entry.
    Secret,
}

/// `postfachd send …`.
#[derive(Debug, clap::Args)]
pub struct SendCommand {
    /// The sending account; the one with `default = true` when absent (for replies and
    /// forwards: the original's account).
    pub account: Option<String>,
    /// Recipient; repeat, or list several separated by commas.
    #[arg(long)]
    pub to: Vec<String>,
    /// Copy recipient.
    #[arg(long)]
    pub cc: Vec<String>,
    /// Blind copy recipient (never in the header).
    #[arg(long)]
    pub bcc: Vec<String>,
    /// Subject (replies and forwards default to `Re:`/`Fwd:` and the original's).
    #[arg(long)]
    pub subject: Option<String>,
    /// The text body from a file; `-` reads standard input.
    #[arg(long)]
    pub body_file: Option<PathBuf>,
    /// The text body.
    #[arg(long, conflicts_with = "body_file")]
    pub body: Option<String>,
    /// An HTML body (sent as multipart/alternative with the text).
    #[arg(long)]
    pub html_file: Option<PathBuf>,
    /// A file to attach; repeat for more.
    #[arg(long)]
    pub attach: Vec<PathBuf>,
    /// Reply to this stored message (In-Reply-To, References; To defaults to its sender).
    #[arg(long)]
    pub reply_to_local_id: Option<i64>,
    /// Forward this stored message as an attachment.
    #[arg(long, conflicts_with = "reply_to_local_id")]
    pub forward_local_id: Option<i64>,
    /// Save to the server's Drafts folder instead of sending.
    #[arg(long)]
    pub draft: bool,
    /// Deliver now, from this process, and report the server's answer.
    #[arg(long)]
    pub now: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `postfachd outbox …`.
#[derive(Debug, Subcommand)]
pub enum OutboxAction {
    /// Queue a failed or deferred message again, now.
    Retry {
        /// The outbox id.
        id: i64,
    },
}

/// `postfachd route …`.
#[derive(Debug, Subcommand)]
pub enum RouteAction {
    /// Which routers ran for a message, what each answered, and which won.
    Explain {
        /// The message's local id (from `postfachd messages`).
        local_id: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Replay an account's stored messages through its router chain; prints what would
    /// change and writes nothing.
    DryRun {
        /// The account id.
        account: String,
        /// A router file to try: it replaces the installed router with the same id (or
        /// joins the end of the chain).
        #[arg(long)]
        plugin: Option<PathBuf>,
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
}

/// A failed command. Its text is printed as is on stderr.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A config file problem.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Several config problems.
    #[error(transparent)]
    ConfigErrors(#[from] ConfigErrors),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The IMAP server or connection failed.
    #[error(transparent)]
    Imap(#[from] ImapError),
    /// An account pass failed.
    #[error(transparent)]
    Pass(#[from] crate::pass::PassError),
    /// The plugin engine could not be created.
    #[error(transparent)]
    Plugins(#[from] crate::plugins::EngineError),
    /// A blocking task failed (a bug).
    #[error("internal error: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// A mail export could not be read.
    #[error(transparent)]
    Import(#[from] crate::import::ImportError),
    /// A body to be fetched on demand could not be.
    #[error(transparent)]
    Body(#[from] crate::bodies::FetchError),
    /// The daemon could not run.
    #[error(transparent)]
    Daemon(#[from] DaemonError),
    /// A message could not be queued.
    #[error(transparent)]
    Send(#[from] crate::outbox::SendError),
    /// No account file and no stored mail with this id.
    #[error("no account `{id}` in {} (known: {})", dir.display(), list_or_none(known))]
    UnknownAccount {
        /// The id asked for.
        id: String,
        /// The accounts directory looked in.
        dir: PathBuf,
        /// The ids that exist (removed accounts marked as such).
        known: Vec<String>,
    },
    /// No stored message has this local id.
    #[error("no stored message with local id {0} (see `postfachd messages ACCOUNT`)")]
    UnknownMessage(crate::model::MessageId),
    /// The account has no stored folder of this name.
    #[error(
        "account `{account}` has no folder `{folder}` (known: {}); names are the decoded full names as \
         `postfachd folders {account}` shows them",
        if known.is_empty() { "none synced yet".to_owned() } else { known.join(", ") }
    )]
    UnknownFolder {
        /// The account.
        account: String,
        /// The folder asked for.
        folder: String,
        /// The folders it has.
        known: Vec<String>,
    },
    /// The account's file says `enabled = false`.
    #[error("account `{0}` is disabled (enabled = false in its file)")]
    AccountDisabled(String),
    /// No outbox entry has this id.
    #[error("no outbox entry #{0}")]
    UnknownOutboxEntry(i64),
    /// Only failed or deferred entries can be retried.
    #[error("outbox #{id} is {state}; only failed or deferred messages can be retried")]
    NotRetryable {
        /// The entry.
        id: i64,
        /// Where it stands.
        state: crate::store::OutboxState,
    },
    /// A file named on the command line could not be read.
    #[error("cannot read {what} {}: {source}", path.display())]
    ReadFile {
        /// What the file was for (`body file`, `attachment`).
        what: &'static str,
        /// The file (`-` for standard input).
        path: PathBuf,
        /// The OS's words.
        source: std::io::Error,
    },
    /// Standard output could not be written (a closed pipe).
    #[error("cannot write to standard output: {0}")]
    Output(std::io::Error),
    /// A text file is not UTF-8.
    #[error("{what} {} is not UTF-8 text", path.display())]
    NotText {
        /// What the file was for.
        what: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// The stored message cannot serve as asked (no header, no Message-ID to reply to).
    #[error("message {id} {problem}")]
    UnusableMessage {
        /// Its local id.
        id: i64,
        /// What it lacks.
        problem: &'static str,
    },
    /// The arguments do not fit together; the text says how to call it.
    #[error("{0}")]
    Usage(&'static str),
    /// A record this command just wrote is gone (another process removed it).
    #[error("{what} #{id} vanished from the store")]
    Vanished {
        /// `change` or `outbox`.
        what: &'static str,
        /// Its id.
        id: i64,
    },
    /// `autoconfig` was given something that is not an address.
    #[error("`{0}` is not an email address")]
    NotAnAddress(String),
    /// No provider adapter knows the servers of this address.
    #[error("no provider adapter knows servers for `{0}`; write the [imap] and [smtp] hosts yourself")]
    NoServersKnown(String),
    /// `route explain` for a message no routing run has seen.
    #[error("message {0} has not been routed (unknown id, or no sync since it arrived)")]
    NotRouted(crate::model::MessageId),
    /// `route dry-run --plugin FILE` cannot use the file.
    #[error("{}: {problem}", path.display())]
    RouterFile {
        /// The file given.
        path: PathBuf,
        /// What is wrong with it (not a file, an adapter, not loadable and why).
        problem: String,
    },
    /// More than one account claims `default = true` (the loader lets only one through, so
    /// this means the files changed while the command ran).
    #[error("several accounts have default = true ({}); name one", .0.join(", "))]
    SeveralDefaults(Vec<String>),
    /// `token create` with a bad argument; the text says which and why.
    #[error("{0}")]
    Token(String),
    /// `token revoke` of an id that does not exist.
    #[error("no token `{0}` (see `postfachd token list`)")]
    UnknownToken(String),
    /// An OAuth2 command failed; the text says why and what to do.
    #[error("{0}")]
    OAuth(String),
    /// The system's random source failed.
    #[error(transparent)]
    Random(#[from] postfach_api::auth::RandomError),
    /// The man pages or completions could not be written.
    #[error("{0}")]
    Docs(String),
    /// A backup or restore cannot be done; the text says why.
    #[error("{0}")]
    Backup(String),
    /// A cluster command cannot be done; the text says why.
    #[error("{0}")]
    Cluster(String),
    /// The command printed its own failure report already.
    #[error("")]
    Reported,
}

impl From<crate::cluster::ClusterError> for CliError {
    fn from(e: crate::cluster::ClusterError) -> Self {
        match e {
            crate::cluster::ClusterError::Store(e) => CliError::Store(e),
            other => CliError::Cluster(other.to_string()),
        }
    }
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let dir = cli.config.clone();
    if matches!(cli.command, Command::Backup { .. } | Command::Restore { .. })
        && let Ok(config) = Config::load(&dir)
        && let Some(url) = &config.daemon.store.url
    {
        // These work on the SQLite file; better a clear refusal than a copy of an empty
        // SQLite store while the mail is in PostgreSQL.
        return Err(CliError::Cluster(format!(
            "store.url = {} (PostgreSQL): this command works on a SQLite store; back up PostgreSQL with its own \
             tools (pg_dump)",
            crate::store::postgres::redact(url)
        )));
    }
    match cli.command {
        Command::Run => {
            let config = Config::load(&dir)?;
            crate::daemon::run(config).await?;
            Ok(())
        }
        Command::Check => check::run(&dir).await,
        Command::Sync { account, once: _, json } => sync::run(&Config::load(&dir)?, account.as_deref(), json).await,
        Command::Accounts { json } => accounts::run(&Config::load(&dir)?, json).await,
        Command::Folders { account, refresh, create_missing, json } => {
            folders::run(&Config::load(&dir)?, &account, refresh, create_missing, json).await
        }
        Command::Mark { local_id, read, unread, flag, unflag, answered, unanswered, json } => {
            let mut add = Vec::new();
            let mut remove = Vec::new();
            for (set, clear, flag_name) in
                [(read, unread, "\\Seen"), (flag, unflag, "\\Flagged"), (answered, unanswered, "\\Answered")]
            {
                if set {
                    add.push(flag_name.to_owned());
                }
                if clear {
                    remove.push(flag_name.to_owned());
                }
            }
            changes::run(&Config::load(&dir)?, local_id, crate::store::Op::Flags, add, remove, json).await
        }
        Command::Delete { local_id, json } => {
            changes::run(&Config::load(&dir)?, local_id, crate::store::Op::Delete, vec![], vec![], json).await
        }
        Command::Spam { local_id, not_spam, json } => {
            let op = if not_spam { crate::store::Op::NotSpam } else { crate::store::Op::Spam };
            changes::run(&Config::load(&dir)?, local_id, op, vec![], vec![], json).await
        }
        Command::Import { account, path, json } => import::run(&Config::load(&dir)?, &account, &path, json).await,
        Command::Messages { account, folder, project, limit, json } => {
            messages::run(&Config::load(&dir)?, &account, folder, project, limit, json).await
        }
        Command::Plugins { json } => plugins::run(&Config::load(&dir)?, json).await,
        Command::Autoconfig { email } => autoconfig::run(&Config::load(&dir)?, &email).await,
        Command::Projects { json } => routing::projects(&Config::load(&dir)?, json).await,
        Command::Docs { out } => docs::write(&out),
        Command::Backup { to, json } => backup::backup(&Config::load(&dir)?, &to, json).await,
        Command::Cluster { action: ClusterAction::Status { json } } => {
            cluster::status(&Config::load(&dir)?, json).await
        }
        Command::Store { action: StoreAction::Copy { to, json } } => {
            backup::copy(&Config::load(&dir)?, &to, json).await
        }
        Command::Restore { from, json } => backup::restore(&Config::load(&dir)?, &from, json).await,
        Command::Route { action: RouteAction::Explain { local_id, json } } => {
            routing::explain(&Config::load(&dir)?, local_id, json).await
        }
        Command::Route { action: RouteAction::DryRun { account, plugin, json } } => {
            routing::dry_run(&Config::load(&dir)?, &account, plugin.as_deref(), json).await
        }
        Command::Show { local_id } => messages::show(&Config::load(&dir)?, local_id).await,
        Command::Test { account, json } => probe::run(&Config::load(&dir)?, &account, json).await,
        Command::SendTest { account, to, json } => send::test(&Config::load(&dir)?, &account, &to, json).await,
        Command::Send(args) => send::run(&Config::load(&dir)?, &args).await,
        Command::Outbox { action: None, json } => outbox::list(&Config::load(&dir)?, json).await,
        Command::Outbox { action: Some(OutboxAction::Retry { id }), json: _ } => {
            outbox::retry(&Config::load(&dir)?, id).await
        }
        Command::Token { action: TokenAction::Create { user, admin, scopes, accounts, expires_days, json } } => {
            let request = api::NewToken { user, admin, scopes, accounts, expires_days };
            api::create_token(&Config::load(&dir)?, request, json).await
        }
        Command::Token { action: TokenAction::List { json } } => api::list_tokens(&Config::load(&dir)?, json).await,
        Command::Token { action: TokenAction::Revoke { id } } => api::revoke_token(&Config::load(&dir)?, &id).await,
        Command::Audit { limit, json } => api::audit(&Config::load(&dir)?, limit, json).await,
        Command::Oauth { action: OAuthAction::Authorize { account, device, timeout_secs } } => {
            let timeout = std::time::Duration::from_secs(timeout_secs.max(1));
            oauth::authorize(&Config::load(&dir)?, &account, device, timeout).await
        }
        Command::Oauth { action: OAuthAction::Status { account, json } } => {
            oauth::status(&Config::load(&dir)?, account.as_deref(), json).await
        }
        Command::Oauth { action: OAuthAction::Forget { account } } => {
            oauth::forget(&Config::load(&dir)?, &account).await
        }
        Command::Webhooks { action: None, json } => api::webhooks(&Config::load(&dir)?, json).await,
        Command::Webhooks { action: Some(WebhookAction::Secret), json: _ } => api::new_webhook_secret(),
    }
}

/// Loads the plugins for a one-shot command (compiling off the async runtime).
async fn plugin_host(config: &Config) -> Result<Arc<crate::plugins::PluginHost>, CliError> {
    let config = config.clone();
    Ok(tokio::task::spawn_blocking(move || crate::daemon::plugin_host(&config, None)).await??)
}

/// Opens the store of a config: SQLite in the data directory, or the PostgreSQL
/// database of `[store] url`.
async fn open_store(config: &Config) -> Result<Store, CliError> {
    if config.daemon.store.url.is_some() {
        return Ok(Store::on_postgres(cluster::connect(config).await?, None));
    }
    Ok(Store::open(&config.store_path())?)
}

/// Loads one account by id, with a helpful error when it is unknown or invalid.
async fn load_account(config: &Config, id: &str) -> Result<Account, CliError> {
    let set = config.load_accounts();
    if let Some(account) = set.accounts.get(id) {
        return Ok(account.clone());
    }
    if let Some(errors) = set.errors.get(id) {
        return Err(CliError::ConfigErrors(errors.clone()));
    }
    let mut known: Vec<String> = set.accounts.keys().cloned().collect();
    // Removed accounts whose mail the store still serves (`messages` lists it).
    if config.store_path().exists()
        && let Ok(store) = Store::open(&config.store_path())
        && let Ok(rows) = store.accounts().await
    {
        known.extend(
            rows.into_iter().filter(|r| !set.accounts.contains_key(&r.id)).map(|r| format!("{} (removed)", r.id)),
        );
    }
    known.sort();
    known.dedup();
    Err(CliError::UnknownAccount { id: id.to_owned(), dir: config.accounts_dir(), known })
}

/// `a, b, c`, or `none`.
fn list_or_none(items: &[String]) -> String {
    if items.is_empty() { "none".to_owned() } else { items.join(", ") }
}
