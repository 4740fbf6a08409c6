//! What the API asks of the daemon around it: the account tasks, the outbox loop, the
//! account test and composing mail live in the `postfach` crate, which depends on this
//! one, so the API reaches them through this trait (the daemon implements it; tests of
//! the API alone can implement it too).

use futures::future::BoxFuture;

use postfach_store::NewOutboxEntry;

/// One step of an account test, with the server's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestStep {
    /// What was tried (`IMAP login at …`, `SMTP AUTH`).
    pub step: String,
    /// Whether it worked.
    pub ok: bool,
    /// The server's words, or why it could not be tried.
    pub detail: String,
}

/// A file to attach to a message sent over the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendAttachment {
    /// The file name the recipient sees.
    pub filename: String,
    /// Its MIME type.
    pub content_type: String,
    /// The decoded bytes.
    pub bytes: Vec<u8>,
}

/// A message to compose, as `POST /v1/send` describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendRequest {
    /// The sending account; default: the replied-to or forwarded message's, else the default account.
    pub account: Option<String>,
    /// To addresses.
    pub to: Vec<String>,
    /// Cc addresses.
    pub cc: Vec<String>,
    /// Bcc addresses (envelope only).
    pub bcc: Vec<String>,
    /// Subject; replies and forwards derive one when absent.
    pub subject: Option<String>,
    /// Plain-text body.
    pub text: Option<String>,
    /// HTML body.
    pub html: Option<String>,
    /// Attachments.
    pub attachments: Vec<SendAttachment>,
    /// The stored message this answers.
    pub reply_to_local_id: Option<i64>,
    /// The stored message this forwards.
    pub forward_local_id: Option<i64>,
    /// Store in Drafts instead of sending.
    pub draft: bool,
}

/// Why a message could not be composed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComposeFailure {
    /// The request is inconsistent or incomplete (answered 400).
    Invalid(String),
    /// A referenced account or message does not exist (answered 404).
    NotFound(String),
    /// It cannot be sent from that account (disabled, send-only off; answered 422).
    Refused(String),
    /// The store failed (answered 503).
    Unavailable(String),
}

/// The daemon's side of the API.
pub trait Control: Send + Sync + 'static {
    /// Asks a running account for a full sync pass now; false if the account does not run.
    fn sync_now(&self, account: &str) -> bool;
    /// Tells an account's task that local changes wait to be applied.
    fn changes_pending(&self, account: &str);
    /// Tells the outbox loop that an entry is due.
    fn outbox_changed(&self);
    /// Runs the account test (IMAP login and LIST, SMTP connect and AUTH; nothing sent).
    fn test_account(&self, account: String) -> BoxFuture<'static, Result<Vec<TestStep>, String>>;
    /// Builds a message for the outbox; the entry names the chosen account.
    fn compose(&self, request: SendRequest) -> BoxFuture<'static, Result<NewOutboxEntry, ComposeFailure>>;
    /// Fetches and stores the body of a message stored header-only (`[sync] bodies =
    /// "on-demand"`); an error says, in the server's words, why it could not be.
    fn fetch_body(&self, account: String, message: i64) -> BoxFuture<'static, Result<(), String>>;
}
