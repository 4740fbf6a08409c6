//! `postfachd send` and `postfachd send-test`: build a message, put it in the outbox, and
//! either leave it to the running daemon or (`--now`) deliver it right here.
#![allow(clippy::print_stderr)]

use std::path::Path;

use serde::Serialize;

use super::output;
use super::{CliError, SendCommand as SendArgs, load_account, open_store};
use crate::config::{Account, Config};
use crate::drafts::{self, DraftError};
use crate::outbox::{self, Context, Outcome};
use crate::smtp::Draft;
use crate::store::{OutboxKind as Kind, Store};

/// The result line of `send --json`.
#[derive(Debug, Serialize)]
struct SendJson {
    id: i64,
    account: String,
    kind: &'static str,
    message_id: String,
    state: &'static str,
    server_reply: Option<String>,
    error: Option<String>,
    copy: Option<String>,
}

fn read_text(path: &Path, what: &'static str) -> Result<String, CliError> {
    let read_error = |source| CliError::ReadFile { what, path: path.to_owned(), source };
    let bytes = if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf).map_err(read_error)?;
        buf
    } else {
        std::fs::read(path).map_err(read_error)?
    };
    String::from_utf8(bytes).map_err(|_| CliError::NotText { what, path: path.to_owned() })
}

/// A MIME type for an attachment, from its extension.
fn content_type(path: &Path) -> &'static str {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).unwrap_or_default();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "txt" | "log" => "text/plain; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "html" | "htm" => "text/html; charset=utf-8",
        "xml" => "application/xml",
        "json" => "application/json",
        "ics" => "text/calendar; charset=utf-8",
        "eml" => "message/rfc822",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "zip" => "application/zip",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "odt" => "application/vnd.oasis.opendocument.text",
        "ods" => "application/vnd.oasis.opendocument.spreadsheet",
        "dwg" => "image/vnd.dwg",
        _ => "application/octet-stream",
    }
}

/// Picks the account: the named one, the replied-to message's, or the default.
async fn choose_account(
    config: &Config,
    named: Option<&str>,
    from_original: Option<&str>,
) -> Result<Account, CliError> {
    if let Some(id) = named.or(from_original) {
        return load_account(config, id).await;
    }
    let set = config.load_accounts();
    let defaults: Vec<&Account> = set.accounts.values().filter(|a| a.file.default).collect();
    match defaults.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(CliError::Send(outbox::SendError::NoDefault)),
        many => Err(CliError::SeveralDefaults(many.iter().map(|a| a.id.clone()).collect())),
    }
}

/// Builds the draft from the arguments and the original message, if any.
async fn build(args: &SendArgs, store: &Store) -> Result<(Draft, Option<String>), CliError> {
    let text = match (&args.body_file, &args.body) {
        (Some(_), Some(_)) => return Err(CliError::Usage("give the text once: --body-file or --body")),
        (Some(path), None) => Some(read_text(path, "body file")?),
        (None, Some(text)) => Some(text.clone()),
        (None, None) => None,
    };
    let html = args.html_file.as_deref().map(|p| read_text(p, "HTML file")).transpose()?;
    let mut attachments = Vec::new();
    for path in &args.attach {
        let bytes = std::fs::read(path).map_err(|source| CliError::ReadFile {
            what: "attachment",
            path: path.clone(),
            source,
        })?;
        let filename = path.file_name().map_or_else(|| "attachment".to_owned(), |n| n.to_string_lossy().into_owned());
        attachments.push(postfach_api::SendAttachment { filename, content_type: content_type(path).to_owned(), bytes });
    }
    let request = drafts::Request {
        account: args.account.clone(),
        to: args.to.clone(),
        cc: args.cc.clone(),
        bcc: args.bcc.clone(),
        subject: args.subject.clone(),
        text,
        html,
        attachments,
        reply_to_local_id: args.reply_to_local_id,
        forward_local_id: args.forward_local_id,
        draft: args.draft,
    };
    drafts::build(store, request).await.map_err(|e| match e {
        DraftError::NoSubject => CliError::Usage("--subject is required (except for replies and forwards)"),
        DraftError::NothingToSend => CliError::Usage(
            "nothing to send: give the text with --body-file FILE (- for standard input), --body TEXT or --html-file FILE",
        ),
        DraftError::ReplyAndForward => CliError::Usage("a message is either a reply or a forward, not both"),
        DraftError::UnknownMessage(id) => CliError::UnknownMessage(id),
        DraftError::UnusableMessage { id, problem } => CliError::UnusableMessage { id, problem },
        DraftError::Store(e) => CliError::Store(e),
    })
}

