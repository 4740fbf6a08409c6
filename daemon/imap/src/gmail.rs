//! Gmail's IMAP extensions (`X-GM-EXT-1`): its own thread id per message, `X-GM-THRID`,
//! which groups a conversation the way Gmail shows it even where References are missing.
//! async-imap parses the attribute but does not expose it; [`crate::answer`] does.

use std::collections::HashMap;

use crate::error::ImapError;
use crate::session::Session;

/// The capability of a server with Gmail's extensions.
pub const CAPABILITY: &str = "X-GM-EXT-1";

/// `X-GM-THRID` of the messages in a UID set of the selected folder, by UID.
pub async fn thread_ids(session: &mut Session, set: &str) -> Result<HashMap<u32, u64>, ImapError> {
    let answer = session.send(&format!("UID FETCH {set} (UID X-GM-THRID)")).await?;
    let found = answer.fetches(|f| Some((f.uid()?, f.gmail_thread()?))).await?;
    Ok(found.into_iter().collect())
}
