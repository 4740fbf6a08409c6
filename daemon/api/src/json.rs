//! The JSON shapes of the API's answers and requests. Field names follow the CLI's
//! `--json` output (DESIGN.md): integrators and scripts rely on them; add, never rename.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use postfach_model::rfc3339;
use postfach_store::{Event, MessageSummary};

/// `GET /v1/health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` while the daemon answers.
    pub status: &'static str,
}

/// An account, as `postfachd accounts --json` shows it, plus sync progress.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountJson {
    /// The account id (file name without `.toml`).
    pub id: String,
    /// Its description.
    pub description: String,
    /// `enabled` from its file.
    pub enabled: bool,
    /// `stopped`, `connecting`, `syncing`, `idle`, `backing-off`, `auth-failed`, `disabled`, …
    pub state: String,
    /// The provider adapter serving it (or its `provider` setting until one is chosen).
    pub provider: String,
    /// When the last full pass completed (RFC 3339).
    pub last_sync: Option<String>,
    /// The last error, in the server's words.
    pub last_error: Option<String>,
    /// Consecutive failures (auto-disable after `max_failures`).
    pub failures: u32,
    /// Sync progress: messages stored, folders known, and whether a pass runs now.
    pub progress: ProgressJson,
}

/// Sync progress of an account.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgressJson {
    /// Messages stored for the account.
    pub messages: u64,
    /// Folders on the server that are synced (known, present, selectable).
    pub folders: u64,
    /// Folders completed at least once.
    pub folders_synced: u64,
    /// Whether a pass is running now.
    pub syncing: bool,
}

/// A folder, as `postfachd folders --json` shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct FolderJson {
    /// Full decoded name (`INBOX.Entwürfe`).
    pub name: String,
    /// The wire form (`INBOX.Entw&APw-rfe`).
    pub raw: String,
    /// Hierarchy segments without the namespace prefix.
    pub path: Vec<String>,
    /// The server's hierarchy delimiter.
    pub delimiter: Option<String>,
    /// LIST attributes.
    pub attributes: Vec<String>,
    /// `inbox`, `sent`, `drafts`, `trash`, `junk`, `archive`, or null.
    pub role: Option<String>,
    /// Where the role came from (`attribute`, `config`, `adapter`, `name`).
    pub role_source: Option<String>,
    /// Messages stored in it that are on the server.
    pub messages: u64,
}

/// A message in a list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageJson {
    /// Local id.
    pub local_id: i64,
    /// Account id.
    pub account: String,
    /// The folder shown.
    pub folder: Option<String>,
    /// UID in that folder.
    pub uid: Option<u32>,
    /// Message-ID without brackets.
    pub message_id: Option<String>,
    /// Subject.
    pub subject: Option<String>,
    /// From, `Name <addr>` joined with `, `.
    pub from: Option<String>,
    /// To addresses.
    pub to: Vec<String>,
    /// Cc addresses.
    pub cc: Vec<String>,
    /// Date header (RFC 3339).
    pub date: Option<String>,
    /// IMAP flags in the folder shown.
    pub flags: Vec<String>,
    /// Project, or null.
    pub project: Option<String>,
    /// Whether a copy is still on the server.
    pub on_server: bool,
    /// Every folder it is in on the server.
    pub folders: Vec<String>,
    /// Size in bytes.
    pub size: u64,
    /// Its thread (`GET /v1/threads/{thread_id}`).
    pub thread_id: Option<String>,
    /// Whether it has attachments (embedded images not counted).
    pub has_attachments: bool,
    /// The first words of its text.
    pub snippet: String,
}

impl From<MessageSummary> for MessageJson {
    fn from(m: MessageSummary) -> Self {
        MessageJson {
            local_id: m.local_id.0,
            account: m.account,
            folder: m.folder,
            uid: m.uid,
            message_id: m.message_id,
            subject: m.subject,
            from: (!m.from.is_empty()).then(|| m.from.join(", ")),
            to: m.to,
            cc: m.cc,
            date: m.date.and_then(rfc3339),
            flags: m.flags,
            project: m.project,
            on_server: m.on_server,
            folders: m.folders,
            size: m.size,
            thread_id: m.thread_id,
            has_attachments: m.has_attachments,
            snippet: m.snippet,
        }
    }
}

/// A page of messages.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessagePageJson {
    /// The messages, newest first.
    pub items: Vec<MessageJson>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// An attachment of a message.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentJson {
    /// Stable id (the MIME part's IMAP section number).
    pub id: String,
    /// The decoded file name.
    pub filename: Option<String>,
    /// `type/subtype`.
    pub content_type: String,
    /// Decoded size in bytes.
    pub size: u64,
    /// An image shown inside the HTML body.
    pub inline: bool,
}

