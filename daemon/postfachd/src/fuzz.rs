//! Property-based fuzzing (proptest) of the mail-export reader behind `postfachd import`:
//! mbox texts written from N generated messages (with `From ` lines in bodies, quoted
//! `>From ` lines, CRLF and LF, 8-bit bytes) split back into the same N messages byte for
//! byte; maildirs and directories of `.eml` files read back every file in order with CRLF
//! line ends; arbitrary bytes never panic the mbox splitter, the message sniffer or `read`.
//!
//! `make test` runs a fixed number of cases from a fixed seed; `PROPTEST_CASES` and
//! `PROPTEST_RNG_SEED` override both (`make fuzz`).

#![allow(clippy::unwrap_used)]

use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::RngSeed;

use crate::import::{ImportError, looks_like_message, read, split_mbox};

/// `cases` unless `PROPTEST_CASES` is set; a fixed seed unless `PROPTEST_RNG_SEED` is set.
fn config(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(0x1390_0127);
    }
    // A failure prints its shrunk input and the seed reproduces it: no files in the tree.
    config.failure_persistence = None;
    config
}

/// For the tests that write files, which take a hundred times as long per case as the
/// parsing ones or more (creating and deleting directories on a busy disk): `cases`, or a
/// hundredth of `PROPTEST_CASES` when that is set.
fn config_with_files(cases: u32) -> ProptestConfig {
    let mut config = config(cases);
    if let Some(n) = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse::<u32>().ok()) {
        config.cases = (n / 100).max(1);
    }
    config
}

/// One line of a message without its line end: anything but LF, and not ending in CR
/// (a CR before the line end is part of the line end), with many `From ` lines, quoted
/// or not, and empty lines.
fn line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => "[ -~]{0,40}".prop_map(String::into_bytes),
        3 => Just(Vec::new()),
        3 => "(>{0,3})From [ -~]{0,20}".prop_map(String::into_bytes),
        1 => "(>{1,3})From".prop_map(String::into_bytes),
        1 => Just(b"From".to_vec()),
        1 => Just(" From indented".as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>().prop_filter("no LF", |b| *b != b'\n'), 1..30),
    ]
    .prop_map(|mut l| {
        while l.last() == Some(&b'\r') {
            l.pop();
        }
        l
    })
}

/// A message as lines: at least one header line, then anything.
fn message_lines() -> impl Strategy<Value = Vec<Vec<u8>>> {
    ("(Subject|From|Received|X-[A-Za-z]{1,8}): [ -~]{0,30}", prop::collection::vec(line(), 0..20)).prop_map(
        |(first, rest)| {
            let mut lines = vec![first.into_bytes()];
            lines.extend(rest);
            lines
        },
    )
}

/// What the reader gives for a message: every line with CRLF.
fn with_crlf(lines: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(l);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Writes messages as mboxrd does: a `From ` line before each, every `>*From ` line
/// quoted with one more `>`, a blank line after each; line ends LF or CRLF.
fn write_mbox(messages: &[Vec<Vec<u8>>], crlf: &[bool]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ends = crlf.iter().cycle();
    let mut end = |out: &mut Vec<u8>| {
        out.extend_from_slice(if *ends.next().unwrap_or(&false) { b"\r\n" } else { b"\n" });
    };
    for (i, m) in messages.iter().enumerate() {
        out.extend_from_slice(format!("From sender{i}@example.de Mon Jan  1 10:00:00 2024").as_bytes());
        end(&mut out);
        for l in m {
            let unquoted = l.iter().position(|b| *b != b'>').map_or(&l[..0], |n| &l[n..]);
            if unquoted.starts_with(b"From ") {
                out.push(b'>');
            }
            out.extend_from_slice(l);
            end(&mut out);
        }
        end(&mut out);
    }
    out
}

/// `data` with every LF that has no CR before it made CRLF: what the reader promises for
/// message files.
fn crlf_oracle(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut previous = 0u8;
    for &b in data {
        if b == b'\n' && previous != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        previous = b;
    }
    out
}

/// Checks what the splitter makes of any input.
fn check_split(data: &[u8]) {
    let messages = split_mbox(data);
    let from_lines = data.split(|b| *b == b'\n').filter(|l| l.starts_with(b"From ")).count();
    assert!(messages.len() <= from_lines, "{} messages from {from_lines} From lines", messages.len());
    for m in &messages {
        assert!(!m.is_empty() && m.ends_with(b"\r\n"), "message {m:?} does not end in CRLF");
        assert!(m.windows(2).all(|w| w[1] != b'\n' || w[0] == b'\r'), "bare LF in {m:?}");
    }
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn mbox_splits_into_the_messages_written(
        messages in prop::collection::vec(message_lines(), 1..8),
        crlf in prop::collection::vec(any::<bool>(), 1..4),
    ) {
        let mbox = write_mbox(&messages, &crlf);
        check_split(&mbox);
        let split = split_mbox(&mbox);
        let expected: Vec<Vec<u8>> = messages.iter().map(|m| with_crlf(m)).collect();
        prop_assert_eq!(split.len(), messages.len());
        for (got, want) in split.iter().zip(&expected) {
            prop_assert_eq!(String::from_utf8_lossy(got), String::from_utf8_lossy(want));
        }
        prop_assert_eq!(split, expected);
    }

    #[test]
    fn mbox_splitting_never_panics_on_any_bytes(data in prop::collection::vec(any::<u8>(), 0..600)) {
        check_split(&data);
        let _ = looks_like_message(&data);
    }

    #[test]
    fn mbox_splitting_never_panics_on_mbox_like_text(lines in prop::collection::vec(line(), 0..40), crlf in any::<bool>()) {
        let end: &[u8] = if crlf { b"\r\n" } else { b"\n" };
        let mut data = b"From x".to_vec();
        for l in &lines {
            data.extend_from_slice(end);
            data.extend_from_slice(l);
        }
        check_split(&data);
        let _ = looks_like_message(&data);
    }
}

/// A file's content for a maildir: a message, or anything.
fn file_content() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => (message_lines(), any::<bool>()).prop_map(|(lines, crlf)| {
            let end: &[u8] = if crlf { b"\r\n" } else { b"\n" };
            lines.iter().flat_map(|l| l.iter().copied().chain(end.iter().copied())).collect()
        }),
        1 => prop::collection::vec(any::<u8>(), 0..200),
    ]
}

