//! PostgreSQL's schema, as an ordered list of migrations recorded in
//! `postfach_schema`. Nodes starting together take an advisory lock first, so each
//! migration runs once.

use tokio_postgres::Client;

/// Migrations in order; index + 1 is the version after applying it.
const MIGRATIONS: &[&str] = &[r#"
-- The nodes of the cluster. A node is live while `last_seen` is younger than the lease
-- time; `config_digest` is the digest of its account files, shown by `cluster status`.
CREATE TABLE cluster_nodes (
    id            TEXT PRIMARY KEY,
    started_at    TIMESTAMPTZ NOT NULL,
    last_seen     TIMESTAMPTZ NOT NULL,
    config_digest TEXT NOT NULL DEFAULT '',
    -- A random token per process: a node restarted under the same id takes the row over,
    -- and the earlier process, if it still runs, sees that its heartbeat no longer matches.
    incarnation   TEXT NOT NULL DEFAULT ''
);

-- One row per account: who syncs it, until when (on the database's clock), and the epoch,
-- the fencing token that grows with every new holder. A holder's write carries its epoch
-- and fails when the epoch or the holder changed.
CREATE TABLE leases (
    account    TEXT PRIMARY KEY,
    holder     TEXT,
    epoch      BIGINT NOT NULL DEFAULT 0,
    expires_at TIMESTAMPTZ
);
CREATE INDEX leases_holder ON leases(holder);
"#];

/// An arbitrary constant: the key of the advisory lock that serialises migrations.
const MIGRATION_LOCK: i64 = 0x706f_7374_6661_6368; // "postfach"

/// The newest schema version this build knows.
pub(super) const KNOWN: usize = MIGRATIONS.len();

/// Applies the migrations this database lacks, in one transaction; returns the version
/// found, which is newer than [`KNOWN`] when a newer Postfach wrote it (then nothing is
/// changed).
pub(super) async fn migrate(client: &mut Client) -> Result<usize, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS postfach_schema (version INTEGER NOT NULL)").await?;
    let current: i32 = match tx.query_opt("SELECT version FROM postfach_schema", &[]).await? {
        Some(row) => row.get(0),
        None => {
            tx.execute("INSERT INTO postfach_schema (version) VALUES (0)", &[]).await?;
            0
        }
    };
    let current = current.max(0) as usize;
    if current > KNOWN {
        return Ok(current);
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        tx.batch_execute(sql).await?;
        tx.execute("UPDATE postfach_schema SET version = $1", &[&(i as i32 + 1)]).await?;
    }
    tx.commit().await?;
    Ok(current)
}
