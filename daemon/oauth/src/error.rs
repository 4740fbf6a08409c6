//! What can go wrong talking to a provider, with the provider's own words.

/// A failed OAuth2 request or flow.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The provider refused the request for good (`invalid_grant`: the refresh token was
    /// revoked or expired; `invalid_client`: wrong client id or secret; …). Asking again
    /// will not help; the user must authorize again or the admin fix the client.
    #[error("the provider refused: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused {
        /// The OAuth2 error code, e.g. `invalid_grant`.
        error: String,
        /// The provider's `error_description`.
        description: Option<String>,
    },
    /// The provider answered 5xx or 429: try again later.
    #[error("the provider's token endpoint is unavailable (HTTP {status}{})", words.as_deref().map(|w| format!(": {w}")).unwrap_or_default())]
    Unavailable {
        /// The HTTP status.
        status: u16,
        /// What the answer said, if it said anything readable.
        words: Option<String>,
    },
    /// The provider could not be reached or did not answer in time.
    #[error("cannot reach {url}: {text}")]
    Network {
        /// The endpoint.
        url: String,
        /// What failed.
        text: String,
    },
    /// The answer was not what OAuth2 prescribes.
    #[error("unexpected answer from {url}: {text}")]
    Malformed {
        /// The endpoint.
        url: String,
        /// What was wrong with it.
        text: String,
    },
    /// The user declined in the browser or on the device page.
    #[error("authorization was declined: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Denied {
        /// The OAuth2 error code, e.g. `access_denied`.
        error: String,
        /// The provider's description.
        description: Option<String>,
    },
    /// Nobody completed the authorization in time.
    #[error("{0}")]
    TimedOut(String),
    /// The loopback listener for the redirect could not be opened or read.
    #[error("the local redirect listener failed: {0}")]
    Listener(String),
    /// The flow needs an endpoint the provider does not have or the config does not name.
    #[error("{0}")]
    Unsupported(String),
}

impl OAuthError {
    /// Whether trying again later can help (network, 5xx): the account shows
    /// `backing-off`, not `auth-failed`.
    pub fn is_temporary(&self) -> bool {
        matches!(self, OAuthError::Unavailable { .. } | OAuthError::Network { .. } | OAuthError::Malformed { .. })
    }
}
