//! Login lockout: at most `LOGIN_MAX_FAILURES` attempts per email in a window of
//! `LOGIN_LOCKOUT_SECS`, then 429 until the window ends, whatever the password.
//!
//! An attempt is counted *before* its password is checked, by one atomic upsert that refuses
//! once the budget is spent. Counting after the check would let twenty concurrent guesses all
//! pass a "not locked yet" read; this way exactly `max` guesses get a verdict per window, on
//! any number of instances. A correct password clears the count.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Value};

use crate::db::{self, Db};
use crate::error::AppError;

#[derive(Debug, Clone, Copy)]
pub struct LockoutPolicy {
    pub max_failures: u32,
    pub window: Duration,
}

impl LockoutPolicy {
    /// Takes one attempt from the email's budget, or answers `ACCOUNT_LOCKED` with the seconds
    /// until the window ends.
    pub async fn reserve_attempt(&self, db: &Db, email: &str) -> Result<(), AppError> {
        let now = db::now();
        let expired_before = now - self.window;
        // A write that returns a row: it must go through the writer.
        let reserved = db
            .writer()
            .query_one_raw(db::sql(
                db,
                "INSERT INTO login_failures (email, failures, window_started_at) \
                 VALUES ($1, 1, $2) \
                 ON CONFLICT (email) DO UPDATE SET \
                   failures = CASE WHEN login_failures.window_started_at <= $3 THEN 1 \
                                   ELSE login_failures.failures + 1 END, \
                   window_started_at = CASE WHEN login_failures.window_started_at <= $3 THEN $2 \
                                            ELSE login_failures.window_started_at END \
                 WHERE login_failures.window_started_at <= $3 OR login_failures.failures < $4 \
                 RETURNING failures",
                [
                    email.into(),
                    now.into(),
                    expired_before.into(),
                    Value::from(i64::from(self.max_failures)),
                ],
            ))
            .await?;
        if reserved.is_some() {
            return Ok(());
        }
        let started: Option<DateTime<Utc>> = db
            .query_one_raw(db::sql(
                db,
                "SELECT window_started_at FROM login_failures WHERE email = $1",
                [email.into()],
            ))
            .await?
            .map(|row| row.try_get_by_index(0))
            .transpose()?;
        let ends = started.unwrap_or(now) + self.window;
        let wait = (ends - now).to_std().unwrap_or_default();
        Err(AppError::AccountLocked {
            retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
        })
    }

    /// Forgets the email's attempts after a correct password.
    pub async fn clear(&self, db: &impl ConnectionTrait, email: &str) -> Result<(), AppError> {
        db.execute_raw(db::sql(
            db,
            "DELETE FROM login_failures WHERE email = $1",
            [email.into()],
        ))
        .await?;
        Ok(())
    }
}
