//! Building test messages: realistic RFC 5322 bytes, deterministic for a given input.

use std::fmt::Write as _;

/// A message to build.
#[derive(Debug, Clone)]
pub struct Mail {
    /// Message-ID without brackets; `None` leaves the header out.
    pub message_id: Option<String>,
    /// From header value.
    pub from: String,
    /// To header value.
    pub to: String,
    /// Subject (UTF-8; encoded as RFC 2047 when not ASCII).
    pub subject: String,
    /// Date header value.
    pub date: String,
    /// In-Reply-To without brackets.
    pub in_reply_to: Option<String>,
    /// References without brackets.
    pub references: Vec<String>,
    /// Plain-text body.
    pub body: String,
}

impl Mail {
    /// A message with sensible defaults; `n` makes the Message-ID unique.
    pub fn new(n: usize, subject: &str) -> Mail {
        Mail {
            message_id: Some(format!("msg-{n}@fixture.postfach.test")),
            from: "Anna Architektin <anna@example.de>".into(),
            to: "Max Mustermann <mm@example.de>".into(),
            subject: subject.to_owned(),
            date: "Mon, 23 Nov 2026 09:00:00 +0100".into(),
            in_reply_to: None,
            references: Vec::new(),
            body: format!("Nachricht Nummer {n}.\r\n"),
        }
    }

    /// Sets the Message-ID (`None` removes it).
    pub fn message_id(mut self, id: Option<&str>) -> Self {
        self.message_id = id.map(str::to_owned);
        self
    }

    /// Sets the From header.
    pub fn from(mut self, from: &str) -> Self {
        self.from = from.to_owned();
        self
    }

    /// Sets the To header.
    pub fn to(mut self, to: &str) -> Self {
        self.to = to.to_owned();
        self
    }

    /// Makes this a reply to `parent` (a Message-ID without brackets).
    pub fn reply_to(mut self, parent: &str) -> Self {
        self.in_reply_to = Some(parent.to_owned());
        self.references.push(parent.to_owned());
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: &str) -> Self {
        self.body = body.to_owned();
        self
    }

    /// Pads the body to about `size` bytes of text.
    pub fn size(mut self, size: usize) -> Self {
        let mut body = self.body.clone();
        let line = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n";
        while body.len() + line.len() <= size {
            body.push_str(line);
        }
        self.body = body;
        self
    }

    /// The RFC 5322 bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = String::new();
        if let Some(id) = &self.message_id {
            let _ = write!(s, "Message-ID: <{id}>\r\n");
        }
        let _ = write!(s, "Date: {}\r\nFrom: {}\r\nTo: {}\r\n", self.date, self.from, self.to);
        let _ = write!(s, "Subject: {}\r\n", encode_word(&self.subject));
        if let Some(p) = &self.in_reply_to {
            let _ = write!(s, "In-Reply-To: <{p}>\r\n");
        }
        if !self.references.is_empty() {
            let refs: Vec<String> = self.references.iter().map(|r| format!("<{r}>")).collect();
            let _ = write!(s, "References: {}\r\n", refs.join(" "));
        }
        s.push_str(
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
        );
        s.push_str(&self.body);
        s.into_bytes()
    }
}

/// RFC 2047 B-encoding for non-ASCII header text (ASCII text is returned as it is).
pub fn encode_word(text: &str) -> String {
    if text.is_ascii() {
        return text.to_owned();
    }
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::from("=?UTF-8?B?");
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out.push_str("?=");
    out
}

/// `count` numbered messages (`Nachricht 1`, …) of about `size` bytes each.
pub fn numbered(count: usize, size: usize) -> Vec<Vec<u8>> {
    (1..=count).map(|n| Mail::new(n, &format!("Nachricht {n}")).size(size).to_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_umlauts() {
        assert_eq!(encode_word("Grüße"), "=?UTF-8?B?R3LDvMOfZQ==?=");
        let m = Mail::new(1, "Hallo").to_bytes();
        assert!(String::from_utf8(m).unwrap().starts_with("Message-ID: <msg-1@fixture.postfach.test>\r\n"));
    }
}
