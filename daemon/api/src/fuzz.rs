//! Property-based fuzzing (proptest) of what the API reads from requests: JSON bodies
//! (`POST /v1/send`, `PATCH /v1/messages/{id}`, move, spam, project assignment) and query
//! strings (message list, search, events, audit), each through the same extractor the route
//! uses ([`crate::extract`]), fed with arbitrary bytes, arbitrary JSON values, objects of
//! the right keys with values of any type, and damaged valid bodies. Nothing may panic; a
//! rejection is a problem document with status 400 or 422; a valid generated request reads
//! back field by field. Also the texts read from query parameters (`since`, page sizes)
//! and the `Content-Disposition` built from a file name in hostile mail.
//!
//! `make test` runs a fixed number of cases from a fixed seed; `PROPTEST_CASES` and
//! `PROPTEST_RNG_SEED` override both (`make fuzz`).

#![allow(clippy::unwrap_used)]

use std::fmt::Debug;

use axum::body::Body as HttpBody;
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::{HeaderValue, Request, Uri};
use axum::response::IntoResponse;
use base64::Engine;
use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::extract::{Body, Query};
use crate::json::{FlagsPatch, MoveRequest, ProjectRequest, SendJson, SpamRequest};
use crate::problem::Problem;
use crate::routes::admin::AuditParams;
use crate::routes::events::{EventParams, StreamParams};
use crate::routes::messages::{ListParams, disposition, page_size, parse_since};
use crate::routes::search::SearchParams;

/// `cases` unless `PROPTEST_CASES` is set; a fixed seed unless `PROPTEST_RNG_SEED` is set.
fn config(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(0x0A91_0500);
    }
    // A failure prints its shrunk input and the seed reproduces it: no files in the tree.
    config.failure_persistence = None;
    config
}

/// Checks a rejection: a problem document with a status the API documents for a bad body
/// or query, a detail, and a response that serializes.
fn check_problem(p: Problem, statuses: &[u16]) {
    assert!(statuses.contains(&p.status), "status {} for {p:?}", p.status);
    assert!(p.kind.starts_with("https://postfach.dev/problems/") && !p.detail.is_empty(), "{p:?}");
    let response = p.into_response();
    assert!(statuses.contains(&response.status().as_u16()));
    assert_eq!(response.headers()["content-type"], "application/problem+json");
}

/// Reads `bytes` as a JSON body of type `T` the way the route does.
fn body<T>(bytes: Vec<u8>) -> Result<T, Problem>
where
    T: DeserializeOwned + Send + Debug + 'static,
{
    let request = Request::builder()
        .method("POST")
        .uri("/")
        .header("content-type", "application/json")
        .body(HttpBody::from(bytes))
        .unwrap();
    futures::executor::block_on(Body::<T>::from_request(request, &())).map(|Body(v)| v)
}

/// Feeds `bytes` to every body extractor: each answers with a value or a 400/422 problem.
fn every_body(bytes: &[u8]) {
    fn one<T: DeserializeOwned + Send + Debug + 'static>(bytes: &[u8]) {
        if let Err(p) = body::<T>(bytes.to_vec()) {
            check_problem(p, &[400, 422]);
        }
    }
    one::<SendJson>(bytes);
    one::<FlagsPatch>(bytes);
    one::<MoveRequest>(bytes);
    one::<SpamRequest>(bytes);
    one::<ProjectRequest>(bytes);
}

/// Reads a query string of type `T` the way the route does; `None` if the URI itself is
/// not one (no request gets that far).
fn query<T>(q: &str) -> Option<Result<T, Problem>>
where
    T: DeserializeOwned + Send + Debug + 'static,
{
    let uri: Uri = format!("/v1/x?{q}").parse().ok()?;
    let (mut parts, ()) = Request::builder().uri(uri).body(()).unwrap().into_parts();
    Some(futures::executor::block_on(Query::<T>::from_request_parts(&mut parts, &())).map(|Query(v)| v))
}

/// Feeds a query string to every query extractor.
fn every_query(q: &str) {
    fn one<T: DeserializeOwned + Send + Debug + 'static>(q: &str) {
        if let Some(Err(p)) = query::<T>(q) {
            check_problem(p, &[400]);
        }
    }
    one::<ListParams>(q);
    one::<SearchParams>(q);
    one::<EventParams>(q);
    one::<StreamParams>(q);
    one::<AuditParams>(q);
}

/// Every key any request body or query takes, and some it does not.
const KEYS: &[&str] = &[
    "account",
    "to",
    "cc",
    "bcc",
    "subject",
    "text",
    "html",
    "attachments",
    "filename",
    "content_type",
    "content_base64",
    "reply_to_local_id",
    "forward_local_id",
    "draft",
    "seen",
    "flagged",
    "answered",
    "folder",
    "role",
    "spam",
    "project",
    "q",
    "limit",
    "cursor",
    "since",
    "unread",
    "thread",
    "after",
    "wait",
    "before",
    "unknown",
    "",
];