/// Writes `files` (name, content) into `dir`, creating it.
fn write_files(dir: &Path, files: &[(String, Vec<u8>)]) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, content) in files {
        std::fs::write(dir.join(name), content).unwrap();
    }
}

/// File names as delivery agents make them (unique within a directory).
fn file_names(max: usize) -> impl Strategy<Value = Vec<String>> {
    prop::collection::btree_set("[0-9]{1,10}\\.[A-Za-z0-9_]{1,8}(:2,[A-Z]{0,3})?", 0..max)
        .prop_map(|s| s.into_iter().collect())
}

proptest! {
    #![proptest_config(config_with_files(100))]

    #[test]
    fn a_maildir_reads_back_every_file_in_order(
        cur in file_names(6),
        new in file_names(6),
        sub in file_names(4),
        contents in prop::collection::vec(file_content(), 16),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("Maildir");
        let mut contents = contents.into_iter().cycle();
        let mut with = |names: Vec<String>| -> Vec<(String, Vec<u8>)> {
            names.into_iter().map(|n| (n, contents.next().unwrap())).collect()
        };
        let (cur, new, sub) = (with(cur), with(new), with(sub));
        write_files(&root.join("cur"), &cur);
        write_files(&root.join("new"), &new);
        std::fs::create_dir_all(root.join("tmp")).unwrap();
        write_files(&root.join(".Projekte.Schule").join("cur"), &sub);

        let read = read(&root).unwrap();
        // Sorted by name already; the subfolder comes after the top level.
        let expected: Vec<Vec<u8>> = cur.iter().chain(&new).chain(&sub).map(|(_, c)| crlf_oracle(c)).collect();
        prop_assert_eq!(read.iter().map(|e| e.raw.clone()).collect::<Vec<_>>(), expected);
        let names: Vec<&String> = cur.iter().chain(&new).chain(&sub).map(|(n, _)| n).collect();
        for (e, name) in read.iter().zip(names) {
            prop_assert!(e.origin.ends_with(name.as_str()), "{} is not {}", e.origin, name);
        }
    }

    #[test]
    fn a_directory_of_eml_files_reads_back_every_message(
        messages in prop::collection::btree_map("[a-z0-9]{1,10}", message_lines(), 1..6),
        crlf in any::<bool>(),
        junk in prop::option::of(prop::collection::vec(any::<u8>(), 0..100)),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let end: &[u8] = if crlf { b"\r\n" } else { b"\n" };
        let mut files = Vec::new();
        for (name, lines) in &messages {
            // A message file must start like a message: a field every message has, then
            // the generated lines as the body.
            let mut content = b"From: a@example.de".to_vec();
            content.extend_from_slice(end);
            content.extend_from_slice(end);
            for l in lines {
                content.extend_from_slice(l);
                content.extend_from_slice(end);
            }
            files.push((format!("{name}.eml"), content));
        }
        write_files(tmp.path(), &files);
        std::fs::write(tmp.path().join("readme.txt"), b"not a message").unwrap();
        let expected: Vec<Vec<u8>> = files.iter().map(|(_, c)| crlf_oracle(c)).collect();
        match read(tmp.path()) {
            Ok(read) => prop_assert_eq!(read.into_iter().map(|e| e.raw).collect::<Vec<_>>(), expected),
            Err(e) => prop_assert!(false, "{e}"),
        }
        if let Some(junk) = junk {
            let junk_is_message = looks_like_message(&junk);
            std::fs::write(tmp.path().join("zz-junk.eml"), &junk).unwrap();
            match read(tmp.path()) {
                Ok(read) => prop_assert!(junk_is_message && read.len() == files.len() + 1),
                Err(ImportError::Unknown(path)) => {
                    prop_assert!(!junk_is_message && path.ends_with("zz-junk.eml"));
                }
                Err(e) => prop_assert!(false, "{e}"),
            }
        }
    }

    #[test]
    fn any_file_reads_or_is_refused_without_panic(data in prop::collection::vec(any::<u8>(), 0..400), mbox in any::<bool>()) {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("export");
        let data = if mbox { [&b"From "[..], &data].concat() } else { data };
        std::fs::write(&path, &data).unwrap();
        match read(&path) {
            Ok(messages) => {
                prop_assert!(!messages.is_empty());
                if !data.starts_with(b"From ") {
                    prop_assert_eq!(messages.len(), 1);
                    prop_assert_eq!(&messages[0].raw, &crlf_oracle(&data));
                }
            }
            Err(ImportError::Unknown(_) | ImportError::Empty(_)) => {}
            Err(e) => prop_assert!(false, "{e}"),
        }
    }
}
