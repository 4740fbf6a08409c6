//! The shape of `postfach.toml` and `accounts/<id>.toml`, as serde types.
//!
//! Every table denies unknown keys so a typo is an error with a location instead of a
//! setting that silently does nothing. Defaults live here, next to the field they belong
//! to, and the README's configuration reference mirrors this file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::secret::SecretSource;

/// `postfach.toml`: settings of the daemon itself. The file is optional; every key has a
/// default.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DaemonConfig {
    /// Where the SQLite store lives; relative to the config directory.
    pub data_dir: PathBuf,
    /// The watched directory of `<id>.toml` account files; relative to the config directory.
    pub accounts_dir: PathBuf,
    /// Directories of `*.wasm` plugins, hot-reloaded; relative to the config directory.
    pub plugin_dirs: Vec<PathBuf>,
    /// `pretty` for people, `json` for log collectors.
    pub log_format: LogFormat,
    /// Optional list of known projects; routers may only assign these.
    pub projects_file: Option<PathBuf>,
    /// Sandbox limits for plugin calls.
    pub plugins: PluginSettings,
    /// The Integration API (HTTP).
    pub api: ApiSettings,
    /// Users of the API and their groups (`group:<name>` in an account's `[access]`).
    pub users: BTreeMap<String, UserSettings>,
    /// Endpoints that receive every event as a signed POST.
    pub webhooks: Vec<WebhookSettings>,
    /// At most this many IMAP logins per minute to one server (host and port), across all
    /// accounts: a daemon starting thousands of accounts spreads their logins instead of
    /// hitting the provider with a burst it may take for an attack. 0 = no limit.
    pub imap_logins_per_minute: u32,
    /// `[store]`: where the store lives; SQLite in `data_dir` unless a PostgreSQL URL is set.
    pub store: StoreSettings,
    /// `[cluster]`: this node's place among several daemons on one PostgreSQL store.
    pub cluster: ClusterSettings,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            data_dir: PathBuf::from("data"),
            accounts_dir: PathBuf::from("accounts"),
            plugin_dirs: vec![PathBuf::from("plugins")],
            log_format: LogFormat::Pretty,
            projects_file: None,
            plugins: PluginSettings::default(),
            api: ApiSettings::default(),
            users: BTreeMap::new(),
            webhooks: Vec::new(),
            imap_logins_per_minute: 0,
            store: StoreSettings::default(),
            cluster: ClusterSettings::default(),
        }
    }
}

/// `[store]` in `postfach.toml`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    /// `postgres://user@host[:port]/database`: several daemons share this database (a
    /// cluster). Unset: SQLite in `data_dir`, one daemon.
    pub url: Option<String>,
    /// The database password (inline, `{ env }`, `{ file }` or `{ command }`).
    pub password: Option<SecretSource>,
}

/// `[cluster]` in `postfach.toml`; only with a PostgreSQL `[store] url`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSettings {
    /// This node's id, unique in the cluster; default: the host name.
    pub node_id: Option<String>,
    /// How long an account's lease lasts without renewal: a dead node's accounts move
    /// to the others within this time plus one pass.
    pub lease_secs: u32,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings { node_id: None, lease_secs: 30 }
    }
}

/// `[api]` in `postfach.toml`: where the HTTP API listens and how.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiSettings {
    /// `host:port` to listen on; `""` turns the API off.
    pub listen: String,
    /// PEM certificate chain; with `tls_key_file`, the API speaks HTTPS.
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key for `tls_cert_file`.
    pub tls_key_file: Option<PathBuf>,
    /// Must be `true` to serve plain HTTP on an address other than loopback.
    pub allow_plaintext: bool,
    /// Largest request body accepted (a send with attachments), in MiB.
    pub max_body_mib: u64,
    /// Longest time one request may take (long-polls excepted), in seconds.
    pub request_timeout_secs: u64,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            listen: "127.0.0.1:8025".to_owned(),
            tls_cert_file: None,
            tls_key_file: None,
            allow_plaintext: false,
            max_body_mib: 25,
            request_timeout_secs: 60,
        }
    }
}

/// One entry of `[users]`: `mm = { groups = ["bau"] }`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UserSettings {
    /// Groups the user belongs to, without the `group:` prefix.
    pub groups: Vec<String>,
}

/// One `[[webhooks]]` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Where events are POSTed (`http://` or `https://`).
    pub url: String,
    /// The Standard Webhooks signing secret, `whsec_<base64>`.
    pub secret: SecretSource,
    /// Event kinds to deliver; empty means every kind.
    #[serde(default)]
    pub events: Vec<String>,
    /// Accounts whose events are delivered; empty means every account.
    #[serde(default)]
    pub accounts: Vec<String>,
    /// Extra CA (PEM) to trust for an `https://` receiver with a company or test CA.
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
}

