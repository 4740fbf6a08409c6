//! Property-based fuzzing (proptest) of configuration loading: the example files in the
//! repository's `config/` (`postfach.toml`, `projects.toml`, `accounts/*.toml`) are mutated
//! (bytes and whole lines deleted, inserted, replaced, duplicated and swapped; values swapped
//! between keys or replaced by values of another type; keys and table headers duplicated;
//! invalid UTF-8), written to a temporary config directory and loaded the way
//! `postfachd check` loads them. Nothing may panic, and every problem must be reported as
//! `path:line:col: message` with a place that exists in the file.
//!
//! 1,000 mutated directories per run, from a fixed seed, so `make test` checks the same
//! ones every time; `PROPTEST_CASES` and `PROPTEST_RNG_SEED` override both (`make fuzz`).

#![allow(clippy::unwrap_used)]

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{RngSeed, TestRunner};

use crate::{Config, ConfigError};

/// `cases` unless `PROPTEST_CASES` is set; a fixed seed unless `PROPTEST_RNG_SEED` is set.
fn config(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(0x0C0F_1600);
    }
    // A failure prints its shrunk input and the seed reproduces it: no files in the tree.
    config.failure_persistence = None;
    config
}

/// The example config directory's files: path relative to the config directory, and bytes.
static EXAMPLES: LazyLock<Vec<(PathBuf, Vec<u8>)>> = LazyLock::new(|| {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let mut files = vec![PathBuf::from("postfach.toml"), PathBuf::from("projects.toml")];
    let mut accounts: Vec<PathBuf> = std::fs::read_dir(dir.join("accounts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| Path::new("accounts").join(p.file_name().unwrap()))
        .collect();
    accounts.sort();
    assert!(!accounts.is_empty(), "no example account files");
    files.extend(accounts);
    files.into_iter().map(|f| (f.clone(), std::fs::read(dir.join(&f)).unwrap())).collect()
});

/// Every `key = value` line's key and value in the examples, to move around.
static KEYS_AND_VALUES: LazyLock<(Vec<String>, Vec<String>)> = LazyLock::new(|| {
    let mut keys = Vec::new();
    let mut values = Vec::new();
    for (_, bytes) in EXAMPLES.iter() {
        for line in String::from_utf8_lossy(bytes).lines() {
            if let Some((k, v)) = line.split_once(" = ") {
                keys.push(k.trim().to_owned());
                values.push(v.trim().to_owned());
            }
        }
    }
    (keys, values)
});

/// TOML values of every type (and some that are no TOML at all).
const VALUES: &[&str] = &[
    "\"\"",
    "\"text\"",
    "'literal'",
    "\"\"\"multi\nline\"\"\"",
    "0",
    "-1",
    "65536",
    "99999999999999999999",
    "1.5",
    "nan",
    "inf",
    "true",
    "false",
    "1979-05-27T07:32:00Z",
    "07:32:00",
    "[]",
    "[1, \"a\"]",
    "[\"a\", \"b\"]",
    "{}",
    "{ file = \"x\" }",
    "{ env = \"POSTFACH_FUZZ_UNSET\" }",
    "{ command = [] }",
    "{ unknown = 1 }",
    "\"unterminated",
    "[1,",
    "{ a = ",
    "= =",
    "\"\\u00\"",
    "\"\\uD800\"",
    "\"Entw\u{fc}rfe\"",
    "",
];

/// Lines to insert: table headers (new, repeated, arrays of tables), stray syntax.
const LINES: &[&str] = &[
    "[imap]",
    "[smtp]",
    "[sync]",
    "[access]",
    "[identity]",
    "[routing]",
    "[routing.options]",
    "[api]",
    "[plugins]",
    "[users]",
    "[projects]",
    "[[webhooks]]",
    "[folders]",
    "[oauth2]",
    "[unknown]",
    "[imap.nested]",
    "[[imap]]",
    "[",
    "]]",
    "key",
    "= 1",
    "a.b.c = 1",
    "\"quoted key\" = 1",
    "# comment",
    "",
    "\t",
    "default = true",
    "\u{feff}x = 1",
];

/// One change to one file of the config directory.
#[derive(Debug, Clone)]
enum Mutation {
    /// Delete up to `len` bytes at a position.
    DeleteBytes(Index, u8),
    /// Insert bytes at a position.
    InsertBytes(Index, Vec<u8>),
    /// Replace the byte at a position.
    ReplaceByte(Index, u8),
    /// Delete a line.
    DeleteLine(Index),
    /// Insert a copy of a line (a duplicate key or table header) somewhere.
    DuplicateLine(Index, Index),
    /// Swap two lines.
    SwapLines(Index, Index),
    /// Insert a line from [`LINES`].
    InsertLine(Index, Index),
    /// Insert `key = value` with a key and a value from the examples or [`VALUES`].
    InsertKey(Index, Index, Index),
    /// Replace the value of a `key = value` line with a value of another type.
    ChangeValue(Index, Index),
    /// Swap the values of two `key = value` lines.
    SwapValues(Index, Index),
    /// Cut the file.
    Truncate(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let bytes = prop_oneof![
        2 => prop::collection::vec(any::<u8>(), 1..4),
        3 => prop::sample::select(vec!["\"", "'", "=", "[", "]", "{", "}", ",", "\n", "#", "\\", ".", " ", "\u{fc}", "\r"])
            .prop_map(|s| s.as_bytes().to_vec()),
        1 => Just(vec![0xFF]),
        1 => Just(vec![0]),
        1 => Just(vec![0xC3]),
    ];
    prop_oneof![
        3 => (any::<Index>(), 1..8u8).prop_map(|(i, n)| Mutation::DeleteBytes(i, n)),
        3 => (any::<Index>(), bytes).prop_map(|(i, b)| Mutation::InsertBytes(i, b)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::ReplaceByte(i, b)),
        3 => any::<Index>().prop_map(Mutation::DeleteLine),
        3 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::DuplicateLine(a, b)),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::InsertLine(a, b)),
        3 => (any::<Index>(), any::<Index>(), any::<Index>()).prop_map(|(a, b, c)| Mutation::InsertKey(a, b, c)),
        4 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::ChangeValue(a, b)),
        3 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::SwapValues(a, b)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
    ]
}

