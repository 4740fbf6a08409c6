//! The raw floor: the least any client must do to download a mailbox. One TLS connection,
//! LOGIN, SELECT, and a single `UID FETCH 1:* (FLAGS INTERNALDATE BODY.PEEK[])` read to
//! the end (literals skipped by length) and thrown away. Runs as its own process so it is
//! measured like the other clients.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

/// Downloads the inbox; returns the number of message bytes read.
pub fn fetch_all(port: u16, ca: &Path, user: &str, password: &str) -> anyhow::Result<u64> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).context("reading the CA")? {
        roots.add(cert?)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let conn = rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("127.0.0.1")?.to_owned())?;
    let tcp = TcpStream::connect(("127.0.0.1", port))?;
    tcp.set_nodelay(true)?;
    let mut stream = BufReader::with_capacity(1 << 16, rustls::StreamOwned::new(conn, tcp));
    let mut line = Vec::new();
    read_line(&mut stream, &mut line)?;
    command(&mut stream, "a1", &format!("LOGIN \"{user}\" \"{password}\""))?;
    command(&mut stream, "a2", "SELECT INBOX")?;
    let bytes = command(&mut stream, "a3", "UID FETCH 1:* (FLAGS INTERNALDATE BODY.PEEK[])")?;
    command(&mut stream, "a4", "LOGOUT")?;
    Ok(bytes)
}

type Stream = BufReader<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>;

fn read_line(stream: &mut Stream, line: &mut Vec<u8>) -> anyhow::Result<()> {
    line.clear();
    if stream.read_until(b'\n', line)? == 0 {
        bail!("the server closed the connection");
    }
    Ok(())
}

/// Sends a command and reads to its tagged answer, skipping literals; returns the literal
/// bytes read.
fn command(stream: &mut Stream, tag: &str, text: &str) -> anyhow::Result<u64> {
    stream.get_mut().write_all(format!("{tag} {text}\r\n").as_bytes())?;
    stream.get_mut().flush()?;
    let mut line = Vec::new();
    let mut literal_bytes = 0u64;
    let mut sink = vec![0u8; 1 << 16];
    loop {
        read_line(stream, &mut line)?;
        // A literal: `{n}\r\n` ends the line, n bytes follow, then the line continues.
        while let Some(n) = literal_len(&line) {
            let mut left = n;
            while left > 0 {
                let chunk = left.min(sink.len() as u64) as usize;
                stream.read_exact(&mut sink[..chunk])?;
                left -= chunk as u64;
            }
            literal_bytes += n;
            read_line(stream, &mut line)?;
        }
        if line.starts_with(tag.as_bytes()) && line.get(tag.len()) == Some(&b' ') {
            let rest = String::from_utf8_lossy(&line[tag.len() + 1..]).into_owned();
            if !rest.starts_with("OK") {
                bail!("{text}: {}", rest.trim());
            }
            return Ok(literal_bytes);
        }
    }
}

fn literal_len(line: &[u8]) -> Option<u64> {
    let line = line.strip_suffix(b"\r\n")?;
    let line = line.strip_suffix(b"}")?;
    let open = line.iter().rposition(|b| *b == b'{')?;
    std::str::from_utf8(&line[open + 1..]).ok()?.parse().ok()
}
