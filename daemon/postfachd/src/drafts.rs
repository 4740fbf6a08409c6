//! Turning a send request (`postfachd send`, `POST /v1/send`) into a [`Draft`]: replies
//! get In-Reply-To, References, a `Re:` subject and the sender as recipient; forwards
//! get the original attached and a `Fwd:` subject; both are sent from the original's
//! account unless another is named.

use crate::model::MessageId;
use crate::smtp::{Draft, FileAttachment, Parent};
use crate::store::{Store, StoreError};

/// What to send, however it was asked for (`postfachd send`, `POST /v1/send`): the API
/// crate's request, which the command line fills in too, so both build the same draft.
pub use postfach_api::SendRequest as Request;

/// Why a request cannot become a draft.
#[derive(Debug, thiserror::Error)]
pub enum DraftError {
    /// Both a reply and a forward.
    #[error("a message is either a reply or a forward, not both")]
    ReplyAndForward,
    /// No subject, and none to derive.
    #[error("a subject is required (except for replies and forwards)")]
    NoSubject,
    /// No body, no attachment, not a draft.
    #[error("nothing to send: give a text, an HTML body or an attachment")]
    NothingToSend,
    /// The replied-to or forwarded message is not stored.
    #[error("no stored message with local id {}", .0 .0)]
    UnknownMessage(MessageId),
    /// The replied-to message cannot be answered.
    #[error("message {id} {problem}")]
    UnusableMessage {
        /// Its local id.
        id: i64,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The stored message a reply or forward refers to.
struct Original {
    account: String,
    raw: Vec<u8>,
}

async fn original(store: &Store, local_id: i64) -> Result<Original, DraftError> {
    let message = MessageId(local_id);
    let found = (store.account_of(message).await?, store.raw_message(message).await?);
    match found {
        (Some(account), Some(raw)) => Ok(Original { account, raw }),
        _ => Err(DraftError::UnknownMessage(message)),
    }
}

/// The header of a replied-to or forwarded message: ids, addresses and Subject are parsed,
/// everything else is read raw. Not Date, notably: mail-parser's date parser reads two bytes
/// past a one-letter zone (`Date: … 10:00:00 Z`), which swallowed the next field, such as the
/// Message-ID a reply needs (found by the fuzz tests of the header parsing).
fn original_header(raw: &[u8]) -> Option<mail_parser::Message<'_>> {
    mail_parser::MessageParser::new()
        .with_message_ids()
        .with_address_headers()
        .header_text(mail_parser::HeaderName::Subject)
        .parse_headers(raw)
}

/// `Re: …` / `Fwd: …` unless the subject carries such a prefix already.
pub fn prefixed(prefix: &str, subject: &str, known: &[&str]) -> String {
    let lower = subject.trim_start().to_lowercase();
    if known.iter().any(|p| lower.starts_with(&format!("{}:", p.to_lowercase()))) {
        subject.trim_start().to_owned()
    } else {
        format!("{prefix}: {subject}")
    }
}

/// Builds the draft (the request's `account` is the caller's to choose); also returns the
/// original's account (the default sender of a reply or forward).
pub async fn build(store: &Store, request: Request) -> Result<(Draft, Option<String>), DraftError> {
    let Request {
        account: _,
        to,
        cc,
        bcc,
        subject,
        text,
        html,
        attachments,
        reply_to_local_id,
        forward_local_id,
        draft: is_draft,
    } = request;
    let attachments = attachments
        .into_iter()
        .map(|a| FileAttachment { filename: a.filename, content_type: a.content_type, bytes: a.bytes })
        .collect();
    let mut draft = Draft { to, cc, bcc, text, html, attachments, ..Draft::default() };
    if reply_to_local_id.is_some() && forward_local_id.is_some() {
        return Err(DraftError::ReplyAndForward);
    }
    let mut subject = subject;
    let mut account = None;
    if let Some(id) = reply_to_local_id {
        let orig = original(store, id).await?;
        let parsed =
            original_header(&orig.raw).ok_or(DraftError::UnusableMessage { id, problem: "has no readable header" })?;
        let message_id = parsed
            .message_id()
            .ok_or(DraftError::UnusableMessage { id, problem: "has no Message-ID to reply to" })?
            .to_owned();
        let references =
            parsed.references().as_text_list().map(|l| l.iter().map(|s| s.to_string()).collect()).unwrap_or_default();
        draft.reply_to = Some(Parent { message_id, references });
        if draft.to.is_empty() {
            // Answer where the sender asked for answers.
            let target = parsed.reply_to().or(parsed.from());
            draft.to = target
                .map(|a| a.iter().filter_map(|m| m.address.as_deref().map(str::to_owned)).collect())
                .unwrap_or_default();
        }
        subject = subject.or_else(|| Some(prefixed("Re", parsed.subject().unwrap_or(""), &["Re", "AW", "Antw"])));
        account = Some(orig.account);
    }
    if let Some(id) = forward_local_id {
        let orig = original(store, id).await?;
        let parsed = original_header(&orig.raw);
        let original_subject = parsed.as_ref().and_then(|p| p.subject()).unwrap_or("").to_owned();
        subject = subject.or_else(|| Some(prefixed("Fwd", &original_subject, &["Fwd", "WG", "Fw"])));
        draft.forward = Some(orig.raw);
        account = Some(orig.account);
    }
    draft.subject = subject.ok_or(DraftError::NoSubject)?;
    if draft.text.is_none()
        && draft.html.is_none()
        && draft.attachments.is_empty()
        && draft.forward.is_none()
        && !is_draft
    {
        return Err(DraftError::NothingToSend);
    }
    Ok((draft, account))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_prefixes_are_not_stacked() {
        assert_eq!(prefixed("Re", "Angebot", &["Re", "AW"]), "Re: Angebot");
        assert_eq!(prefixed("Re", "AW: Angebot", &["Re", "AW"]), "AW: Angebot");
        assert_eq!(prefixed("Fwd", "wg: Plan", &["Fwd", "WG"]), "wg: Plan");
    }

    #[test]
    fn a_one_letter_date_zone_does_not_hide_the_next_field() {
        let raw = b"Date: Mon, 1 Jan 2024 10:00:00 Z\r\nMessage-ID: <orig@x.de>\r\nDate: 1 Jan 2024 10:00 Z\r\n\
Subject: =?UTF-8?Q?Angebot_S=C3=BCd?=\r\nReply-To: \"B, C\" <bc@x.de>\r\nReferences: <a@x.de> <b@x.de>\r\n\r\nText\r\n";
        let parsed = original_header(raw).unwrap();
        assert_eq!(parsed.message_id(), Some("orig@x.de"));
        assert_eq!(parsed.subject(), Some("Angebot Süd"));
        assert_eq!(parsed.reply_to().and_then(|a| a.first()).and_then(|a| a.address.as_deref()), Some("bc@x.de"));
        assert_eq!(parsed.references().as_text_list().map(|l| l.len()), Some(2));
    }
}