/// Splits into lines, each with its line end.
fn lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes.split_inclusive(|b| *b == b'\n').map(<[u8]>::to_vec).collect()
}

/// The positions of the `key = value` lines, and where their value starts.
fn value_lines(lines: &[Vec<u8>]) -> Vec<(usize, usize)> {
    lines.iter().enumerate().filter_map(|(i, l)| l.windows(3).position(|w| w == b" = ").map(|p| (i, p + 3))).collect()
}

/// The value part of a line (after ` = `, without the line end).
fn value_of(line: &[u8], start: usize) -> Vec<u8> {
    let end = line.iter().rposition(|b| *b != b'\n' && *b != b'\r').map_or(start, |e| e + 1).max(start);
    line[start..end].to_vec()
}

/// Sets the value part of a line, keeping its line end.
fn set_value(line: &mut Vec<u8>, start: usize, value: &[u8]) {
    let ending: Vec<u8> = if line.ends_with(b"\n") { b"\n".to_vec() } else { Vec::new() };
    line.truncate(start);
    line.extend_from_slice(value);
    line.extend_from_slice(&ending);
}

/// A value from the examples or from [`VALUES`].
fn some_value(i: Index) -> Vec<u8> {
    let examples = &KEYS_AND_VALUES.1;
    let n = examples.len() + VALUES.len();
    let i = i.index(n);
    match examples.get(i) {
        Some(v) => v.as_bytes().to_vec(),
        None => VALUES[i - examples.len()].as_bytes().to_vec(),
    }
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let mut ls = lines(bytes);
    match m {
        Mutation::DeleteBytes(i, n) => {
            if !bytes.is_empty() {
                let at = i.index(bytes.len());
                let end = (at + usize::from(*n)).min(bytes.len());
                bytes.drain(at..end);
            }
            return;
        }
        Mutation::InsertBytes(i, b) => {
            let at = i.index(bytes.len() + 1);
            bytes.splice(at..at, b.iter().copied());
            return;
        }
        Mutation::ReplaceByte(i, b) => {
            if !bytes.is_empty() {
                let at = i.index(bytes.len());
                bytes[at] = *b;
            }
            return;
        }
        Mutation::Truncate(i) => {
            let at = i.index(bytes.len() + 1);
            bytes.truncate(at);
            return;
        }
        Mutation::DeleteLine(i) => {
            if !ls.is_empty() {
                ls.remove(i.index(ls.len()));
            }
        }
        Mutation::DuplicateLine(from, to) => {
            if !ls.is_empty() {
                let mut line = ls[from.index(ls.len())].clone();
                if !line.ends_with(b"\n") {
                    line.push(b'\n');
                }
                let at = to.index(ls.len() + 1);
                ls.insert(at, line);
            }
        }
        Mutation::SwapLines(a, b) => {
            if !ls.is_empty() {
                let (a, b) = (a.index(ls.len()), b.index(ls.len()));
                ls.swap(a, b);
            }
        }
        Mutation::InsertLine(at, which) => {
            let line = format!("{}\n", LINES[which.index(LINES.len())]);
            ls.insert(at.index(ls.len() + 1), line.into_bytes());
        }
        Mutation::InsertKey(at, key, value) => {
            let keys = &KEYS_AND_VALUES.0;
            let mut line = keys[key.index(keys.len())].as_bytes().to_vec();
            line.extend_from_slice(b" = ");
            line.extend_from_slice(&some_value(*value));
            line.push(b'\n');
            ls.insert(at.index(ls.len() + 1), line);
        }
        Mutation::ChangeValue(which, value) => {
            let targets = value_lines(&ls);
            if !targets.is_empty() {
                let (line, start) = targets[which.index(targets.len())];
                set_value(&mut ls[line], start, &some_value(*value));
            }
        }
        Mutation::SwapValues(a, b) => {
            let targets = value_lines(&ls);
            if !targets.is_empty() {
                let (la, sa) = targets[a.index(targets.len())];
                let (lb, sb) = targets[b.index(targets.len())];
                let (va, vb) = (value_of(&ls[la], sa), value_of(&ls[lb], sb));
                set_value(&mut ls[la], sa, &vb);
                set_value(&mut ls[lb], sb, &va);
            }
        }
    }
    *bytes = ls.concat();
}

