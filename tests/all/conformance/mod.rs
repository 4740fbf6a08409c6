//! Provider conformance (issue 19): every documented quirk of a real IMAP server that
//! broke a well-known client, replayed byte for byte by the harness's scripted server
//! or played by Dovecot's configuration, each a test that records its row in
//! `CONFORMANCE.md`.

mod dovecot_played;
mod replayed;
pub mod table;