/// Log output format of the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// `[plugins]` in `postfach.toml`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginSettings {
    /// Wall-clock budget of one plugin call, in milliseconds.
    pub call_timeout_ms: u64,
    /// Linear-memory cap of one plugin instance, in MiB.
    pub memory_limit_mib: u64,
    /// Where compiled plugins are cached; default `<data_dir>/plugin-cache`.
    pub cache_dir: Option<PathBuf>,
}

impl Default for PluginSettings {
    fn default() -> Self {
        PluginSettings { call_timeout_ms: 100, memory_limit_mib: 32, cache_dir: None }
    }
}

/// One `accounts/<id>.toml` file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountFile {
    /// Shown in lists; required.
    pub description: String,
    /// Free-form admin note; never sent anywhere.
    #[serde(default)]
    pub note: Option<String>,
    /// `false` switches the account off entirely.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `false` makes the account send-only: it is never synced.
    #[serde(default = "yes")]
    pub receive: bool,
    /// `false` refuses to send from the account (drafts can still be saved).
    #[serde(default = "yes")]
    pub send: bool,
    /// The default sending account; at most one account may set this.
    #[serde(default)]
    pub default: bool,
    /// Provider adapter id, or `auto` to detect it.
    #[serde(default = "auto")]
    pub provider: String,
    /// Sender identity and signatures.
    pub identity: Identity,
    /// The IMAP server and its login.
    #[serde(default)]
    pub imap: ImapSettings,
    /// Outgoing server; credentials default to `[imap]`'s.
    #[serde(default)]
    pub smtp: SmtpSettings,
    /// Folder role overrides and the set of folders to sync.
    #[serde(default)]
    pub folders: FolderSettings,
    /// Sync schedule, window and retention.
    #[serde(default)]
    pub sync: SyncSettings,
    /// Router chain and its options.
    #[serde(default)]
    pub routing: RoutingSettings,
    /// Who owns, sees and sends as this account.
    #[serde(default)]
    pub access: AccessSettings,
    /// The OAuth2 client and provider for `auth = "oauth2"`.
    #[serde(default)]
    pub oauth2: Option<OAuth2Settings>,
}

/// `[oauth2]`: the client registered with the provider, and overrides of the endpoints
/// and scopes the provider adapter supplies.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2Settings {
    /// `google`, `microsoft` or `custom`; default: the account's provider adapter.
    #[serde(default)]
    pub provider: Option<String>,
    /// The client id of the app registered with the provider.
    pub client_id: String,
    /// The client secret; absent for public clients.
    #[serde(default)]
    pub client_secret: Option<SecretSource>,
    /// Microsoft's directory (tenant) in the endpoint URLs; default `common`.
    #[serde(default)]
    pub tenant: Option<String>,
    /// Authorization endpoint (browser flow).
    #[serde(default)]
    pub auth_url: Option<String>,
    /// Token endpoint.
    #[serde(default)]
    pub token_url: Option<String>,
    /// Device authorization endpoint (`oauth authorize --device`).
    #[serde(default)]
    pub device_url: Option<String>,
    /// Scopes to ask for.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// A refresh token from elsewhere; otherwise the one `oauth authorize` stored.
    #[serde(default)]
    pub refresh_token: Option<SecretSource>,
}

fn yes() -> bool {
    true
}

fn auto() -> String {
    "auto".to_owned()
}

/// `[identity]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// Display name, sent as `Name <email>`.
    #[serde(default)]
    pub name: Option<String>,
    /// The account's address: From, envelope sender, and the default login name.
    pub email: String,
    /// Sent as the `Organization` header.
    #[serde(default)]
    pub organization: Option<String>,
    /// Sent as the `Reply-To` header.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// Plain-text signature, appended after a `-- ` line.
    #[serde(default)]
    pub signature_text: Option<String>,
    /// HTML signature; without one, HTML bodies get the text signature, escaped.
    #[serde(default)]
    pub signature_html: Option<String>,
    /// `false` leaves the signature off replies and forwards.
    #[serde(default = "yes")]
    pub signature_on_reply: bool,
}

/// Transport security of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Implicit TLS from the first byte (IMAP 993, SMTP 465).
    #[default]
    Tls,
    /// Plain connection upgraded with STARTTLS before login (IMAP 143, SMTP 587).
    Starttls,
    /// No encryption; needs `allow_plaintext = true` when a password is sent.
    Plain,
}