/// Checks one reported problem: `path:line:col: message` on one line, at a place that
/// exists in the file (1:1 for a directory or a file that does not exist).
fn check_error(e: &ConfigError) {
    let text = e.to_string();
    let path: String = (e.path.display().to_string().chars())
        .map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() })
        .collect();
    let prefix = format!("{path}:{}:{}: ", e.at.line, e.at.col);
    assert!(text.starts_with(&prefix), "{text:?} does not start with {prefix:?}");
    assert!(!e.message.trim().is_empty(), "{text:?} has no message");
    assert!(!text.contains(['\n', '\r']), "{text:?} is more than one line");
    assert!(e.at.line >= 1 && e.at.col >= 1, "{text:?} has no place");
    match std::fs::read(&e.path) {
        Ok(bytes) => {
            let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
            assert!(e.at.line <= lines.len(), "{text:?}: line {} of {}", e.at.line, lines.len());
            let chars = String::from_utf8_lossy(lines[e.at.line - 1]).chars().count();
            assert!(e.at.col <= chars + 1, "{text:?}: column {} of a line of {chars} characters", e.at.col);
        }
        Err(_) => assert!(e.at.line == 1 && e.at.col == 1, "{text:?}: a place in no file"),
    }
}

/// Loads a config directory as `postfachd check` does (short of plugins and password
/// commands) and checks every problem; how many problems the files have (missing secret
/// and CA files, which the examples refer to outside the directory, are not counted).
fn load_and_check(dir: &Path) -> usize {
    let config = match Config::load(dir) {
        Ok(config) => config,
        Err(e) => {
            check_error(&e);
            return 1;
        }
    };
    let mut errors = Vec::new();
    let set = config.load_accounts();
    errors.extend(set.all_errors());
    if let Err(e) = config.projects() {
        errors.push(e);
    }
    for e in &errors {
        check_error(e);
    }
    for account in set.accounts.values() {
        for e in account.check_environment() {
            check_error(&e);
        }
    }
    errors.len()
}

