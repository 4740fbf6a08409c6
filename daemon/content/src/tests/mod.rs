//! The crate's unit tests, one file per concern, on messages built as byte strings.

mod attachments;
mod bodies;
mod fixtures;
mod folding;
mod robustness;
mod search;