/// Authentication mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMechanism {
    /// SASL PLAIN (IMAP `AUTHENTICATE PLAIN`).
    Plain,
    /// IMAP `LOGIN` / SMTP `AUTH LOGIN`.
    Login,
    /// SASL CRAM-MD5 (the password never crosses the wire).
    CramMd5,
    /// SASL XOAUTH2; `password` holds the access token.
    Xoauth2,
    /// OAuth2 with tokens the daemon refreshes itself (`[oauth2]`): SASL OAUTHBEARER where
    /// the server offers it, else XOAUTH2.
    Oauth2,
    /// No authentication (SMTP only, e.g. a relay that trusts the network).
    None,
}

/// `[imap]`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapSettings {
    /// Server host; optional when the provider adapter supplies it.
    #[serde(default)]
    pub host: Option<String>,
    /// Port; 0 or absent means the default of the security mode.
    #[serde(default)]
    pub port: u16,
    /// `tls`, `starttls` or `plain`.
    #[serde(default)]
    pub security: Security,
    /// Must be `true` to send a password over `security = "plain"`.
    #[serde(default)]
    pub allow_plaintext: bool,
    /// Login name; defaults to the identity's email address.
    #[serde(default)]
    pub username: Option<String>,
    /// The password (or XOAUTH2 token).
    #[serde(default)]
    pub password: Option<SecretSource>,
    /// `plain`, `login`, `cram-md5`, `xoauth2` or `oauth2`; default `plain`.
    #[serde(default)]
    pub auth: Option<AuthMechanism>,
    /// Connect, TLS and per-command timeout in seconds.
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// Extra PEM trust anchor(s) besides the public web roots.
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
    /// Overrides the hierarchy separator the server reports in LIST.
    #[serde(default)]
    pub hierarchy_separator: Option<String>,
}

/// `[smtp]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    /// Server host; optional when the provider adapter supplies it.
    #[serde(default)]
    pub host: Option<String>,
    /// Port; 0 or absent means the default of the security mode.
    #[serde(default)]
    pub port: u16,
    /// `tls`, `starttls` or `plain`.
    #[serde(default)]
    pub security: Security,
    /// Must be `true` to send a password over `security = "plain"`.
    #[serde(default)]
    pub allow_plaintext: bool,
    /// Login name; defaults to `[imap]`'s.
    #[serde(default)]
    pub username: Option<String>,
    /// Password; defaults to `[imap]`'s.
    #[serde(default)]
    pub password: Option<SecretSource>,
    /// `plain`, `login`, `cram-md5`, `xoauth2`, `oauth2` or `none`; default: `oauth2` when
    /// `[imap]` uses it, else PLAIN or LOGIN, whichever the server offers.
    #[serde(default)]
    pub auth: Option<AuthMechanism>,
    /// Timeout in seconds; defaults to `[imap]`'s.
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// Extra PEM trust anchor(s); defaults to `[imap]`'s.
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
    /// First retry after a temporary failure (4xx, connection); doubles per attempt.
    #[serde(default = "smtp_retry_initial")]
    pub retry_initial_secs: u64,
    /// Longest wait between attempts, in seconds.
    #[serde(default = "smtp_retry_max")]
    pub retry_max_secs: u64,
    /// Give up on a message (state `failed`) this many hours after it was enqueued.
    #[serde(default = "smtp_give_up")]
    pub give_up_after_hours: u64,
}

fn smtp_retry_initial() -> u64 {
    30
}

fn smtp_retry_max() -> u64 {
    3600
}

fn smtp_give_up() -> u64 {
    48
}

impl Default for SmtpSettings {
    fn default() -> Self {
        SmtpSettings {
            host: None,
            port: 0,
            security: Security::default(),
            allow_plaintext: false,
            username: None,
            password: None,
            auth: None,
            timeout_secs: None,
            tls_ca_file: None,
            retry_initial_secs: smtp_retry_initial(),
            retry_max_secs: smtp_retry_max(),
            give_up_after_hours: smtp_give_up(),
        }
    }
}

/// `[folders]`: role overrides (full mailbox names as listed, decoded) and the sync set.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FolderSettings {
    /// The inbox, when it is not `INBOX`.
    #[serde(default)]
    pub inbox: Option<String>,
    /// Where sent mail goes.
    #[serde(default)]
    pub sent: Option<String>,
    /// The drafts folder; the outbox stores drafts here.
    #[serde(default)]
    pub drafts: Option<String>,
    /// The trash folder; a `delete` change moves messages here.
    #[serde(default)]
    pub trash: Option<String>,
    /// The spam folder; the key `spam` is accepted too.
    #[serde(default, alias = "spam")]
    pub junk: Option<String>,
    /// Where mail goes after the sync window (`after_window = "archive"`).
    #[serde(default)]
    pub archive: Option<String>,
    /// Folder patterns to sync (`*` matches any run of characters); default: every
    /// selectable folder.
    #[serde(default)]
    pub sync: Option<Vec<String>>,
}

