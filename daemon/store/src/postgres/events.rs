//! The event feed on PostgreSQL. A transaction collects its events in an [`Events`] and
//! numbers them as its last statement, from the one-row `event_counter`: the counter's
//! row lock is held from then until commit, so event-writing transactions take their
//! numbers in commit order. A reader never sees seq N+1 before N has committed, and a
//! transaction that rolls back took no number at all: the feed has no gaps.

use deadpool_postgres::GenericClient;
use postfach_model::{MessageId, Timestamp};

use super::PgStore;
use crate::{Event, EventKind, EventQuery, StoreError};

/// The events one transaction writes, in order.
#[derive(Default)]
pub(super) struct Events {
    at: Vec<i64>,
    account: Vec<String>,
    kind: Vec<&'static str>,
    message: Vec<Option<i64>>,
    detail: Vec<Option<String>>,
}

impl Events {
    pub(super) fn push(
        &mut self,
        account: &str,
        kind: EventKind,
        message: Option<i64>,
        detail: Option<String>,
        at: i64,
    ) {
        self.at.push(at);
        self.account.push(account.to_owned());
        self.kind.push(kind.as_str());
        self.message.push(message);
        self.detail.push(detail.map(|d| d.replace('\0', "")));
    }

    /// Numbers and writes the events; call it last in the transaction, right before
    /// commit, so the counter's lock is held as briefly as possible.
    pub(super) async fn write(self, tx: &impl GenericClient) -> Result<(), tokio_postgres::Error> {
        let n = self.at.len() as i64;
        if n == 0 {
            return Ok(());
        }
        let last: i64 = tx.query_one("UPDATE event_counter SET seq = seq + $1 RETURNING seq", &[&n]).await?.get(0);
        let seq: Vec<i64> = (last - n + 1..=last).collect();
        tx.execute(
            "INSERT INTO events (seq, at, account, kind, message, detail)
             SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[])",
            &[&seq, &self.at, &self.account, &self.kind, &self.message, &self.detail],
        )
        .await?;
        Ok(())
    }
}

impl PgStore {
    pub(crate) async fn events(&self, q: &EventQuery) -> Result<Vec<Event>, StoreError> {
        let client = self.client().await?;
        let limit = q.limit as i64;
        let rows = match &q.accounts {
            None => client
                .query(
                    "SELECT seq, at, account, kind, message, detail FROM events WHERE seq > $1 ORDER BY seq LIMIT $2",
                    &[&q.after, &limit],
                )
                .await
                .map_err(self.e())?,
            Some(accounts) => client
                .query(
                    "SELECT seq, at, account, kind, message, detail FROM events
                     WHERE seq > $1 AND account = ANY($3) ORDER BY seq LIMIT $2",
                    &[&q.after, &limit, accounts],
                )
                .await
                .map_err(self.e())?,
        };
        Ok(rows
            .iter()
            .map(|r| Event {
                seq: r.get(0),
                at: Timestamp(r.get(1)),
                account: r.get(2),
                kind: r.get(3),
                message: r.get::<_, Option<i64>>(4).map(MessageId),
                detail: r.get(5),
            })
            .collect())
    }

    pub(crate) async fn last_event_seq(&self) -> Result<i64, StoreError> {
        let client = self.client().await?;
        let row = client.query_one("SELECT seq FROM event_counter", &[]).await.map_err(self.e())?;
        Ok(row.get(0))
    }
}
