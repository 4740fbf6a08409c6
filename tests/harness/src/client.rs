//! A small blocking IMAP client for fixtures: seeding mailboxes and acting as "another
//! mail client" during tests. Independent of the daemon's IMAP stack on purpose, so a
//! bug there cannot hide itself in the tests. Mailbox names are passed in wire form
//! (modified UTF-7), so tests state exactly what the server sees.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::error::HarnessError;

/// One `* LIST` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListLine {
    /// Attributes, e.g. `\HasNoChildren`.
    pub attributes: Vec<String>,
    /// Delimiter, `None` for NIL.
    pub delimiter: Option<String>,
    /// Wire name.
    pub raw: String,
}

/// What SELECT reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Selected {
    /// EXISTS.
    pub exists: u32,
    /// UIDVALIDITY.
    pub uidvalidity: u32,
    /// UIDNEXT.
    pub uidnext: u32,
}

/// An untagged response line with its literals.
pub type Untagged = (String, Vec<Vec<u8>>);

/// A logged-in (or about to be) IMAP connection.
pub struct ImapClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    tag: u32,
}

fn err(e: impl std::fmt::Display) -> HarnessError {
    HarnessError::Imap(e.to_string())
}

/// Quotes a string for IMAP.
pub fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

impl ImapClient {
    /// Connects and reads the greeting.
    pub fn connect(addr: impl ToSocketAddrs) -> Result<ImapClient, HarnessError> {
        let stream = TcpStream::connect(addr).map_err(err)?;
        stream.set_read_timeout(Some(Duration::from_secs(30))).map_err(err)?;
        let writer = stream.try_clone().map_err(err)?;
        let mut c = ImapClient { reader: BufReader::new(stream), writer, tag: 0 };
        let greeting = c.read_line()?;
        if !greeting.starts_with("* OK") {
            return Err(err(format!("unexpected greeting {greeting}")));
        }
        Ok(c)
    }

    fn read_line(&mut self) -> Result<String, HarnessError> {
        let mut buf = Vec::new();
        self.reader.read_until(b'\n', &mut buf).map_err(err)?;
        if buf.is_empty() {
            return Err(err("connection closed"));
        }
        Ok(String::from_utf8_lossy(&buf).trim_end().to_owned())
    }

    /// Reads one response line with its literals; returns the text with literals inlined
    /// as `{n}` markers and the literal bytes separately.
    fn read_response(&mut self) -> Result<(String, Vec<Vec<u8>>), HarnessError> {
        let mut text = String::new();
        let mut literals = Vec::new();
        loop {
            let line = self.read_line()?;
            text.push_str(&line);
            let Some(n) = literal_len(&line) else { break };
            let mut data = vec![0; n];
            self.reader.read_exact(&mut data).map_err(err)?;
            literals.push(data);
        }
        Ok((text, literals))
    }

    fn next_tag(&mut self) -> String {
        self.tag += 1;
        format!("h{}", self.tag)
    }

    /// Sends a command and reads until its tagged reply. Returns the untagged lines
    /// (with literals) or the server's NO/BAD text as an error.
    pub fn command(&mut self, command: &str) -> Result<Vec<Untagged>, HarnessError> {
        let tag = self.next_tag();
        self.writer.write_all(format!("{tag} {command}\r\n").as_bytes()).map_err(err)?;
        self.finish(&tag, command)
    }

    fn finish(&mut self, tag: &str, command: &str) -> Result<Vec<Untagged>, HarnessError> {
        let mut untagged = Vec::new();
        loop {
            let (line, lits) = self.read_response()?;
            if let Some(rest) = line.strip_prefix(&format!("{tag} ")) {
                if rest.starts_with("OK") {
                    return Ok(untagged);
                }
                return Err(err(format!("{command}: {rest}")));
            }
            untagged.push((line, lits));
        }
    }

    /// LOGIN.
    pub fn login(&mut self, user: &str, password: &str) -> Result<(), HarnessError> {
        self.command(&format!("LOGIN {} {}", quote(user), quote(password))).map(drop)
    }

