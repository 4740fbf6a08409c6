//! Reading mail exports of POP3-era clients: an mbox file (mboxo/mboxrd, as Thunderbird,
//! Outlook Express converters and `formail` write them), a maildir (`cur/`, `new/`, and
//! Maildir++ subfolders), a single message file (`.eml`, what webmailers export) or a
//! directory of them. Anything else is refused rather than read as zero messages.
//! Messages come out with CRLF line ends, as IMAP servers hand them out, so content
//! comparisons with the server's copies line up.

use std::path::{Path, PathBuf};

/// Why an export could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The path does not exist or cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The export, or the message file inside it, that could not be read.
        path: PathBuf,
        /// The I/O error, e.g. not found or permission denied.
        source: std::io::Error,
    },
    /// Not a format `import` reads.
    #[error(
        "{0} is no mail export: expected an mbox file (first line `From …`), a message file (.eml, \
         starting with header lines such as `From:` or `Subject:`), a maildir (a directory with cur/ and new/) \
         or a directory of .eml files"
    )]
    Unknown(PathBuf),
    /// An mbox (or a directory of messages) without a single message in it.
    #[error("{0} contains no messages")]
    Empty(PathBuf),
}

/// One message of an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    /// RFC 5322 bytes with CRLF line ends.
    pub raw: Vec<u8>,
    /// Where it came from, for messages: the file's path, or `path#n` for the n-th (from 1) message of an mbox.
    pub origin: String,
}

/// Reads every message of an mbox file, a maildir, a message file or a directory of
/// message files.
pub fn read(path: &Path) -> Result<Vec<Exported>, ImportError> {
    let meta = std::fs::metadata(path).map_err(|source| ImportError::Read { path: path.to_owned(), source })?;
    if meta.is_file() {
        let data = std::fs::read(path).map_err(|source| ImportError::Read { path: path.to_owned(), source })?;
        if data.starts_with(b"From ") {
            let messages: Vec<Exported> = split_mbox(&data)
                .into_iter()
                .enumerate()
                .map(|(i, raw)| Exported { raw, origin: format!("{}#{}", path.display(), i + 1) })
                .collect();
            if messages.is_empty() {
                return Err(ImportError::Empty(path.to_owned()));
            }
            return Ok(messages);
        }
        if looks_like_message(&data) {
            return Ok(vec![Exported { raw: crlf(&data), origin: path.display().to_string() }]);
        }
        return Err(ImportError::Unknown(path.to_owned()));
    }
    if !(path.join("cur").is_dir() || path.join("new").is_dir()) {
        return read_message_files(path);
    }
    let mut dirs = vec![path.to_owned()];
    // Maildir++: subfolders are `.Name` directories beside cur/new/tmp.
    let entries = std::fs::read_dir(path).map_err(|source| ImportError::Read { path: path.to_owned(), source })?;
    for e in entries.flatten() {
        let p = e.path();
        if p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) && p.join("cur").is_dir() {
            dirs.push(p);
        }
    }
    dirs.sort();
    let mut out = Vec::new();
    for dir in dirs {
        for sub in ["cur", "new"] {
            let d = dir.join(sub);
            let Ok(entries) = std::fs::read_dir(&d) else { continue };
            let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
            files.sort();
            for f in files {
                let data = std::fs::read(&f).map_err(|source| ImportError::Read { path: f.clone(), source })?;
                out.push(Exported { raw: crlf(&data), origin: f.display().to_string() });
            }
        }
    }
    Ok(out)
}

/// A directory of `.eml` files (each one message); other files are ignored, but a
/// directory with no message file at all is refused.
fn read_message_files(dir: &Path) -> Result<Vec<Exported>, ImportError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ImportError::Read { path: dir.to_owned(), source })?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("eml")))
        .collect();
    if files.is_empty() {
        return Err(ImportError::Unknown(dir.to_owned()));
    }
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let data = std::fs::read(&f).map_err(|source| ImportError::Read { path: f.clone(), source })?;
        if !looks_like_message(&data) {
            return Err(ImportError::Unknown(f));
        }
        out.push(Exported { raw: crlf(&data), origin: f.display().to_string() });
    }
    Ok(out)
}

