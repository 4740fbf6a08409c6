//! Local changes waiting for the server on PostgreSQL (see `crate::changes`): any node
//! may record one (the API answers on every node); the account's holder applies it.

use postfach_model::{MessageId, now_unix};

use super::PgStore;
use crate::{Change, ChangeState, Op, StoreError};

const SELECT: &str = "SELECT id, account, message, op, add_flags, remove_flags, state, attempts, result, target
    FROM changes";

fn row(r: &tokio_postgres::Row) -> Change {
    let split = |s: String| s.split_whitespace().map(str::to_owned).collect();
    Change {
        id: r.get(0),
        account: r.get(1),
        message: MessageId(r.get(2)),
        op: Op::parse(r.get(3)).unwrap_or(Op::Flags),
        add: split(r.get(4)),
        remove: split(r.get(5)),
        target: r.get(9),
        state: ChangeState::parse(r.get(6)).unwrap_or(ChangeState::Pending),
        attempts: r.get::<_, i32>(7).max(0) as u32,
        result: r.get(8),
    }
}

impl PgStore {
    pub(crate) async fn enqueue_change(
        &self,
        account: &str,
        message: i64,
        op: Op,
        add: &[String],
        remove: &[String],
        target: Option<&str>,
    ) -> Result<i64, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "INSERT INTO changes (account, message, op, add_flags, remove_flags, target, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                &[
                    &account,
                    &message,
                    &op.as_str(),
                    &super::text(&add.join(" ")),
                    &super::text(&remove.join(" ")),
                    &target.map(super::text),
                    &now_unix(),
                ],
            )
            .await
            .map_err(self.e())?;
        Ok(row.get(0))
    }

    pub(crate) async fn pending_changes(&self, account: &str) -> Result<Vec<Change>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(&format!("{SELECT} WHERE account = $1 AND state = 'pending' ORDER BY id"), &[&account])
            .await
            .map_err(self.e())?;
        Ok(rows.iter().map(row).collect())
    }

    pub(crate) async fn change(&self, id: i64) -> Result<Option<Change>, StoreError> {
        let client = self.client().await?;
        let found = client.query_opt(&format!("{SELECT} WHERE id = $1"), &[&id]).await.map_err(self.e())?;
        Ok(found.as_ref().map(row))
    }

    pub(crate) async fn finish_change(&self, id: i64, state: ChangeState, result: &str) -> Result<(), StoreError> {
        let client = self.client().await?;
        let done_at = (state != ChangeState::Pending).then(now_unix);
        client
            .execute(
                "UPDATE changes SET state = $2, result = $3, attempts = attempts + 1, done_at = $4 WHERE id = $1",
                &[&id, &state.as_str(), &super::text(result), &done_at],
            )
            .await
            .map_err(self.e())?;
        Ok(())
    }
}