    /// CREATE (wire name).
    pub fn create(&mut self, raw: &str) -> Result<(), HarnessError> {
        self.command(&format!("CREATE {}", quote(raw))).map(drop)
    }

    /// DELETE (wire name).
    pub fn delete(&mut self, raw: &str) -> Result<(), HarnessError> {
        self.command(&format!("DELETE {}", quote(raw))).map(drop)
    }

    /// LIST "" "*".
    pub fn list(&mut self) -> Result<Vec<ListLine>, HarnessError> {
        let lines = self.command("LIST \"\" \"*\"")?;
        Ok(lines.iter().filter_map(|(l, lits)| parse_list(l, lits)).collect())
    }

    /// SELECT (wire name).
    pub fn select(&mut self, raw: &str) -> Result<Selected, HarnessError> {
        let lines = self.command(&format!("SELECT {}", quote(raw)))?;
        let mut s = Selected::default();
        for (l, _) in &lines {
            if let Some(n) = l.strip_prefix("* ").and_then(|r| r.strip_suffix(" EXISTS")) {
                s.exists = n.parse().unwrap_or(0);
            }
            if let Some(v) = bracket_number(l, "UIDVALIDITY") {
                s.uidvalidity = v;
            }
            if let Some(v) = bracket_number(l, "UIDNEXT") {
                s.uidnext = v;
            }
        }
        Ok(s)
    }

    /// APPEND one message (wire name), with optional flags (`\Seen`) and INTERNALDATE
    /// (`"01-Jan-2020 10:00:00 +0000"`, quotes included).
    pub fn append(
        &mut self,
        raw: &str,
        flags: &[&str],
        internal_date: Option<&str>,
        message: &[u8],
    ) -> Result<(), HarnessError> {
        let tag = self.next_tag();
        let head = append_head(raw, flags, internal_date, message.len());
        self.writer.write_all(format!("{tag} {head}").as_bytes()).map_err(err)?;
        self.writer.write_all(message).map_err(err)?;
        self.writer.write_all(b"\r\n").map_err(err)?;
        self.finish(&tag, "APPEND").map(drop)
    }

    /// APPENDs many messages, pipelined with non-synchronising literals (LITERAL+).
    pub fn append_many(&mut self, raw: &str, messages: &[Vec<u8>]) -> Result<(), HarnessError> {
        for chunk in messages.chunks(200) {
            let mut tags = Vec::new();
            let mut buf = Vec::new();
            for m in chunk {
                let tag = self.next_tag();
                buf.extend_from_slice(format!("{tag} {}", append_head(raw, &[], None, m.len())).as_bytes());
                buf.extend_from_slice(m);
                buf.extend_from_slice(b"\r\n");
                tags.push(tag);
            }
            self.writer.write_all(&buf).map_err(err)?;
            for tag in tags {
                self.finish(&tag, "APPEND")?;
            }
        }
        Ok(())
    }

    /// UID SEARCH; returns the UIDs.
    pub fn uid_search(&mut self, query: &str) -> Result<Vec<u32>, HarnessError> {
        let lines = self.command(&format!("UID SEARCH {query}"))?;
        let mut uids = Vec::new();
        for (l, _) in lines {
            if let Some(rest) = l.strip_prefix("* SEARCH") {
                uids.extend(rest.split_whitespace().filter_map(|n| n.parse::<u32>().ok()));
            }
        }
        uids.sort_unstable();
        Ok(uids)
    }

    /// UID MOVE (the selected folder's `uids` to a wire name).
    pub fn uid_move(&mut self, uids: &str, dest: &str) -> Result<(), HarnessError> {
        self.command(&format!("UID MOVE {uids} {}", quote(dest))).map(drop)
    }

    /// UID COPY.
    pub fn uid_copy(&mut self, uids: &str, dest: &str) -> Result<(), HarnessError> {
        self.command(&format!("UID COPY {uids} {}", quote(dest))).map(drop)
    }

    /// UID STORE, e.g. `uid_store("3", "+FLAGS (\\Seen)")`.
    pub fn uid_store(&mut self, uids: &str, what: &str) -> Result<(), HarnessError> {
        self.command(&format!("UID STORE {uids} {what}")).map(drop)
    }

