//! Gmail's IMAP extensions (`X-GM-EXT-1`): its own thread id per message, `X-GM-THRID`,
//! which groups a conversation the way Gmail shows it even where References are missing.
//! async-imap parses the attribute but does not expose it, so the FETCH is read response
//! by response here.

use std::collections::HashMap;

use async_imap::imap_proto::{AttributeValue, Response, Status};

use crate::error::ImapError;
use crate::session::Session;
use crate::sync::timed;

/// The capability of a server with Gmail's extensions.
pub const CAPABILITY: &str = "X-GM-EXT-1";

/// `X-GM-THRID` of the messages in a UID set of the selected folder, by UID.
pub async fn thread_ids(session: &mut Session, set: &str) -> Result<HashMap<u32, u64>, ImapError> {
    let t = session.timeout;
    let command = format!("UID FETCH {set} (UID X-GM-THRID)");
    let tag = timed(t, command.clone(), session.inner.run_command(&command))
        .await?
        .map_err(|e| ImapError::command(command.clone(), e))?;
    let mut found = HashMap::new();
    loop {
        let response = timed(t, command.clone(), session.inner.read_response())
            .await?
            .map_err(|e| ImapError::command(command.clone(), async_imap::error::Error::Io(e)))?;
        let Some(data) = response else {
            return Err(ImapError::Server(format!("the server closed the connection during {command}")));
        };
        match data.parsed() {
            Response::Fetch(_, attributes) => {
                let uid = attributes.iter().find_map(|a| match a {
                    AttributeValue::Uid(u) => Some(*u),
                    _ => None,
                });
                let thread = attributes.iter().find_map(|a| match a {
                    AttributeValue::GmailThrId(t) => Some(*t),
                    _ => None,
                });
                if let (Some(uid), Some(thread)) = (uid, thread) {
                    found.insert(uid, thread);
                }
            }
            Response::Done { tag: done, status, outcome } if *done == tag => {
                if *status != Status::Ok {
                    let words = outcome.information.as_deref().unwrap_or("no reason given");
                    return Err(ImapError::Command { command, text: format!("{status:?} {words}") });
                }
                return Ok(found);
            }
            // Anything else (EXISTS, flag news) is not this command's answer.
            _ => {}
        }
    }
}
