//! Secrets: where a password comes from, and the resolved value that never prints.
//!
//! A password may be written inline, or taken from an environment variable, a file or
//! the standard output of a command (`pass show …`, a vault CLI). The resolved value is a
//! [`Secret`], whose `Debug` and `Display` print `[redacted]`, so a secret cannot reach a
//! log line, an error message or a panic by accident.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

/// Where a secret comes from, as written in an account file.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// `password = "…"` inline.
    Inline(String),
    /// `password = { env = "NAME" }`.
    Env(String),
    /// `password = { file = "path" }`; relative to the config directory; one trailing
    /// newline is removed.
    File(PathBuf),
    /// `password = { command = ["pass", "show", "mm"] }`; its standard output, one
    /// trailing newline removed.
    Command(Vec<String>),
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Inline(_) => f.write_str("Inline([redacted])"),
            SecretSource::Env(name) => write!(f, "Env({name:?})"),
            SecretSource::File(path) => write!(f, "File({path:?})"),
            SecretSource::Command(argv) => write!(f, "Command({argv:?})"),
        }
    }
}

impl<'de> Deserialize<'de> for SecretSource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SourceVisitor)
    }
}

struct SourceVisitor;

/// Serde's own type errors quote the value (``invalid type: integer `987654321` ``);
/// for a secret that would print the password. These name only the kind of value.
fn wrong_type<E: de::Error>(found: &str, expected: &str) -> E {
    E::custom(format!("invalid type: {found}, expected {expected} (the value is not shown: this is a secret field)"))
}

const SOURCE_EXPECTED: &str = "a string, or a table with exactly one of `env`, `file` or `command`";

impl<'de> Visitor<'de> for SourceVisitor {
    type Value = SecretSource;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(SOURCE_EXPECTED)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(SecretSource::Inline(v.to_owned()))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Err(wrong_type("a boolean", SOURCE_EXPECTED))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Err(wrong_type("an integer", SOURCE_EXPECTED))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Err(wrong_type("an integer", SOURCE_EXPECTED))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Err(wrong_type("a float", SOURCE_EXPECTED))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(wrong_type("an array", SOURCE_EXPECTED))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found: Option<SecretSource> = None;
        while let Some(key) = map.next_key::<String>()? {
            let source = match key.as_str() {
                "env" => SecretSource::Env(map.next_value::<SecretText>()?.0),
                "file" => SecretSource::File(PathBuf::from(map.next_value::<SecretText>()?.0)),
                "command" => {
                    let argv: Vec<String> = map.next_value::<Vec<SecretText>>()?.into_iter().map(|t| t.0).collect();
                    if argv.is_empty() || argv[0].is_empty() {
                        return Err(de::Error::custom(
                            "`command` needs at least the program, e.g. [\"pass\", \"show\", \"mm\"]",
                        ));
                    }
                    SecretSource::Command(argv)
                }
                // toml hands date-times over as a one-key table.
                other if other.starts_with("$__toml_private") => {
                    return Err(wrong_type("a date-time", SOURCE_EXPECTED));
                }
                other => {
                    return Err(de::Error::custom(format!(
                        "unknown secret source `{other}`; use `env`, `file` or `command`"
                    )));
                }
            };
            if found.is_some() {
                return Err(de::Error::custom("a secret takes exactly one of `env`, `file` or `command`"));
            }
            found = Some(source);
        }
        found.ok_or_else(|| de::Error::custom("empty secret table; use `env`, `file` or `command`"))
    }
}

/// A string inside a secret table (`env`, `file`, `command` arguments) whose type errors
/// never quote the value.
struct SecretText(String);