/// One message with its content.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageDetailJson {
    /// The list fields.
    #[serde(flatten)]
    pub summary: MessageJson,
    /// The text body (made from the HTML when there is no text part).
    pub text: Option<String>,
    /// The HTML body as sent.
    pub html: Option<String>,
    /// Reply-To addresses.
    pub reply_to: Vec<String>,
    /// In-Reply-To.
    pub in_reply_to: Option<String>,
    /// References, oldest first.
    pub references: Vec<String>,
    /// Attachments.
    pub attachments: Vec<AttachmentJson>,
}

/// An event of the feed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventJson {
    /// Position in the feed.
    pub seq: i64,
    /// When (RFC 3339).
    pub at: Option<String>,
    /// The account.
    pub account: String,
    /// `new-message`, `flags`, `removed`, `routed`, `unrouted`, `reassigned`, `sent`, `failed`, `account-state`.
    pub kind: String,
    /// The message's local id, if the event concerns one.
    pub message: Option<i64>,
    /// Kind-specific details.
    #[schema(value_type = Object)]
    pub detail: Option<serde_json::Value>,
}

impl From<Event> for EventJson {
    fn from(e: Event) -> Self {
        EventJson {
            seq: e.seq,
            at: e.at.rfc3339(),
            account: e.account,
            kind: e.kind,
            message: e.message.map(|m| m.0),
            detail: e.detail.and_then(|d| serde_json::from_str(&d).ok()),
        }
    }
}

/// A page of the event feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPageJson {
    /// Events after `after`, oldest first.
    pub items: Vec<EventJson>,
    /// The seq to pass as `after` next time.
    pub last_seq: i64,
}

/// `PATCH /v1/messages/{local_id}`: flags to set (true) or clear (false).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlagsPatch {
    /// `\Seen`.
    pub seen: Option<bool>,
    /// `\Flagged`.
    pub flagged: Option<bool>,
    /// `\Answered`.
    pub answered: Option<bool>,
}

/// `POST /v1/messages/{local_id}/move`: a folder by name, or by role.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveRequest {
    /// The destination's decoded full name.
    pub folder: Option<String>,
    /// Or its role: `inbox`, `archive`, `trash`, `junk`, `sent`, `drafts`.
    pub role: Option<String>,
}

/// `POST /v1/messages/{local_id}/spam`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpamRequest {
    /// true: move to junk; false: back to the inbox.
    pub spam: bool,
}

/// `PUT /v1/messages/{local_id}/project`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectRequest {
    /// The project, or null for none.
    pub project: Option<String>,
}

/// The answer to a change of a message on the server.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeJson {
    /// The change's id.
    pub change: i64,
    /// `pending` (the account applies it when connected), `done` or `failed`.
    pub state: String,
    /// What was done, or why not, in the server's words.
    pub result: Option<String>,
}

/// The answer to a manual project assignment.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectJson {
    /// The message.
    pub local_id: i64,
    /// Its project now.
    pub project: Option<String>,
    /// The event written: `routed`, `reassigned`, `unrouted`, or null when nothing changed.
    pub event: Option<String>,
}

/// One step of an account test.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestStepJson {
    /// What was tried.
    pub step: String,
    /// Whether it worked.
    pub ok: bool,
    /// The server's words.
    pub detail: String,
}

/// `POST /v1/send`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendJson {
    /// The sending account (default: the original's for replies and forwards, else the default account).
    pub account: Option<String>,
    /// To addresses.
    #[serde(default)]
    pub to: Vec<String>,
    /// Cc addresses.
    #[serde(default)]
    pub cc: Vec<String>,
    /// Bcc addresses.
    #[serde(default)]
    pub bcc: Vec<String>,
    /// Subject (derived for replies and forwards when absent).
    pub subject: Option<String>,
    /// Plain-text body.
    pub text: Option<String>,
    /// HTML body.
    pub html: Option<String>,
    /// Attachments.
    #[serde(default)]
    pub attachments: Vec<SendAttachmentJson>,
    /// Local id of the message this answers.
    pub reply_to_local_id: Option<i64>,
    /// Local id of the message this forwards.
    pub forward_local_id: Option<i64>,
    /// Store in Drafts instead of sending.
    #[serde(default)]
    pub draft: bool,
}

/// An attachment of `POST /v1/send`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendAttachmentJson {
    /// File name.
    pub filename: String,
    /// MIME type (default `application/octet-stream`).
    pub content_type: Option<String>,
    /// The bytes, base64.
    pub content_base64: String,
}