    /// EXPUNGE.
    pub fn expunge(&mut self) -> Result<(), HarnessError> {
        self.command("EXPUNGE").map(drop)
    }

    /// The flags of one UID in the selected folder.
    pub fn flags(&mut self, uid: u32) -> Result<Vec<String>, HarnessError> {
        let lines = self.command(&format!("UID FETCH {uid} (FLAGS)"))?;
        for (l, _) in lines {
            if let Some(start) = l.find("FLAGS (") {
                let rest = &l[start + 7..];
                let end = rest.find(')').unwrap_or(rest.len());
                return Ok(rest[..end].split_whitespace().map(str::to_owned).collect());
            }
        }
        Ok(Vec::new())
    }

    /// The raw bytes of one UID in the selected folder.
    pub fn body(&mut self, uid: u32) -> Result<Vec<u8>, HarnessError> {
        let lines = self.command(&format!("UID FETCH {uid} (BODY.PEEK[])"))?;
        lines.into_iter().find_map(|(_, mut lits)| lits.pop()).ok_or_else(|| err(format!("no body for UID {uid}")))
    }

    /// LOGOUT.
    pub fn logout(&mut self) -> Result<(), HarnessError> {
        self.command("LOGOUT").map(drop)
    }
}

fn append_head(raw: &str, flags: &[&str], internal_date: Option<&str>, len: usize) -> String {
    let flags = if flags.is_empty() { String::new() } else { format!(" ({})", flags.join(" ")) };
    let date = internal_date.map(|d| format!(" {d}")).unwrap_or_default();
    format!("APPEND {}{flags}{date} {{{len}+}}\r\n", quote(raw))
}

fn literal_len(line: &str) -> Option<usize> {
    let open = line.rfind('{')?;
    let inner = line[open + 1..].strip_suffix('}')?;
    inner.trim_end_matches('+').parse().ok()
}

fn bracket_number(line: &str, key: &str) -> Option<u32> {
    let start = line.find(&format!("[{key} "))? + key.len() + 2;
    let rest = &line[start..];
    rest[..rest.find(']')?].parse().ok()
}

fn parse_list(line: &str, literals: &[Vec<u8>]) -> Option<ListLine> {
    let rest = line.strip_prefix("* LIST (")?;
    let close = rest.find(')')?;
    let attributes = rest[..close].split_whitespace().map(str::to_owned).collect();
    let rest = rest[close + 1..].trim_start();
    let (delimiter, rest) = if let Some(r) = rest.strip_prefix("NIL") {
        (None, r.trim_start())
    } else {
        let r = rest.strip_prefix('"')?;
        let (d, r) = if let Some(r2) = r.strip_prefix("\\\\") { ("\\", r2) } else { (&r[..1], &r[1..]) };
        (Some(d.to_owned()), r.strip_prefix('"')?.trim_start())
    };
    let raw = if literal_len(rest).is_some() {
        String::from_utf8_lossy(literals.first()?).into_owned()
    } else if let Some(q) = rest.strip_prefix('"') {
        q.strip_suffix('"')?.replace("\\\"", "\"").replace("\\\\", "\\")
    } else {
        rest.to_owned()
    };
    Some(ListLine { attributes, delimiter, raw })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_list_lines() {
        let l = parse_list("* LIST (\\HasNoChildren \\Sent) \"/\" \"[Gmail]/Sent Mail\"", &[]).unwrap();
        assert_eq!(l.raw, "[Gmail]/Sent Mail");
        assert_eq!(l.delimiter.as_deref(), Some("/"));
        assert_eq!(l.attributes, vec!["\\HasNoChildren", "\\Sent"]);
        let l = parse_list("* LIST () \".\" INBOX.Entw&APw-rfe", &[]).unwrap();
        assert_eq!(l.raw, "INBOX.Entw&APw-rfe");
        assert_eq!(literal_len("* 1 FETCH (BODY[] {123}"), Some(123));
    }
}
