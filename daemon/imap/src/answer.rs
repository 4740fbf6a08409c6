//! Reading a command's answer response by response, up to its tagged status.
//!
//! async-imap's streamed commands (FETCH, STORE, EXPUNGE, LIST, SEARCH) end their stream
//! at the tagged response whatever its status, so a server that refuses a body FETCH or
//! a SEARCH looks exactly like one that found nothing — and a refused SEARCH would make
//! every stored message look expunged. Here a tagged NO or BAD is an
//! [`ImapError::Refused`] with the server's words, and a connection that closes before
//! the tagged response is an error too. Each response must arrive within the session's
//! timeout.
//!
//! Untagged news that is not part of the answer (EXISTS, EXPUNGE, VANISHED from another
//! client) is remembered on the session, so the daemon does not IDLE waiting for news
//! that has already come.

use async_imap::imap_proto::{AttributeValue, MailboxDatum, MessageSection, RequestId, Response, ResponseCode};
use async_imap::imap_proto::{SectionPath, Status};
use async_imap::types::Flag;

use crate::error::ImapError;
use crate::session::Session;
use crate::sync::timed;

/// The answer to one command, read with [`Answer::next`].
pub(crate) struct Answer<'s> {
    session: &'s mut Session,
    tag: RequestId,
    command: String,
}

impl Session {
    /// Sends `command` (without tag or line end) and returns its answer to read.
    pub(crate) async fn send(&mut self, command: &str) -> Result<Answer<'_>, ImapError> {
        let tag = timed(self.timeout, command.to_owned(), self.inner.run_command(command))
            .await?
            .map_err(|e| ImapError::command(command, e))?;
        Ok(Answer { session: self, tag, command: command.to_owned() })
    }
}

impl Answer<'_> {
    /// Hands the next untagged response to `read` and returns what it made of it; `None`
    /// after the tagged OK. (async-imap does not export its response type, so responses
    /// are looked at where they lie.)
    pub(crate) async fn next<T>(&mut self, read: impl FnOnce(&Response<'_>) -> T) -> Result<Option<T>, ImapError> {
        let t = self.session.timeout;
        let got = timed(t, self.command.clone(), self.session.inner.read_response()).await?;
        let data = match got {
            Ok(Some(data)) => data,
            Ok(None) => {
                return Err(ImapError::Command {
                    command: self.command.clone(),
                    text: "the server closed the connection before completing it".into(),
                });
            }
            Err(e) => return Err(ImapError::command(self.command.clone(), async_imap::error::Error::Io(e))),
        };
        match data.parsed() {
            Response::Done { tag, status, outcome } if *tag == self.tag => match status {
                Status::Ok => Ok(None),
                other => Err(ImapError::Refused {
                    command: self.command.clone(),
                    status: if *other == Status::Bad { "BAD" } else { "NO" },
                    text: words(outcome.code.as_ref(), outcome.information.as_deref()),
                }),
            },
            Response::Done { .. } => Err(ImapError::Command {
                command: self.command.clone(),
                text: "the server answered with another command's tag".into(),
            }),
            parsed => {
                if is_news(&self.command, parsed) {
                    self.session.news = true;
                }
                Ok(Some(read(parsed)))
            }
        }
    }

    /// Sends literal data after the server's go-ahead (`+`), and the line end that ends
    /// the command.
    pub(crate) async fn write_literal(&mut self, data: &[u8]) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt;
        let stream = self.session.inner.get_mut();
        stream.write_all(data).await?;
        stream.write_all(b"\r\n").await?;
        stream.flush().await
    }

    /// Reads the rest of the answer, handing each FETCH response to `read` and keeping
    /// what it returns.
    pub(crate) async fn fetches<T>(
        mut self,
        mut read: impl FnMut(Fetched<'_>) -> Option<T>,
    ) -> Result<Vec<T>, ImapError> {
        let mut out = Vec::new();
        while let Some(item) = self.next(|r| Fetched::of(r).and_then(&mut read)).await? {
            out.extend(item);
        }
        Ok(out)
    }
}

/// Whether an untagged response is news from the server rather than part of the answer
/// to `command`: new mail, or an expunge that this command did not cause.
fn is_news(command: &str, response: &Response<'_>) -> bool {
    let expunging = command.starts_with("UID EXPUNGE") || command.starts_with("EXPUNGE");
    match response {
        Response::MailboxData(MailboxDatum::Exists(_)) => true,
        Response::Expunge(_) => !expunging,
        Response::Vanished { earlier, .. } => !earlier && !expunging,
        _ => false,
    }
}

/// The server's words of a tagged answer: `[CODE] text`, codes that imap-proto parses
/// written back as the server sent them (unknown codes stay in the text).
fn words(code: Option<&ResponseCode<'_>>, information: Option<&str>) -> String {
    let code = match code {
        Some(ResponseCode::Alert) => "[ALERT] ",
        Some(ResponseCode::Parse) => "[PARSE] ",
        Some(ResponseCode::TryCreate) => "[TRYCREATE] ",
        Some(ResponseCode::ReadOnly) => "[READ-ONLY] ",
        Some(ResponseCode::ReadWrite) => "[READ-WRITE] ",
        Some(ResponseCode::UidNotSticky) => "[UIDNOTSTICKY] ",
        _ => "",
    };
    let text = information.unwrap_or("").trim();
    let words = format!("{code}{text}");
    match words.trim_end() {
        "" => "no reason given".to_owned(),
        w => w.to_owned(),
    }
}