/// The answer to `POST /v1/send`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SentJson {
    /// The outbox entry.
    pub outbox_id: i64,
    /// The Message-ID the message carries.
    pub message_id: String,
}

/// An outbox entry, as `postfachd outbox --json` shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxJson {
    /// Outbox id.
    pub id: i64,
    /// Sending account.
    pub account: String,
    /// `send` or `draft`.
    pub kind: String,
    /// `queued`, `sending`, `deferred`, `failed`, `sent`, `saved`, `cancelled`.
    pub state: String,
    /// Message-ID.
    pub message_id: String,
    /// Subject.
    pub subject: Option<String>,
    /// Envelope sender.
    pub from: String,
    /// Envelope recipients.
    pub recipients: Vec<String>,
    /// Attempts so far.
    pub attempts: u32,
    /// When the next attempt is due (waiting entries only).
    pub next_attempt_at: Option<String>,
    /// The last failure, in the server's words.
    pub last_error: Option<String>,
    /// The server's acceptance.
    pub server_reply: Option<String>,
    /// What happened to the Sent copy.
    pub copy: Option<String>,
    /// When it was queued.
    pub created_at: Option<String>,
    /// When it was sent.
    pub sent_at: Option<String>,
}

impl From<postfach_store::OutboxEntry> for OutboxJson {
    fn from(e: postfach_store::OutboxEntry) -> Self {
        use postfach_store::OutboxState;
        let waiting = matches!(e.state, OutboxState::Queued | OutboxState::Deferred);
        OutboxJson {
            id: e.id,
            account: e.account,
            kind: e.kind.as_str().to_owned(),
            state: e.state.as_str().to_owned(),
            message_id: e.message_id,
            subject: e.subject,
            from: e.envelope_from,
            recipients: e.recipients,
            attempts: e.attempts,
            next_attempt_at: waiting.then(|| e.next_attempt_at.rfc3339()).flatten(),
            last_error: e.last_error,
            server_reply: e.server_reply,
            copy: e.copy,
            created_at: e.created_at.rfc3339(),
            sent_at: e.sent_at.and_then(|t| t.rfc3339()),
        }
    }
}

/// Messages per project and account, as `postfachd projects --json`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectCountJson {
    /// The project.
    pub project: String,
    /// The account.
    pub account: String,
    /// How many of its messages are assigned to the project.
    pub messages: u64,
}

/// A webhook endpoint's delivery state.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookJson {
    /// The endpoint.
    pub url: String,
    /// The last event delivered.
    pub delivered_seq: i64,
    /// Events waiting for it.
    pub lag: i64,
    /// `ok`, `retrying` or `failing`.
    pub state: String,
    /// Failed attempts since the last success.
    pub attempts: u32,
    /// The last failure.
    pub last_error: Option<String>,
    /// When it last accepted an event.
    pub last_success_at: Option<String>,
}

/// An audited write.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditJson {
    /// Sequence number.
    pub id: i64,
    /// When.
    pub at: Option<String>,
    /// The user.
    pub user: String,
    /// The token's id.
    pub token: Option<String>,
    /// What was asked (`PATCH /v1/messages/{local_id}`).
    pub action: String,
    /// The account concerned.
    pub account: Option<String>,
    /// The object concerned.
    pub target: Option<String>,
    /// The answer's HTTP status.
    pub status: u16,
    /// A summary of the request.
    #[schema(value_type = Object)]
    pub detail: Option<serde_json::Value>,
}

impl From<postfach_store::AuditEntry> for AuditJson {
    fn from(a: postfach_store::AuditEntry) -> Self {
        let w = a.write;
        AuditJson {
            id: a.id,
            at: a.at.rfc3339(),
            user: w.user,
            token: w.token,
            action: w.action,
            account: w.account,
            target: w.target,
            status: w.status,
            detail: w.detail.and_then(|d| serde_json::from_str(&d).ok()),
        }
    }
}

/// `route explain` as JSON.
#[derive(Debug, Serialize, ToSchema)]
pub struct RouteJson {
    /// The message.
    pub local_id: i64,
    /// Its account.
    pub account: String,
    /// The folder the routers saw.
    pub folder: Option<String>,
    /// When it was last routed.
    pub routed_at: Option<String>,
    /// Each router's answer, in chain order.
    #[schema(value_type = Vec<Object>)]
    pub steps: serde_json::Value,
    /// The project now.
    pub project: Option<String>,
    /// Who decided: a router's id, or `manual`.
    pub plugin: Option<String>,
    /// A person's assignment, if any.
    #[schema(value_type = Object)]
    pub manual: Option<serde_json::Value>,
}