/// Any JSON value; objects mostly use the keys the API knows, so that values of every type
/// reach every field.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(vec![0i64, -1, 1, i64::MAX, i64::MIN]).prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        "[A-Za-z0-9+/=]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (prop_oneof![4 => prop::sample::select(KEYS).prop_map(str::to_owned), 1 => any::<String>()], inner),
                0..8
            )
            .prop_map(|fields| Value::Object(fields.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A valid attachment of a send request, as sent.
#[derive(Debug, Clone)]
struct Attachment {
    filename: String,
    content_type: Option<String>,
    bytes: Vec<u8>,
}

/// A valid send request, as a model to compare with.
#[derive(Debug, Clone)]
struct SendModel {
    account: Option<String>,
    to: Vec<String>,
    cc: Vec<String>,
    bcc: Vec<String>,
    subject: Option<String>,
    text: Option<String>,
    html: Option<String>,
    attachments: Vec<Attachment>,
    reply_to_local_id: Option<i64>,
    forward_local_id: Option<i64>,
    draft: bool,
}

fn send() -> impl Strategy<Value = SendModel> {
    let texts = || prop::collection::vec(any::<String>(), 0..4);
    let attachment = (any::<String>(), prop::option::of(any::<String>()), prop::collection::vec(any::<u8>(), 0..300))
        .prop_map(|(filename, content_type, bytes)| Attachment { filename, content_type, bytes });
    (
        (prop::option::of(any::<String>()), texts(), texts(), texts()),
        (prop::option::of(any::<String>()), prop::option::of(any::<String>()), prop::option::of(any::<String>())),
        (prop::collection::vec(attachment, 0..3), prop::option::of(any::<i64>()), prop::option::of(any::<i64>())),
        any::<bool>(),
    )
        .prop_map(|((account, to, cc, bcc), (subject, text, html), (attachments, reply, forward), draft)| {
            SendModel {
                account,
                to,
                cc,
                bcc,
                subject,
                text,
                html,
                attachments,
                reply_to_local_id: reply,
                forward_local_id: forward,
                draft,
            }
        })
}

/// The JSON for `send`; absent values are left out or written as null (or as the
/// default, for lists and `draft`), as `omit` says field by field.
fn send_json(s: &SendModel, omit: &[bool]) -> Value {
    let mut omit = omit.iter().cycle();
    let mut map = Map::new();
    let mut put = |key: &str, value: Value, is_default: bool| {
        if !(is_default && *omit.next().unwrap_or(&true)) {
            map.insert(key.to_owned(), value);
        }
    };
    put("account", json!(s.account), s.account.is_none());
    put("to", json!(s.to), s.to.is_empty());
    put("cc", json!(s.cc), s.cc.is_empty());
    put("bcc", json!(s.bcc), s.bcc.is_empty());
    put("subject", json!(s.subject), s.subject.is_none());
    put("text", json!(s.text), s.text.is_none());
    put("html", json!(s.html), s.html.is_none());
    let attachments: Vec<Value> = s
        .attachments
        .iter()
        .map(|a| {
            let mut m = Map::new();
            m.insert("filename".to_owned(), json!(a.filename));
            if a.content_type.is_some() {
                m.insert("content_type".to_owned(), json!(a.content_type));
            }
            m.insert("content_base64".to_owned(), json!(base64::engine::general_purpose::STANDARD.encode(&a.bytes)));
            Value::Object(m)
        })
        .collect();
    put("attachments", Value::Array(attachments), s.attachments.is_empty());
    put("reply_to_local_id", json!(s.reply_to_local_id), s.reply_to_local_id.is_none());
    put("forward_local_id", json!(s.forward_local_id), s.forward_local_id.is_none());
    put("draft", json!(s.draft), !s.draft);
    Value::Object(map)
}

/// A change to a valid body: a byte replaced, inserted or removed, or the body cut.
fn damage(bytes: &mut Vec<u8>, at: prop::sample::Index, kind: u8, byte: u8) {
    if bytes.is_empty() {
        return;
    }
    let i = at.index(bytes.len());
    match kind % 4 {
        0 => bytes[i] = byte,
        1 => bytes.insert(i, byte),
        2 => {
            bytes.remove(i);
        }
        _ => bytes.truncate(i),
    }
}

/// A query string: known and unknown keys with values of every shape, percent-encoded
/// or raw, with broken escapes and separators.
fn query_string() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        "-?[0-9]{1,25}",
        Just("true".to_owned()),
        Just("yes".to_owned()),
        "[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2}))?",
        "m-?[0-9]{0,20}",
        any::<String>().prop_map(|s| {
            s.bytes()
                .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
                .collect()
        }),
        "[A-Za-z0-9%+=&._~-]{0,12}",
    ];
    let pair = (prop_oneof![4 => prop::sample::select(KEYS).prop_map(str::to_owned), 1 => "[a-z%]{0,6}"], value)
        .prop_map(|(k, v)| format!("{k}={v}"));
    prop::collection::vec(pair, 0..5).prop_map(|pairs| pairs.join("&"))
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn any_bytes_as_a_body_are_a_value_or_a_problem(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        every_body(&bytes);
    }

    #[test]
    fn any_json_as_a_body_is_a_value_or_a_problem(value in json_value()) {
        every_body(&serde_json::to_vec(&value).unwrap());
    }

    #[test]
    fn a_valid_send_request_reads_back(s in send(), omit in prop::collection::vec(any::<bool>(), 1..12)) {
        let json = send_json(&s, &omit);
        let got: SendJson = body(serde_json::to_vec(&json).unwrap()).unwrap();
        prop_assert_eq!(&got.account, &s.account);
        prop_assert_eq!(&got.to, &s.to);
        prop_assert_eq!(&got.cc, &s.cc);
        prop_assert_eq!(&got.bcc, &s.bcc);
        prop_assert_eq!(&got.subject, &s.subject);
        prop_assert_eq!(&got.text, &s.text);
        prop_assert_eq!(&got.html, &s.html);
        prop_assert_eq!(got.reply_to_local_id, s.reply_to_local_id);
        prop_assert_eq!(got.forward_local_id, s.forward_local_id);
        prop_assert_eq!(got.draft, s.draft);
        prop_assert_eq!(got.attachments.len(), s.attachments.len());
        for (g, a) in got.attachments.iter().zip(&s.attachments) {
            prop_assert_eq!(&g.filename, &a.filename);
            prop_assert_eq!(&g.content_type, &a.content_type);
            // What the route decodes.
            let bytes = base64::engine::general_purpose::STANDARD.decode(g.content_base64.trim()).unwrap();
            prop_assert_eq!(&bytes, &a.bytes);
        }
    }

    #[test]
    fn a_damaged_send_request_is_a_value_or_a_problem(
        s in send(),
        damages in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = serde_json::to_vec(&send_json(&s, &[false])).unwrap();
        for (at, kind, byte) in damages {
            damage(&mut bytes, at, kind, byte);
        }
        every_body(&bytes);
    }

    #[test]
    fn valid_message_changes_read_back(
        flags in (prop::option::of(any::<bool>()), prop::option::of(any::<bool>()), prop::option::of(any::<bool>())),
        folder in prop::option::of(any::<String>()),
        role in prop::option::of(any::<String>()),
        spam in any::<bool>(),
        project in prop::option::of(any::<String>()),
    ) {
        let patch: FlagsPatch =
            body(serde_json::to_vec(&json!({"seen": flags.0, "flagged": flags.1, "answered": flags.2})).unwrap()).unwrap();
        prop_assert_eq!((patch.seen, patch.flagged, patch.answered), flags);
        let moved: MoveRequest = body(serde_json::to_vec(&json!({"folder": folder, "role": role})).unwrap()).unwrap();
        prop_assert_eq!((moved.folder, moved.role), (folder, role));
        let s: SpamRequest = body(serde_json::to_vec(&json!({ "spam": spam })).unwrap()).unwrap();
        prop_assert_eq!(s.spam, spam);
        let p: ProjectRequest = body(serde_json::to_vec(&json!({ "project": project })).unwrap()).unwrap();
        prop_assert_eq!(p.project, project);
    }

    #[test]
    fn any_query_string_is_a_value_or_a_problem(q in query_string()) {
        every_query(&q);
    }

    #[test]
    fn query_texts_are_an_instant_or_a_problem(text in any::<String>(), digits in "-?[0-9]{1,30}", limit in any::<usize>()) {
        for t in [text.as_str(), digits.as_str()] {
            if let Err(p) = parse_since(t) {
                check_problem(p, &[400]);
            }
        }
        match page_size(Some(limit)) {
            Ok(n) => prop_assert_eq!(n, limit),
            Err(p) => check_problem(p, &[400]),
        }
    }

    #[test]
    fn any_file_name_makes_a_valid_download_header(name in any::<String>(), bytes in prop::collection::vec(any::<u8>(), 0..40)) {
        for name in [name, String::from_utf8_lossy(&bytes).into_owned()] {
            let value = disposition(&name);
            prop_assert!(HeaderValue::from_str(&value).is_ok(), "{:?}", value);
            prop_assert!(value.is_ascii());
        }
    }
}

/// A body nested 100,000 deep is answered (the typed reading stops at the first value of
/// the wrong type, and serde_json's recursion limit stands behind it), not a stack overflow.
#[test]
fn deeply_nested_json_is_a_problem_not_a_stack_overflow() {
    for open in ["[", "{\"to\":", "{\"attachments\":[", "{\"project\":", "{\"seen\":"] {
        let bytes = open.repeat(100_000).into_bytes();
        every_body(&bytes);
        assert!(body::<SendJson>(bytes).is_err());
    }
}
