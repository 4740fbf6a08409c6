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

names!(EventKind {
    NewMessage => "new-message",
    Flags => "flags",
    Removed => "removed",
    Routed => "routed",
    Unrouted => "unrouted",
    Reassigned => "reassigned",
    Sent => "sent",
    Failed => "failed",
});
