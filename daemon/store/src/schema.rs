//! The SQLite schema, as an ordered list of migrations keyed by `PRAGMA user_version`.
//!
//! A message's identity (`messages`) is separate from where it lives on the server
//! (`locations`): a move, a copy or a UIDVALIDITY reset changes locations and never
//! duplicates the message. Raw RFC 5322 bytes are stored once per content hash (`blobs`).

/// Migrations in order; index + 1 is the `user_version` after applying it.
pub const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE accounts (
    id              TEXT PRIMARY KEY,
    description     TEXT NOT NULL DEFAULT '',
    provider        TEXT NOT NULL DEFAULT 'auto',
    adapter         TEXT,
    enabled         INTEGER NOT NULL DEFAULT 1,
    state           TEXT NOT NULL DEFAULT 'stopped',
    last_error      TEXT,
    last_sync       INTEGER,
    failures        INTEGER NOT NULL DEFAULT 0,
    disabled_digest TEXT,
    config_error    TEXT,
    updated_at      INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE folders (
    id            INTEGER PRIMARY KEY,
    account       TEXT NOT NULL,
    name          TEXT NOT NULL,
    raw           TEXT NOT NULL,
    delimiter     TEXT,
    path          TEXT NOT NULL DEFAULT '[]',
    attributes    TEXT NOT NULL DEFAULT '[]',
    role          TEXT,
    role_source   TEXT,
    selectable    INTEGER NOT NULL DEFAULT 1,
    present       INTEGER NOT NULL DEFAULT 1,
    uidvalidity   INTEGER,
    uidnext       INTEGER,
    highestmodseq INTEGER,
    synced_at     INTEGER,
    UNIQUE (account, raw)
);

CREATE TABLE blobs (
    hash TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    data BLOB NOT NULL
);

CREATE TABLE messages (
    id            INTEGER PRIMARY KEY,
    account       TEXT NOT NULL,
    identity      TEXT NOT NULL,
    message_id    TEXT,
    subject       TEXT,
    from_addr     TEXT NOT NULL DEFAULT '[]',
    to_addrs      TEXT NOT NULL DEFAULT '[]',
    cc_addrs      TEXT NOT NULL DEFAULT '[]',
    date          INTEGER,
    in_reply_to   TEXT,
    refs          TEXT NOT NULL DEFAULT '[]',
    blob          TEXT NOT NULL REFERENCES blobs(hash),
    size          INTEGER NOT NULL,
    internal_date INTEGER,
    created_at    INTEGER NOT NULL,
    UNIQUE (account, identity)
);
CREATE INDEX messages_message_id ON messages(message_id);

CREATE TABLE locations (
    folder      INTEGER NOT NULL REFERENCES folders(id),
    uidvalidity INTEGER NOT NULL,
    uid         INTEGER NOT NULL,
    message     INTEGER NOT NULL REFERENCES messages(id),
    flags       TEXT NOT NULL DEFAULT '',
    modseq      INTEGER,
    on_server   INTEGER NOT NULL DEFAULT 1,
    removed_at  INTEGER,
    PRIMARY KEY (folder, uidvalidity, uid)
) WITHOUT ROWID;
CREATE INDEX locations_message ON locations(message);

CREATE TABLE assignments (
    message INTEGER PRIMARY KEY REFERENCES messages(id),
    project TEXT NOT NULL,
    plugin  TEXT NOT NULL,
    reason  TEXT NOT NULL DEFAULT '',
    at      INTEGER NOT NULL
);
CREATE INDEX assignments_project ON assignments(project);

CREATE TABLE plugins (
    file        TEXT PRIMARY KEY,
    id          TEXT NOT NULL,
    kind        TEXT,
    api_version TEXT,
    digest      TEXT NOT NULL,
    state       TEXT NOT NULL,
    reason      TEXT,
    failures    INTEGER NOT NULL DEFAULT 0,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE events (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    account TEXT NOT NULL,
    kind    TEXT NOT NULL,
    message INTEGER,
    detail  TEXT
);
"#,
    // 2: routing traces (for `route explain` and re-routing when the chain changes), and
    // the EXISTS count of a folder's last pass (expunges change it, not UIDNEXT).
    r#"
ALTER TABLE folders ADD COLUMN exists_count INTEGER;

CREATE TABLE route_traces (
    message INTEGER PRIMARY KEY REFERENCES messages(id),
    chain   TEXT NOT NULL,
    at      INTEGER NOT NULL,
    folder  TEXT,
    steps   TEXT NOT NULL
);

CREATE INDEX messages_account_date ON messages(account, date);
CREATE INDEX events_account ON events(account, seq);
"#,
    // 3: the outbox. The message is built once, at enqueue time, so every attempt sends the
    // same bytes with the same Message-ID.
    r#"
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    account         TEXT NOT NULL,
    kind            TEXT NOT NULL DEFAULT 'send',
    state           TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    subject         TEXT,
    envelope_from   TEXT NOT NULL,
    recipients      TEXT NOT NULL,
    raw             BLOB NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    server_reply    TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    sent_at         INTEGER,
    copy            TEXT
);
CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
"#,
    // 4: local changes waiting for the server (mark, delete, spam), applied in order by
    // whoever holds the account's connection.
    r#"
CREATE TABLE changes (
    id           INTEGER PRIMARY KEY,
    account      TEXT NOT NULL,
    message      INTEGER NOT NULL REFERENCES messages(id),
    op           TEXT NOT NULL,
    add_flags    TEXT NOT NULL DEFAULT '',
    remove_flags TEXT NOT NULL DEFAULT '',
    state        TEXT NOT NULL DEFAULT 'pending',
    attempts     INTEGER NOT NULL DEFAULT 0,
    result       TEXT,
    created_at   INTEGER NOT NULL,
    done_at      INTEGER
);
CREATE INDEX changes_pending ON changes(account, state, id);
"#,
    // 5: the Integration API. Threads, snippets and the full-text index are filled for new
    // messages in the same transaction that stores them; messages stored before this
    // version are indexed once when the store is opened (`index_backlog`).
    r#"
ALTER TABLE accounts ADD COLUMN reported_state TEXT;
ALTER TABLE messages ADD COLUMN thread_id TEXT;
ALTER TABLE messages ADD COLUMN snippet TEXT;
ALTER TABLE messages ADD COLUMN has_attachments INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN indexed INTEGER NOT NULL DEFAULT 0;
CREATE INDEX messages_thread ON messages(thread_id);
CREATE INDEX messages_date ON messages(date, id);
CREATE INDEX messages_account ON messages(account);
CREATE INDEX messages_unindexed ON messages(id) WHERE indexed = 0;

-- Contentless (the text is in the blobs) and without token positions (every query is
-- words, never phrases): a fraction of the size, and cheaper to write with each message.
CREATE VIRTUAL TABLE search USING fts5(
    subject, addresses, body, attachments,
    content = '', contentless_delete = 1, detail = column,
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TABLE manual_assignments (
    message INTEGER PRIMARY KEY REFERENCES messages(id),
    project TEXT,
    user    TEXT NOT NULL,
    at      INTEGER NOT NULL
);

ALTER TABLE changes ADD COLUMN target TEXT;

ALTER TABLE outbox ADD COLUMN idempotency_key TEXT;
ALTER TABLE outbox ADD COLUMN created_by TEXT;
CREATE UNIQUE INDEX outbox_idempotency ON outbox(idempotency_key) WHERE idempotency_key IS NOT NULL;

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    hash         TEXT NOT NULL UNIQUE,
    user         TEXT NOT NULL,
    admin        INTEGER NOT NULL DEFAULT 0,
    scopes       TEXT NOT NULL,
    accounts     TEXT NOT NULL DEFAULT '[]',
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER,
    revoked_at   INTEGER
);

CREATE TABLE audit (
    id      INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    user    TEXT NOT NULL,
    token   TEXT,
    action  TEXT NOT NULL,
    account TEXT,
    target  TEXT,
    status  INTEGER NOT NULL,
    detail  TEXT
);

CREATE TABLE webhook_cursors (
    endpoint        TEXT PRIMARY KEY,
    delivered_seq   INTEGER NOT NULL,
    state           TEXT NOT NULL DEFAULT 'ok',
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    last_success_at INTEGER,
    failing_since   INTEGER,
    updated_at      INTEGER NOT NULL
);
"#,
    r#"
CREATE TABLE oauth_tokens (
    account            TEXT PRIMARY KEY,
    refresh_token      TEXT,
    seeded_from        TEXT,
    access_token       TEXT,
    access_obtained_ms INTEGER,
    access_expires_ms  INTEGER,
    last_refresh       INTEGER,
    last_error         TEXT,
    updated_at         INTEGER NOT NULL
);
"#,
    // 7: `[sync] bodies = "on-demand"`: a message stored with only its header section until
    // its body is asked for (the blob then holds the header, `size` the whole message's);
    // the routing mark and a partial index for large accounts (issue 15).
    r#"
ALTER TABLE messages ADD COLUMN body_missing INTEGER NOT NULL DEFAULT 0;

-- Routing: every message of the account up to `routed_upto` has been routed with the
-- chain `routed_chain`, so a pass looks only at newer ones (and at all of them when the
-- chain changes).
ALTER TABLE accounts ADD COLUMN routed_chain TEXT;
ALTER TABLE accounts ADD COLUMN routed_upto INTEGER NOT NULL DEFAULT 0;

-- A folder's count of messages on the server, read at every pass, without reading the
-- locations themselves.
CREATE INDEX locations_on_server ON locations(folder) WHERE on_server = 1;
"#,
    // 8: blobs compressed with zstd where that pays (issue 15); NULL marks a blob stored
    // before, which the store packs once at open (`blobs::pack_backlog`).
    r#"
ALTER TABLE blobs ADD COLUMN codec INTEGER;
"#,
];
