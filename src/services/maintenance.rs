//! Rows that matter only for a while, removed once they no longer can: lockout windows that
//! have ended, idempotency keys past their 24 hours, refresh tokens past their expiry, and
//! delivered events and done jobs after a week (dead jobs stay for an operator).
//! Expired rows are already ignored by the queries that read them; purging keeps the tables
//! (and a spray of logins for random emails) from growing without bound.

use sea_orm::{ConnectionTrait, Value};

use crate::db::{self, Db, outbox, queue};
use crate::error::AppError;
use crate::services::accounts::LockoutPolicy;
use crate::services::orders::IDEMPOTENCY_KEY_LIFETIME;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub attempt_budgets: u64,
    pub idempotency_keys: u64,
    pub refresh_tokens: u64,
    pub delivered_events: u64,
    pub done_jobs: u64,
}

/// How long delivered events and done jobs are kept, for operators looking into what happened.
pub const KEEP_FINISHED: chrono::Duration = chrono::Duration::days(7);

pub async fn purge_expired(db: &Db, lockout: &LockoutPolicy) -> Result<Purged, AppError> {
    let now = db::now();
    let delete = |sql: &'static str, before: chrono::DateTime<chrono::Utc>| async move {
        db.write()
            .execute_raw(db::sql(db.read(), sql, [Value::from(before)]))
            .await
            .map(|result| result.rows_affected())
    };
    Ok(Purged {
        attempt_budgets: lockout.purge(db).await?,
        idempotency_keys: delete(
            "DELETE FROM idempotency_keys WHERE created_at < $1",
            now - IDEMPOTENCY_KEY_LIFETIME,
        )
        .await?,
        refresh_tokens: delete("DELETE FROM refresh_tokens WHERE expires_at < $1", now).await?,
        delivered_events: outbox::purge_delivered(db, now - KEEP_FINISHED).await?,
        done_jobs: queue::purge_done(db, now - KEEP_FINISHED).await?,
    })
}
