//! The event feed's kinds: what happened to a message or an outbox entry. The names are
//! the contract with applications that follow the `events` table (README, "The event
//! feed"); never rename one.

/// What an event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A message was stored for the first time (sync or import).
    NewMessage,
    /// The server's flags of a stored message changed.
    Flags,
    /// A message is on the server nowhere any more; the store keeps it.
    Removed,
    /// A message was assigned to a project.
    Routed,
    /// A message lost its project.
    Unrouted,
    /// A message moved to another project.
    Reassigned,
    /// An outbox entry was accepted by the server (or saved as a draft).
    Sent,
    /// An outbox entry failed for good.
    Failed,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [EventKind; 8] = [
        EventKind::NewMessage,
        EventKind::Flags,
        EventKind::Removed,
        EventKind::Routed,
        EventKind::Unrouted,
        EventKind::Reassigned,
        EventKind::Sent,
        EventKind::Failed,
    ];

    /// The name in the `events` table.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::NewMessage => "new-message",
            EventKind::Flags => "flags",
            EventKind::Removed => "removed",
            EventKind::Routed => "routed",
            EventKind::Unrouted => "unrouted",
            EventKind::Reassigned => "reassigned",
            EventKind::Sent => "sent",
            EventKind::Failed => "failed",
        }
    }

    /// The kind with this name.
    pub fn parse(name: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
