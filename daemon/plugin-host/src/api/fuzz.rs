//! Property-based fuzzing (proptest) of the router batch encoding: the host sends a batch
//! of [`MessageMeta`] to a router as one text with spans (`since_v0_3::encode`). Arbitrary
//! batches (any Unicode, empty and huge fields, runs of the same account and folder) are
//! encoded and read back the way the SDK's guest side reads them (`plugin-sdk/src/export.rs`,
//! `decode`, which only builds for wasm32, so its few lines are mirrored here): every span
//! must be in range and on character boundaries, and the batch read back must equal the
//! batch sent, field by field.
//!
//! `make test` runs a fixed number of cases from a fixed seed; `PROPTEST_CASES` and
//! `PROPTEST_RNG_SEED` override both (`make fuzz`).

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use proptest::test_runner::RngSeed;

use super::since_v0_3::{encode, wit};
use crate::types::MessageMeta;

/// `cases` unless `PROPTEST_CASES` is set; a fixed seed unless `PROPTEST_RNG_SEED` is set.
fn config(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(0x0B47_C400);
    }
    // A failure prints its shrunk input and the seed reproduces it: no files in the tree.
    config.failure_persistence = None;
    config
}

/// Any text: mostly short arbitrary Unicode, sometimes empty, sometimes huge (up to
/// 256 KiB of one character, multi-byte ones included).
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => any::<String>().prop_map(|s| s.chars().take(24).collect()),
        2 => Just(String::new()),
        2 => "[a-zA-Z0-9 äöüß@<>.\\\\/-]{1,30}",
        1 => (any::<char>(), 1_000..65_536usize).prop_map(|(c, n)| c.to_string().repeat(n)),
    ]
}

fn texts() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(text(), 0..5)
}

/// One message; account and folder come from small pools so that runs repeat (the encoder
/// stores a run once).
fn message(accounts: Vec<String>, folders: Vec<String>) -> impl Strategy<Value = MessageMeta> {
    (
        (prop::sample::select(accounts), prop::sample::select(folders), texts()),
        (prop::option::of(text()), prop::option::of(text()), texts(), texts(), texts()),
        (prop::option::of(text()), texts(), prop::option::of(any::<i64>()), any::<u64>(), texts()),
        prop::collection::vec((text(), text()), 0..3),
    )
        .prop_map(
            |(
                (account, folder, folder_path),
                (message_id, subject, from, to, cc),
                (in_reply_to, references, date, size, flags),
                headers,
            )| MessageMeta {
                account,
                folder,
                folder_path,
                message_id,
                subject,
                from,
                to,
                cc,
                in_reply_to,
                references,
                date,
                size,
                flags,
                headers,
            },
        )
}

/// A batch of up to 24 messages.
fn batch() -> impl Strategy<Value = Vec<MessageMeta>> {
    (prop::collection::vec(text(), 1..3), prop::collection::vec(text(), 1..4))
        .prop_flat_map(|(accounts, folders)| prop::collection::vec(message(accounts, folders), 0..24))
}

/// The guest's reading of one span; `None` when out of range or not on a character
/// boundary (the SDK would read it as empty).
fn one(batch: &wit::Batch, span: wit::Span) -> Option<String> {
    let start = span.start as usize;
    batch.text.get(start..start.checked_add(span.len as usize)?).map(str::to_owned)
}

/// The guest's reading of an optional span: `Some(None)` for no span.
fn optional(batch: &wit::Batch, span: Option<wit::Span>) -> Option<Option<String>> {
    match span {
        None => Some(None),
        Some(span) => one(batch, span).map(Some),
    }
}

/// The guest's reading of a run of spans.
fn many(batch: &wit::Batch, run: wit::Spans) -> Option<Vec<String>> {
    let start = run.start as usize;
    let spans = batch.spans.get(start..start.checked_add(run.len as usize)?)?;
    spans.iter().map(|s| one(batch, *s)).collect()
}

/// Reads an encoded batch back into the host's type, failing on any span the guest
/// could not read.
fn decode(batch: &wit::Batch) -> Option<Vec<MessageMeta>> {
    batch
        .messages
        .iter()
        .map(|m| {
            let headers = many(batch, m.headers)?;
            if headers.len() % 2 != 0 {
                return None;
            }
            Some(MessageMeta {
                account: one(batch, m.account)?,
                folder: one(batch, m.folder)?,
                folder_path: many(batch, m.folder_path)?,
                message_id: optional(batch, m.message_id)?,
                subject: optional(batch, m.subject)?,
                from: many(batch, m.from)?,
                to: many(batch, m.to)?,
                cc: many(batch, m.cc)?,
                in_reply_to: optional(batch, m.in_reply_to)?,
                references: many(batch, m.references)?,
                date: m.date,
                size: m.size,
                flags: many(batch, m.flags)?,
                headers: headers.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect(),
            })
        })
        .collect()
}

proptest! {
    #![proptest_config(config(500))]

    #[test]
    fn a_batch_reads_back_as_sent(messages in batch()) {
        let encoded = encode(&messages);
        prop_assert_eq!(encoded.messages.len(), messages.len());
        let decoded = decode(&encoded);
        prop_assert!(decoded.is_some(), "a span is out of range or splits a character");
        prop_assert_eq!(decoded.unwrap(), messages.clone());

        // Every value's text is in the batch once, except runs of the same account or
        // folder, which are stored once per run.
        let total: usize = messages
            .iter()
            .map(|m| {
                let lists = [&m.folder_path, &m.from, &m.to, &m.cc, &m.references, &m.flags];
                m.account.len()
                    + m.folder.len()
                    + lists.iter().flat_map(|l| l.iter()).map(String::len).sum::<usize>()
                    + [&m.message_id, &m.subject, &m.in_reply_to].iter().filter_map(|o| o.as_ref()).map(String::len).sum::<usize>()
                    + m.headers.iter().map(|(n, v)| n.len() + v.len()).sum::<usize>()
            })
            .sum();
        prop_assert!(encoded.text.len() <= total);
        for pair in encoded.messages.windows(2) {
            let same = |a: wit::Span, b: wit::Span| one(&encoded, a) == one(&encoded, b);
            if same(pair[0].account, pair[1].account) {
                prop_assert_eq!((pair[0].account.start, pair[0].account.len), (pair[1].account.start, pair[1].account.len));
            }
            if same(pair[0].folder, pair[1].folder) {
                prop_assert_eq!((pair[0].folder.start, pair[0].folder.len), (pair[1].folder.start, pair[1].folder.len));
            }
        }
    }
}

#[test]
fn an_empty_batch_and_empty_fields_read_back() {
    for messages in [vec![], vec![MessageMeta::default()], vec![MessageMeta::default(), MessageMeta::default()]] {
        let encoded = encode(&messages);
        assert_eq!(decode(&encoded).unwrap(), messages);
    }
}