impl<'de> Deserialize<'de> for SecretText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = SecretText;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(SecretText(v.to_owned()))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Err(wrong_type("a boolean", "a string"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Err(wrong_type("an integer", "a string"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Err(wrong_type("an integer", "a string"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Err(wrong_type("a float", "a string"))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(wrong_type("an array", "a string"))
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(wrong_type("a table", "a string"))
    }
}

/// A resolved secret. Prints as `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value known to be secret.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that must send it to a server.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Why a secret could not be resolved. Never contains the secret.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The environment variable is unset or not UTF-8.
    #[error("environment variable `{0}` is not set")]
    EnvMissing(String),
    /// The file could not be read.
    #[error("cannot read password file {path}: {source}")]
    File {
        /// The password file, resolved against the config directory.
        path: PathBuf,
        /// Why it could not be read, in the OS's words.
        source: std::io::Error,
    },
    /// The command could not be started, failed, or timed out.
    #[error("password command `{program}` {reason}")]
    Command {
        /// The program (`argv[0]`); its arguments are never shown.
        program: String,
        /// What went wrong, e.g. `exited with status 1: gpg: decryption failed`.
        reason: String,
    },
    /// The resolved value is empty.
    #[error("the password from {0} is empty")]
    Empty(String),
}

/// Set when the process shuts down: running password commands are killed instead of
/// holding the exit up for their timeout.
static CANCELLED: AtomicBool = AtomicBool::new(false);

/// Kills every running password command and makes later ones fail at once; for
/// shutdown (SIGTERM), so that a hanging `pass` or vault CLI cannot delay the exit.
pub fn cancel_commands() {
    CANCELLED.store(true, Ordering::SeqCst);
}

impl SecretSource {
    /// Resolves the secret. Relative file paths are taken relative to `base`; a command
    /// may run for `timeout` (the account's `timeout_secs`). Blocking: reads files and
    /// may run a command, so call it off the async runtime.
    pub fn resolve(&self, base: &Path, timeout: Duration) -> Result<Secret, SecretError> {
        let (value, what) = match self {
            SecretSource::Inline(v) => (v.clone(), "the account file".to_owned()),
            SecretSource::Env(name) => {
                let v = std::env::var(name).map_err(|_| SecretError::EnvMissing(name.clone()))?;
                (v, format!("environment variable `{name}`"))
            }
            SecretSource::File(path) => {
                let full = base.join(path);
                let v = std::fs::read_to_string(&full)
                    .map_err(|source| SecretError::File { path: full.clone(), source })?;
                (strip_newline(v), format!("file {}", full.display()))
            }
            SecretSource::Command(argv) => (run_command(argv, base, timeout)?, format!("command `{}`", argv[0])),
        };
        if value.is_empty() {
            return Err(SecretError::Empty(what));
        }
        Ok(Secret(value))
    }

    /// Whether resolving this source may run a program (which `check` avoids).
    pub fn runs_command(&self) -> bool {
        matches!(self, SecretSource::Command(_))
    }
}

fn strip_newline(mut v: String) -> String {
    if v.ends_with('\n') {
        v.pop();
        if v.ends_with('\r') {
            v.pop();
        }
    }
    v
}

fn run_command(argv: &[String], base: &Path, timeout: Duration) -> Result<String, SecretError> {
    let program = argv.first().cloned().unwrap_or_default();
    let fail = |reason: String| SecretError::Command { program: program.clone(), reason };
    if CANCELLED.load(Ordering::SeqCst) {
        return Err(fail("was not started: postfachd is shutting down".into()));
    }
    let mut child = Command::new(&program)
        .args(&argv[1..])
        .current_dir(base)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("could not be started: {e}")))?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(format!("did not finish within {}s (timeout_secs)", timeout.as_secs())));
            }
            Ok(None) if CANCELLED.load(Ordering::SeqCst) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail("was stopped: postfachd is shutting down".into()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(fail(format!("could not be waited for: {e}"))),
        }
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_string(&mut stdout).map_err(|e| fail(format!("printed non-UTF-8 output: {e}")))?;
    }
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    if !status.success() {
        // stderr of a password manager explains the failure and does not hold the secret.
        let first = stderr.lines().next().unwrap_or("").trim();
        let mut reason = format!("exited with {status}");
        if !first.is_empty() {
            reason.push_str(": ");
            reason.push_str(&first.chars().take(200).collect::<String>());
        }
        return Err(fail(reason));
    }
    Ok(strip_newline(stdout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Holder {
        password: SecretSource,
    }

    fn parse(src: &str) -> Result<SecretSource, toml::de::Error> {
        toml::from_str::<Holder>(src).map(|h| h.password)
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(parse(r#"password = "x""#).unwrap(), SecretSource::Inline("x".into()));
        assert_eq!(parse(r#"password = { env = "P" }"#).unwrap(), SecretSource::Env("P".into()));
        assert_eq!(parse(r#"password = { file = "pw" }"#).unwrap(), SecretSource::File(PathBuf::from("pw")));
        assert_eq!(
            parse(r#"password = { command = ["echo", "x"] }"#).unwrap(),
            SecretSource::Command(vec!["echo".into(), "x".into()])
        );
    }

    #[test]
    fn rejects_two_sources_and_unknown_ones() {
        let e = parse(r#"password = { env = "P", file = "f" }"#).unwrap_err();
        assert!(e.message().contains("exactly one"), "{e}");
        let e = parse(r#"password = { vault = "x" }"#).unwrap_err();
        assert!(e.message().contains("unknown secret source `vault`"), "{e}");
        let e = parse(r#"password = { command = [] }"#).unwrap_err();
        assert!(e.message().contains("at least the program"), "{e}");
    }

    #[test]
    fn type_errors_name_the_kind_never_the_value() {
        for src in [
            "password = 987654321",
            "password = 9876543.21",
            "password = true",
            "password = [\"987654321\"]",
            "password = 1987-06-05T04:03:21Z",
            "password = { env = 987654321 }",
            "password = { file = 987654321 }",
            "password = { command = [\"pass\", 987654321] }",
            "password = { env = [\"987654321\"] }",
        ] {
            let e = parse(src).unwrap_err();
            let text = e.message();
            assert!(text.contains("invalid type"), "{src}: {text}");
            for leak in ["987654321", "9876543.21", "true", "1987"] {
                assert!(!text.contains(leak), "{src}: {text}");
            }
        }
    }

    #[test]
    fn resolves_command_and_file_without_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw"), "geheim\n").unwrap();
        let s = SecretSource::File("pw".into()).resolve(dir.path(), Duration::from_secs(5)).unwrap();
        assert_eq!(s.expose(), "geheim");
        let s = SecretSource::Command(vec!["printf".into(), "abc\\n".into()])
            .resolve(dir.path(), Duration::from_secs(5))
            .unwrap();
        assert_eq!(s.expose(), "abc");
    }

    #[test]
    fn failing_command_reports_status_not_output() {
        let dir = tempfile::tempdir().unwrap();
        let e = SecretSource::Command(vec!["sh".into(), "-c".into(), "echo topsecret; echo nope >&2; exit 3".into()])
            .resolve(dir.path(), Duration::from_secs(5))
            .unwrap_err()
            .to_string();
        assert!(e.contains("exit status: 3") && e.contains("nope"), "{e}");
        assert!(!e.contains("topsecret"), "{e}");
    }

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "[redacted] [redacted]");
        assert!(!format!("{:?}", SecretSource::Inline("hunter2".into())).contains("hunter2"));
    }
}