/// Whether `data` starts like an RFC 5322 message: header lines (`Name: value`, folded
/// lines allowed) up to an empty line or the end, among them at least one field every
/// message has (`From`, `Date`, `Subject`, `Message-ID`, `Received`, `Return-Path`).
pub fn looks_like_message(data: &[u8]) -> bool {
    let mut known = false;
    let mut lines = 0;
    for line in data.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        lines += 1;
        if line[0] == b' ' || line[0] == b'\t' {
            if lines == 1 {
                return false;
            }
            continue;
        }
        let Some(colon) = line.iter().position(|b| *b == b':') else { return false };
        let name = &line[..colon];
        if name.is_empty() || !name.iter().all(|b| b.is_ascii_graphic()) {
            return false;
        }
        known |= [&b"from"[..], b"date", b"subject", b"message-id", b"received", b"return-path"]
            .iter()
            .any(|k| name.eq_ignore_ascii_case(k));
    }
    known
}

/// Splits an mbox: a message starts at a `From ` line at the start of the file or after an
/// empty line. `>From ` quoting (mboxrd: any number of `>`) loses one `>`.
pub fn split_mbox(data: &[u8]) -> Vec<Vec<u8>> {
    let mut messages = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    let mut previous_blank = true;
    for line in data.split_inclusive(|b| *b == b'\n') {
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if previous_blank && content.starts_with(b"From ") {
            if let Some(m) = current.take() {
                messages.push(finish(m));
            }
            current = Some(Vec::new());
            previous_blank = false;
            continue;
        }
        previous_blank = content.is_empty();
        let Some(m) = current.as_mut() else { continue };
        let unquoted = match content.iter().position(|b| *b != b'>') {
            Some(n) if n > 0 && content[n..].starts_with(b"From ") => &content[1..],
            _ => content,
        };
        m.extend_from_slice(unquoted);
        m.extend_from_slice(b"\r\n");
    }
    if let Some(m) = current.take() {
        messages.push(finish(m));
    }
    messages.into_iter().filter(|m| !m.is_empty()).collect()
}

/// Drops the blank line that separates a message from the next `From ` line.
fn finish(mut m: Vec<u8>) -> Vec<u8> {
    if m.ends_with(b"\r\n\r\n") {
        m.truncate(m.len() - 2);
    }
    m
}

/// Normalises line ends to CRLF. A CR at the very end (no LF after it) is kept: it is
/// no line end, and dropping it lost a byte of the message (found by the fuzz tests).
fn crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 40);
    for line in data.split_inclusive(|b| *b == b'\n') {
        match line.strip_suffix(b"\n") {
            Some(content) => {
                out.extend_from_slice(content.strip_suffix(b"\r").unwrap_or(content));
                out.extend_from_slice(b"\r\n");
            }
            None => out.extend_from_slice(line),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mbox_splits_on_from_lines_after_blank_lines_and_unquotes() {
        let mbox = b"From a@x Mon Jan  1 10:00:00 2024\nSubject: one\n\nbody\n>From here\n>>From there\nFrom inside a paragraph\n\nFrom b@x Tue Jan  2 10:00:00 2024\nSubject: two\n\nsecond\n";
        let m = split_mbox(mbox);
        assert_eq!(m.len(), 2);
        assert_eq!(
            String::from_utf8_lossy(&m[0]),
            "Subject: one\r\n\r\nbody\r\nFrom here\r\n>From there\r\nFrom inside a paragraph\r\n"
        );
        assert_eq!(String::from_utf8_lossy(&m[1]), "Subject: two\r\n\r\nsecond\r\n");
    }

    #[test]
    fn only_header_lines_make_a_message() {
        assert!(looks_like_message(b"From: a@x\nSubject: hi\n\nbody\n"));
        assert!(looks_like_message(b"Received: from x\n  by y\nSubject: z\r\n\r\n"));
        assert!(!looks_like_message(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"));
        assert!(!looks_like_message(b"Dear colleague,\nplease find attached\n"));
        assert!(!looks_like_message(b"X-Only: custom\n\nbody"));
        assert!(!looks_like_message(b""));
    }

    #[test]
    fn crlf_is_idempotent() {
        assert_eq!(crlf(b"a\nb\r\nc"), b"a\r\nb\r\nc");
        assert_eq!(crlf(&crlf(b"a\nb\n")), b"a\r\nb\r\n");
        // Found by the fuzz tests: a CR at the end of a file was dropped.
        assert_eq!(crlf(b"a\r\nb\r"), b"a\r\nb\r");
    }
}