/// Writes the example files, mutated, into `dir`.
fn write_mutated(dir: &Path, mutations: &[(Index, Mutation)]) {
    let mut files: Vec<(PathBuf, Vec<u8>)> = EXAMPLES.clone();
    for (file, m) in mutations {
        let i = file.index(files.len());
        apply(&mut files[i].1, m);
    }
    std::fs::create_dir_all(dir.join("accounts")).unwrap();
    for (path, bytes) in files {
        std::fs::write(dir.join(path), bytes).unwrap();
    }
}

#[test]
fn the_examples_load_without_problems() {
    let tmp = tempfile::tempdir().unwrap();
    write_mutated(tmp.path(), &[]);
    let config = Config::load(tmp.path()).unwrap();
    let set = config.load_accounts();
    assert_eq!(set.all_errors(), Vec::new());
    assert_eq!(set.accounts.len(), EXAMPLES.len() - 2);
    config.projects().unwrap();
    assert_eq!(load_and_check(tmp.path()), 0);
}

#[test]
fn mutated_example_configs_report_every_problem_with_its_place() {
    let strategy = prop::collection::vec((any::<Index>(), mutation()), 1..6);
    let mut runner = TestRunner::new(config(1000));
    let tmp = tempfile::tempdir().unwrap();
    let cases = Cell::new(0usize);
    let clean = Cell::new(0usize);
    runner
        .run(&strategy, |mutations| {
            cases.set(cases.get() + 1);
            let dir = tmp.path().join(cases.get().to_string());
            write_mutated(&dir, &mutations);
            if load_and_check(&dir) == 0 {
                clean.set(clean.get() + 1);
            }
            std::fs::remove_dir_all(&dir).unwrap();
            Ok(())
        })
        .unwrap();
    println!("{} mutated config directories loaded, {} of them without problems", cases.get(), clean.get());
}

/// Found by `mutated_example_configs_report_every_problem_with_its_place`: a value with a
/// line break quoted in a message made the problem two lines, the second without a place.
#[test]
fn a_problem_is_one_line_even_when_the_value_is_not() {
    let tmp = tempfile::tempdir().unwrap();
    write_mutated(tmp.path(), &[]);
    let path = tmp.path().join("accounts").join("architekt.toml");
    let src = std::fs::read_to_string(&path).unwrap();
    let src = src.replace("email = \"mm@muster-architekten.de\"", "email = \"Max\\nMuster\\u001b[31m\"");
    std::fs::write(&path, src).unwrap();
    let errors = crate::load_account(&path, tmp.path()).unwrap_err();
    for e in &errors.0 {
        check_error(e);
    }
    assert!(errors.to_string().contains("`Max\\nMuster\\u{1b}[31m` is not an email address"), "{errors}");
}

/// Found by `mutated_example_configs_report_every_problem_with_its_place`: a path with a
/// line break (`projects_file = """multi\nline"""`) made the problem two lines.
#[test]
fn a_problem_is_one_line_even_when_the_path_is_not() {
    let tmp = tempfile::tempdir().unwrap();
    write_mutated(tmp.path(), &[]);
    let path = tmp.path().join("postfach.toml");
    let src = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, src.replace("\"projects.toml\"", "\"\"\"multi\nline\"\"\"")).unwrap();
    let e = Config::load(tmp.path()).unwrap().projects().unwrap_err();
    check_error(&e);
    assert!(e.to_string().contains("multi\\nline:1:1: cannot read"), "{e}");
}
