//! SASL client responses shared by IMAP and SMTP: PLAIN, CRAM-MD5 and XOAUTH2.

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

#[cfg(test)]
mod tests {
    use super::*;

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