/// `postfachd send`.
pub async fn run(config: &Config, args: &SendArgs) -> Result<(), CliError> {
    let store = open_store(config).await?;
    let (draft, original_account) = build(args, &store).await?;
    let account = choose_account(config, args.account.as_deref(), original_account.as_deref()).await?;
    let kind = if args.draft { Kind::Draft } else { Kind::Send };
    deliver(config, store, &account, &draft, kind, args.now, args.json).await
}

/// `postfachd send-test ACCOUNT --to ADDR`: a short test message, delivered right away.
pub async fn test(config: &Config, id: &str, to: &[String], json: bool) -> Result<(), CliError> {
    let account = load_account(config, id).await?;
    let store = open_store(config).await?;
    let host = hostname();
    let draft = Draft {
        to: to.to_vec(),
        subject: format!("Postfach: Testnachricht von {}", account.file.identity.email),
        text: Some(format!(
            "Dies ist eine Testnachricht von Postfach.\n\
             This is a test message from Postfach.\n\n\
             Konto / account: {id}\nAbsender / sender: {}\nRechner / host: {host}\n",
            account.file.identity.email
        )),
        ..Draft::default()
    };
    deliver(config, store, &account, &draft, Kind::Send, true, json).await
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_owned()).unwrap_or_else(|_| "?".into())
}

async fn deliver(
    config: &Config,
    store: Store,
    account: &Account,
    draft: &Draft,
    kind: Kind,
    now: bool,
    json: bool,
) -> Result<(), CliError> {
    let (id, message_id) = outbox::enqueue(&store, account, draft, kind).await?;
    let kind_name = if kind == Kind::Draft { "draft" } else { "send" };
    if !now {
        crate::wake::nudge(config, &crate::wake::Target::Outbox);
        let running = crate::daemon::is_running(&config.data_dir());
        if json {
            output::json(&SendJson {
                id,
                account: account.id.clone(),
                kind: kind_name,
                message_id,
                state: "queued",
                server_reply: None,
                error: None,
                copy: None,
            });
        } else {
            output::line(&format!("queued as outbox #{id} (account {}, Message-ID <{message_id}>)", account.id));
        }
        if !running {
            eprintln!(
                "note: no postfachd is running on {}; the message waits in the outbox until it starts \
                 (or send with --now)",
                config.dir.display()
            );
        }
        return Ok(());
    }
    let plugins = super::plugin_host(config).await?;
    let ctx = Context { config: config.clone(), store: store.clone(), plugins: Some(plugins) };
    let entry = store.outbox_entry(id).await?.ok_or(CliError::Vanished { what: "outbox", id })?;
    let outcome = outbox::attempt(&ctx, &entry).await?;
    let after = store.outbox_entry(id).await?;
    if json {
        output::json(&SendJson {
            id,
            account: account.id.clone(),
            kind: kind_name,
            message_id: message_id.clone(),
            state: after.as_ref().map_or("?", |e| e.state.as_str()),
            server_reply: after.as_ref().and_then(|e| e.server_reply.clone()),
            error: after.as_ref().and_then(|e| e.last_error.clone()),
            copy: after.as_ref().and_then(|e| e.copy.clone()),
        });
    }
    match outcome {
        Outcome::Sent { reply, copy } => {
            if !json {
                let what = if kind == Kind::Draft { "saved" } else { "sent" };
                output::line(&format!("{what}: outbox #{id}, Message-ID <{message_id}>"));
                output::line(&format!("  server: {reply}"));
                output::line(&format!("  copy:   {copy}"));
            }
            Ok(())
        }
        Outcome::Deferred(error) => {
            if !json {
                let when = after.map(|e| e.next_attempt_at).unwrap_or_default();
                eprintln!(
                    "not sent yet: {error}\noutbox #{id} stays queued; the daemon tries again at {} \
                     (or: postfachd outbox retry {id})",
                    when.rfc3339().unwrap_or_else(|| "later".into())
                );
            }
            Err(CliError::Reported)
        }
        Outcome::Failed(error) => {
            if !json {
                eprintln!(
                    "not sent: {error}\noutbox #{id} is marked failed; after fixing the cause: postfachd outbox retry {id}"
                );
            }
            Err(CliError::Reported)
        }
        Outcome::Busy => {
            if !json {
                output::line(&format!("outbox #{id} is being sent by the running daemon; see `postfachd outbox`"));
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachments_get_a_type_by_extension() {
        assert_eq!(content_type(Path::new("Plan.PDF")), "application/pdf");
        assert_eq!(content_type(Path::new("x.unknown")), "application/octet-stream");
    }
}