impl FolderSettings {
    /// The role overrides as `(role name, folder)`, in a fixed order.
    pub fn overrides(&self) -> [(&'static str, Option<&str>); 6] {
        [
            ("inbox", self.inbox.as_deref()),
            ("sent", self.sent.as_deref()),
            ("drafts", self.drafts.as_deref()),
            ("trash", self.trash.as_deref()),
            ("junk", self.junk.as_deref()),
            ("archive", self.archive.as_deref()),
        ]
    }
}

/// What happens on the server to mail older than the sync window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AfterWindow {
    /// Leave it on the server (it is simply no longer synced).
    #[default]
    Keep,
    /// Move it to `folders.archive`.
    Archive,
    /// Delete it on the server (the store keeps it).
    Delete,
}

/// Which message bodies a sync downloads (`[sync] bodies`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bodies {
    /// Every message in full, as it arrives.
    #[default]
    All,
    /// Headers, size and flags only; the body is fetched the first time the CLI or the
    /// API asks for it, and kept from then on. Routing works on the headers.
    OnDemand,
}

/// `[sync]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncSettings {
    /// Polling interval in seconds where IDLE is unavailable.
    pub interval_secs: u64,
    /// Use IMAP IDLE where the server offers it.
    pub idle: bool,
    /// Folders watched with IDLE besides the inbox (patterns as in `folders.sync`), each on
    /// its own connection, as far as the provider's connection limit allows.
    pub idle_folders: Vec<String>,
    /// Re-issue IDLE at least this often, in seconds (absent: the provider's
    /// `idle-refresh-secs`, else 29 minutes). Each renewal is also the check that the
    /// connection still carries answers: a connection that went silent (a NAT gateway that
    /// forgot it, a stalled server) is noticed at the next renewal at the latest.
    pub idle_renew_secs: Option<u64>,
    /// Messages larger than this many MiB are left on the server (and named in the
    /// account's status) instead of being fetched.
    pub max_message_mib: u64,
    /// Download every body (`all`) or only headers until a body is asked for (`on-demand`).
    pub bodies: Bodies,
    /// Only mail younger than this many days is synced; absent = all mail.
    pub window_days: Option<u32>,
    /// What to do on the server with mail older than the window.
    pub after_window: AfterWindow,
    /// Delete server copies after N days per role (0 = never).
    pub server_retention_days: RetentionDays,
    /// Consecutive failures before the account is auto-disabled.
    pub max_failures: u32,
    /// First retry delay after a failure; doubles per failure (with jitter).
    pub retry_initial_secs: u64,
    /// Upper bound of the retry delay, in seconds.
    pub retry_max_secs: u64,
}

impl Default for SyncSettings {
    fn default() -> Self {
        SyncSettings {
            interval_secs: 300,
            idle: true,
            idle_folders: Vec::new(),
            idle_renew_secs: None,
            max_message_mib: 256,
            bodies: Bodies::All,
            window_days: None,
            after_window: AfterWindow::Keep,
            server_retention_days: RetentionDays::default(),
            max_failures: 5,
            retry_initial_secs: 2,
            retry_max_secs: 300,
        }
    }
}

/// `server_retention_days = { inbox = 0, junk = 30, sent = 0 }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionDays {
    /// Days before inbox mail is deleted on the server; 0 = never.
    pub inbox: u32,
    /// Days before junk is deleted on the server; 0 = never.
    #[serde(alias = "spam")]
    pub junk: u32,
    /// Days before sent mail is deleted on the server; 0 = never.
    pub sent: u32,
}

/// `[routing]`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingSettings {
    /// Router plugin ids, evaluated in order; the first decision wins.
    #[serde(default)]
    pub plugins: Vec<String>,
    /// `"<plugin>.<key>" = value`, readable by plugins through `host.option`.
    #[serde(default)]
    pub options: BTreeMap<String, toml::Value>,
}

/// Whether an account belongs to a person or a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountKind {
    /// A personal account.
    #[default]
    User,
    /// A shared account of a group.
    Group,
}

/// `[access]`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessSettings {
    /// `user` or `group` account.
    #[serde(default)]
    pub kind: AccountKind,
    /// The owning user (or group for group accounts).
    #[serde(default)]
    pub owner: Option<String>,
    /// Users and `group:<name>` entries who may see incoming mail.
    #[serde(default)]
    pub visible_to: Vec<String>,
    /// Users and groups who may send as this account.
    #[serde(default)]
    pub send_as: Vec<String>,
}
