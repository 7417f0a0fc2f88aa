//! Attempt budgets: at most `LOGIN_MAX_FAILURES` failed password checks per budget in a window
//! of `LOGIN_LOCKOUT_SECS`, then 429 until the window ends, whatever the password. A budget is
//! a login email, or a signed-in user checking their current password (so a guesser locking an
//! email cannot stop its owner's session from changing the password).
//!
//! Each attempt is reserved before its password is checked, by one atomic upsert that admits
//! it only while `failures + in flight < max`; its verdict then either adds a failure or clears
//! them. So however many guesses arrive at once, on any number of instances, at most `max` get
//! a verdict per window — and a correct password is never refused because others are in
//! flight: it waits for a slot. Reservations carry a lease, so a process that dies mid-check
//! does not hold slots for longer than that.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Value};
use tokio::sync::Notify;

use crate::db::{self, Db, Params};
use crate::domain::UserId;
use crate::error::AppError;

/// How long a reservation holds its slot if its verdict never comes.
const LEASE: Duration = Duration::from_secs(30);
/// How long an attempt waits for a slot before the server gives up on it (503).
const MAX_WAIT: Duration = Duration::from_secs(10);
/// How often a waiting attempt looks again when no release in this process woke it: releases
/// on other instances cannot.
const RECHECK_EVERY: Duration = Duration::from_millis(50);

/// Whose attempts a budget counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Budget {
    /// Logins for this (normalised) email.
    Login(String),
    /// This user checking their current password.
    Password(UserId),
}

impl Budget {
    fn key(&self) -> (&'static str, String) {
        match self {
            Budget::Login(email) => ("login", email.clone()),
            Budget::Password(user) => ("password", user.to_string()),
        }
    }
}

pub struct LockoutPolicy {
    pub max_failures: u32,
    pub window: Duration,
    /// Wakes this process's waiting attempts when one of its attempts gets its verdict.
    released: Notify,
}

/// An attempt holding a slot of its budget until [`LockoutPolicy::failed`] or
/// [`LockoutPolicy::succeeded`] gives it a verdict. Dropped without one (an error on the way),
/// its slot is given back in the background.
pub struct Attempt {
    scope: &'static str,
    subject: String,
    db: Option<Db>,
}

impl Drop for Attempt {
    fn drop(&mut self) {
        let Some(db) = self.db.take() else { return };
        let (scope, subject) = (self.scope, std::mem::take(&mut self.subject));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(error) = release(db.write(), scope, &subject, Verdict::None).await {
                    tracing::warn!(error = %error, "cannot give back a login attempt's slot");
                }
            });
        }
    }
}

enum Verdict {
    Failed { window: Duration },
    Succeeded,
    None,
}

impl LockoutPolicy {
    pub fn new(max_failures: u32, window: Duration) -> Self {
        LockoutPolicy {
            max_failures,
            window,
            released: Notify::new(),
        }
    }

    /// Reserves a slot for one attempt, waiting while the budget's slots are all in flight;
    /// `ACCOUNT_LOCKED` once `max` failures fall in the window.
    pub async fn begin(&self, db: &Db, budget: &Budget) -> Result<Attempt, AppError> {
        let (scope, subject) = budget.key();
        let deadline = tokio::time::Instant::now() + MAX_WAIT;
        loop {
            // Registered before looking, so a release between the look and the wait wakes us.
            let released = self.released.notified();
            match self.reserve(db, scope, &subject).await? {
                Reservation::Granted => {
                    return Ok(Attempt {
                        scope,
                        subject,
                        db: Some(db.clone()),
                    });
                }
                Reservation::Locked { retry_after_secs } => {
                    return Err(AppError::AccountLocked { retry_after_secs });
                }
                Reservation::Busy if tokio::time::Instant::now() >= deadline => {
                    return Err(AppError::Unavailable(
                        "Too many sign-in attempts at once; try again".to_owned(),
                    ));
                }
                Reservation::Busy => {
                    let _ = tokio::time::timeout(RECHECK_EVERY, released).await;
                }
            }
        }
    }