/// One untagged FETCH response and what Postfach reads from it.
#[derive(Clone, Copy)]
pub(crate) struct Fetched<'a>(&'a [AttributeValue<'a>]);

impl<'a> Fetched<'a> {
    /// `Some` for a FETCH response.
    pub(crate) fn of(response: &'a Response<'a>) -> Option<Fetched<'a>> {
        match response {
            Response::Fetch(_, attributes) => Some(Fetched(attributes)),
            _ => None,
        }
    }

    fn attributes(&self) -> &'a [AttributeValue<'a>] {
        self.0
    }

    /// `UID`.
    pub(crate) fn uid(&self) -> Option<u32> {
        self.attributes().iter().find_map(|a| match a {
            AttributeValue::Uid(u) => Some(*u),
            _ => None,
        })
    }

    /// `RFC822.SIZE`.
    pub(crate) fn size(&self) -> Option<u32> {
        self.attributes().iter().find_map(|a| match a {
            AttributeValue::Rfc822Size(s) => Some(*s),
            _ => None,
        })
    }

    /// `MODSEQ` (CONDSTORE).
    pub(crate) fn modseq(&self) -> Option<u64> {
        self.attributes().iter().find_map(|a| match a {
            AttributeValue::ModSeq(m) => Some(*m),
            _ => None,
        })
    }

    /// `X-GM-THRID` (Gmail).
    pub(crate) fn gmail_thread(&self) -> Option<u64> {
        self.attributes().iter().find_map(|a| match a {
            AttributeValue::GmailThrId(t) => Some(*t),
            _ => None,
        })
    }

    /// Flags as IMAP writes them, sorted; `\Recent` is per-session and not stored.
    pub(crate) fn flags(&self) -> Vec<String> {
        let mut flags: Vec<String> = self
            .attributes()
            .iter()
            .filter_map(|a| match a {
                AttributeValue::Flags(f) => Some(f),
                _ => None,
            })
            .flatten()
            .filter_map(|f| match Flag::from(f.as_ref()) {
                Flag::Seen => Some("\\Seen".to_owned()),
                Flag::Answered => Some("\\Answered".to_owned()),
                Flag::Flagged => Some("\\Flagged".to_owned()),
                Flag::Deleted => Some("\\Deleted".to_owned()),
                Flag::Draft => Some("\\Draft".to_owned()),
                Flag::Recent | Flag::MayCreate => None,
                Flag::Custom(c) => Some(c.to_string()),
            })
            .collect();
        flags.sort_unstable();
        flags
    }

    /// The whole message (`BODY[]`).
    pub(crate) fn body(&self) -> Option<&'a [u8]> {
        self.attributes().iter().find_map(|a| match a {
            AttributeValue::BodySection { section: None, data: Some(body), .. }
            | AttributeValue::Rfc822(Some(body)) => Some(body.as_ref()),
            _ => None,
        })
    }

    /// The header or the header fields asked for (`BODY[HEADER.FIELDS (…)]`).
    pub(crate) fn header(&self) -> Option<&'a [u8]> {
        self.attributes().iter().find_map(|a| match a {
            AttributeValue::BodySection {
                section: Some(SectionPath::Full(MessageSection::Header)),
                data: Some(h),
                ..
            }
            | AttributeValue::Rfc822Header(Some(h)) => Some(h.as_ref()),
            _ => None,
        })
    }

    /// `INTERNALDATE` as Unix seconds.
    pub(crate) fn internal_date(&self) -> Option<i64> {
        self.attributes().iter().find_map(|a| match a {
            AttributeValue::InternalDate(d) => {
                chrono::DateTime::parse_from_str(d, "%d-%b-%Y %H:%M:%S %z").ok().map(|d| d.timestamp())
            }
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_imap::imap_proto::ResponseCode;

    #[test]
    fn refusals_keep_the_servers_code_and_words() {
        assert_eq!(words(Some(&ResponseCode::Alert), Some("Quota exceeded ")), "[ALERT] Quota exceeded");
        assert_eq!(words(None, Some("[UNAVAILABLE] Backend down")), "[UNAVAILABLE] Backend down");
        assert_eq!(words(Some(&ResponseCode::TryCreate), None), "[TRYCREATE]");
        assert_eq!(words(None, None), "no reason given");
    }

    #[test]
    fn only_news_the_command_did_not_cause_is_news() {
        let exists = Response::MailboxData(MailboxDatum::Exists(4));
        let expunge = Response::Expunge(3);
        let earlier = Response::Vanished { earlier: true, uids: vec![1..=2] };
        let vanished = Response::Vanished { earlier: false, uids: vec![1..=2] };
        assert!(is_news("UID FETCH 1:* (UID BODY.PEEK[])", &exists));
        assert!(is_news("UID FETCH 1:* (UID FLAGS)", &expunge));
        assert!(is_news("UID STORE 4 +FLAGS (\\Seen)", &vanished));
        assert!(!is_news("UID FETCH 1:* (UID FLAGS) (CHANGEDSINCE 7 VANISHED)", &earlier));
        assert!(!is_news("UID EXPUNGE 3", &expunge));
        assert!(!is_news("UID EXPUNGE 3", &vanished));
        assert!(is_news("UID EXPUNGE 3", &exists));
    }
}
