//! The wire-level pieces Postfach's IMAP and SMTP clients share: rustls client
//! configuration (public roots plus an account's CA file, shared per file) and the SASL
//! encodings (PLAIN, CRAM-MD5, XOAUTH2).

#![deny(missing_docs)]

pub mod sasl;
pub mod tls;
