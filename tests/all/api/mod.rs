//! The Integration API against a running `postfachd run`, real Dovecot and Postfix, and a
//! real HTTP client: access rules, content, search, threads, writes, sending, the event
//! feed, webhooks and metrics.

mod access;
pub mod client;
mod content;
mod feed;
mod meta;
mod send;
mod webhooks;
mod writes;
