//! SASL client responses shared by IMAP and SMTP: PLAIN, CRAM-MD5, XOAUTH2 and
//! OAUTHBEARER (RFC 7628), and the OAuth2 error a server sends back (base64 JSON) in
//! words an admin can act on.

use hmac::{Hmac, Mac};
use md5::Md5;

/// The PLAIN initial response: `\0user\0password` (RFC 4616).
pub fn plain(username: &str, password: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(username.len() + password.len() + 2);
    out.push(0);
    out.extend_from_slice(username.as_bytes());
    out.push(0);
    out.extend_from_slice(password.as_bytes());
    out
}

/// The CRAM-MD5 response to a (decoded) challenge: `user hex(HMAC-MD5(password, challenge))`
/// (RFC 2195).
pub fn cram_md5(username: &str, password: &str, challenge: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let digest = match Hmac::<Md5>::new_from_slice(password.as_bytes()) {
        Ok(mut mac) => {
            mac.update(challenge);
            mac.finalize().into_bytes()
        }
        Err(_) => return Vec::new(),
    };
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{username} {hex}").into_bytes()
}

/// The XOAUTH2 initial response (Google, Microsoft).
pub fn xoauth2(username: &str, token: &str) -> Vec<u8> {
    format!("user={username}\x01auth=Bearer {token}\x01\x01").into_bytes()
}

/// The OAUTHBEARER initial response (RFC 7628 §3.1): a GS2 header naming the user, then
/// `host`, `port` and `auth=Bearer <token>` separated by `\x01`.
pub fn oauthbearer(username: &str, host: &str, port: u16, token: &str) -> Vec<u8> {
    // `,` and `=` in the authzid must be escaped as `=2C` and `=3D` (RFC 5801 §4).
    let user = username.replace('=', "=3D").replace(',', "=2C");
    format!("n,a={user},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01").into_bytes()
}

/// What an OAuth2 SASL failure says (RFC 7628 §3.2.2; Google's and Microsoft's XOAUTH2
/// send the same JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthFailure {
    /// `invalid_token`, `insufficient_scope`, or an HTTP-like status such as `401`.
    pub status: String,
    /// The scope the server wants, if it says.
    pub scope: Option<String>,
}

impl std::fmt::Display for OAuthFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.status.as_str(), &self.scope) {
            ("invalid_token" | "401", _) => f.write_str("the server refused the access token (invalid_token)"),
            ("insufficient_scope" | "403", Some(scope)) => {
                write!(f, "the access token lacks the scope the server wants ({scope})")
            }
            (status, Some(scope)) => write!(f, "the server refused the access token ({status}; scope {scope})"),
            (status, None) => write!(f, "the server refused the access token ({status})"),
        }
    }
}

/// Decodes the error challenge of a failed OAUTHBEARER/XOAUTH2 exchange: the base64 JSON
/// `{"status":…, "scope":…}`, given as the server sent it (base64) or decoded. `None` when
/// it is neither.
pub fn oauth_failure(challenge: &[u8]) -> Option<OAuthFailure> {
    use base64::Engine;
    let trimmed = challenge.trim_ascii();
    let decoded = base64::engine::general_purpose::STANDARD.decode(trimmed).ok();
    let json = decoded.as_deref().unwrap_or(trimmed);
    let text = std::str::from_utf8(json).ok()?;
    Some(OAuthFailure { status: json_string(text, "status")?, scope: json_string(text, "scope") })
}

/// The string (or number) value of a top-level key in a small flat JSON object; enough for
/// the three-key answers of OAuth2 SASL, without a JSON parser in this crate.
fn json_string(text: &str, key: &str) -> Option<String> {
    let at = text.find(&format!("\"{key}\""))? + key.len() + 2;
    let rest = text[at..].trim_start().strip_prefix(':')?.trim_start();
    if let Some(quoted) = rest.strip_prefix('"') {
        let end = quoted.find('"')?;
        return Some(quoted[..end].to_owned());
    }
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    let value = rest[..end].trim();
    (!value.is_empty()).then(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oauthbearer_matches_rfc_7628_example() {
        // RFC 7628 §4.1, with the user of the example.
        let got =
            oauthbearer("user@example.com", "server.example.com", 143, "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==");
        assert_eq!(
            got,
            b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01".to_vec()
        );
        assert!(String::from_utf8(oauthbearer("a,b=c", "h", 1, "t")).unwrap().starts_with("n,a=a=2Cb=3Dc,"));
    }

    #[test]
    fn oauth_failures_are_decoded_from_base64_json() {
        // The failure challenge of RFC 7628 §4.3.
        let b64 = b"eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJleGFtcGxlX3Njb3BlIiwib3BlbmlkLWNvbmZpZ3VyYXRpb24iOiJodHRwczovL2V4YW1wbGUuY29tLy53ZWxsLWtub3duL29wZW5pZC1jb25maWd1cmF0aW9uIn0=";
        let f = oauth_failure(b64).unwrap();
        assert_eq!((f.status.as_str(), f.scope.as_deref()), ("invalid_token", Some("example_scope")));
        assert_eq!(f.to_string(), "the server refused the access token (invalid_token)");
        // Google's XOAUTH2 answer, decoded already, with a number status.
        let google = br#"{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}"#;
        assert_eq!(oauth_failure(google).unwrap().status, "401");
        let scope = oauth_failure(br#"{"status": 403, "scope": "IMAP.AccessAsUser.All"}"#).unwrap();
        assert_eq!(scope.to_string(), "the access token lacks the scope the server wants (IMAP.AccessAsUser.All)");
        assert_eq!(oauth_failure(b"not json at all"), None);
    }

    #[test]
    fn cram_md5_matches_rfc_2195_example() {
        let challenge = b"<1896.697170952@postoffice.reston.mci.net>";
        assert_eq!(cram_md5("tim", "tanstaaftanstaaf", challenge), b"tim b913a602c7eda7a495b4e6e7334d3890".to_vec());
    }

    #[test]
    fn plain_layout() {
        assert_eq!(plain("u", "p"), b"\0u\0p".to_vec());
    }
}