    async fn reserve(&self, db: &Db, scope: &str, subject: &str) -> Result<Reservation, AppError> {
        let now = db::now();
        let window_ended = now - self.window;
        // A write that returns a row: it must go through the writer.
        let granted = db
            .write()
            .query_one_raw(db::sql(
                db.read(),
                "INSERT INTO attempt_budgets \
                   (scope, subject, failures, window_started_at, in_flight, lease_until) \
                 VALUES ($1, $2, 0, NULL, 1, $3) \
                 ON CONFLICT (scope, subject) DO UPDATE SET \
                   failures = CASE WHEN attempt_budgets.window_started_at <= $5 THEN 0 \
                                   ELSE attempt_budgets.failures END, \
                   window_started_at = CASE WHEN attempt_budgets.window_started_at <= $5 \
                                            THEN NULL ELSE attempt_budgets.window_started_at END, \
                   in_flight = CASE WHEN attempt_budgets.lease_until <= $4 THEN 1 \
                                    ELSE attempt_budgets.in_flight + 1 END, \
                   lease_until = $3 \
                 WHERE (CASE WHEN attempt_budgets.window_started_at <= $5 THEN 0 \
                             ELSE attempt_budgets.failures END) \
                     + (CASE WHEN attempt_budgets.lease_until <= $4 THEN 0 \
                             ELSE attempt_budgets.in_flight END) < $6 \
                 RETURNING failures",
                [
                    scope.into(),
                    subject.into(),
                    Value::from(now + LEASE),
                    Value::from(now),
                    Value::from(window_ended),
                    Value::from(i64::from(self.max_failures)),
                ],
            ))
            .await?;
        if granted.is_some() {
            return Ok(Reservation::Granted);
        }
        let row = db
            .read()
            .query_one_raw(db::sql(
                db.read(),
                "SELECT failures, window_started_at FROM attempt_budgets \
                 WHERE scope = $1 AND subject = $2",
                [scope.into(), subject.into()],
            ))
            .await?;
        let Some(row) = row else {
            // Unlocked or purged meanwhile: try again at once.
            return Ok(Reservation::Busy);
        };
        let failures: i32 = row.try_get("", "failures")?;
        let started: Option<DateTime<Utc>> = row.try_get("", "window_started_at")?;
        match started {
            Some(started)
                if started > window_ended
                    && u32::try_from(failures).unwrap_or(0) >= self.max_failures =>
            {
                let wait = (started + self.window - now).to_std().unwrap_or_default();
                Ok(Reservation::Locked {
                    retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
                })
            }
            _ => Ok(Reservation::Busy),
        }
    }

    /// The password was wrong: one more failure in the window, and the slot given back.
    pub async fn failed(&self, db: &Db, mut attempt: Attempt) -> Result<(), AppError> {
        attempt.db = None;
        let verdict = Verdict::Failed {
            window: self.window,
        };
        release(db.write(), attempt.scope, &attempt.subject, verdict).await?;
        self.released.notify_waiters();
        Ok(())
    }

    /// The password was right: the budget's failures are forgotten, in the caller's
    /// transaction, and the slot given back.
    pub async fn succeeded(
        &self,
        db: &impl ConnectionTrait,
        mut attempt: Attempt,
    ) -> Result<(), AppError> {
        attempt.db = None;
        release(db, attempt.scope, &attempt.subject, Verdict::Succeeded).await?;
        self.released.notify_waiters();
        Ok(())
    }

    /// Ends a lockout at once (`ecommerce-api unlock`, `create-admin`).
    pub async fn unlock(&self, db: &impl ConnectionTrait, budget: &Budget) -> Result<(), AppError> {
        let (scope, subject) = budget.key();
        db.execute_raw(db::sql(
            db,
            "DELETE FROM attempt_budgets WHERE scope = $1 AND subject = $2",
            [scope.into(), subject.into()],
        ))
        .await?;
        Ok(())
    }

    /// Removes budgets with nothing left to count: no failure in an open window, no attempt
    /// holding a live lease.
    pub async fn purge(&self, db: &Db) -> Result<u64, AppError> {
        let now = db::now();
        let purged = db
            .write()
            .execute_raw(db::sql(
                db.read(),
                "DELETE FROM attempt_budgets \
                 WHERE (window_started_at IS NULL OR window_started_at <= $1) \
                   AND (in_flight = 0 OR lease_until IS NULL OR lease_until <= $2)",
                [Value::from(now - self.window), Value::from(now)],
            ))
            .await?;
        Ok(purged.rows_affected())
    }
}

enum Reservation {
    Granted,
    Busy,
    Locked { retry_after_secs: u64 },
}

async fn release(
    db: &impl ConnectionTrait,
    scope: &str,
    subject: &str,
    verdict: Verdict,
) -> Result<(), AppError> {
    if let Verdict::Succeeded = verdict {
        // Nothing left to count when no other attempt is in flight: the row goes, so budgets
        // of emails that log in fine do not pile up until the purge.
        let deleted = db
            .execute_raw(db::sql(
                db,
                "DELETE FROM attempt_budgets WHERE scope = $1 AND subject = $2 AND in_flight <= 1",
                [scope.into(), subject.into()],
            ))
            .await?;
        if deleted.rows_affected() > 0 {
            return Ok(());
        }
    }
    let mut params = Params::default();
    let sets = match verdict {
        // A failure opens a window when none is open (there is none, or it has ended).
        Verdict::Failed { window } => {
            let now = db::now();
            let ended = params.push(now - window);
            let now = params.push(now);
            format!(
                "failures = CASE WHEN window_started_at IS NULL OR window_started_at <= {ended} \
                   THEN 1 ELSE failures + 1 END, \
                 window_started_at = CASE WHEN window_started_at IS NULL \
                   OR window_started_at <= {ended} THEN {now} ELSE window_started_at END, "
            )
        }
        Verdict::Succeeded => "failures = 0, window_started_at = NULL, ".to_owned(),
        Verdict::None => String::new(),
    };
    let sql = format!(
        "UPDATE attempt_budgets SET {sets}\
         in_flight = CASE WHEN in_flight > 0 THEN in_flight - 1 ELSE 0 END \
         WHERE scope = {} AND subject = {}",
        params.push(scope),
        params.push(subject),
    );
    db.execute_raw(db::sql(db, &sql, params.into_values()))
        .await?;
    Ok(())
}
