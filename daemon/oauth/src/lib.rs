//! OAuth2 for IMAP and SMTP logins (RFC 6749): what the daemon needs to turn an
//! authorization into access tokens, and nothing that knows about accounts or the store.
//!
//! - [`token`]: the token endpoint: refresh, code exchange, and the error a provider
//!   answers, sorted into "ask the user again" ([`OAuthError::is_temporary`] false, e.g.
//!   `invalid_grant`) and "try again later" (5xx, network).
//! - [`browser`]: the authorization code flow with PKCE (RFC 7636) and a redirect to a
//!   one-shot listener on `127.0.0.1` (RFC 8252 §7.3).
//! - [`device`]: the device authorization flow (RFC 8628) for machines without a browser.
//!
//! Tokens are [`Secret`]s: they print as `[redacted]` in logs, errors and panics.

pub mod browser;
pub mod device;
mod error;
pub mod token;

pub use error::OAuthError;
pub use postfach_config::Secret;
pub use token::{Issued, Provider};

#[cfg(test)]
mod tests;
