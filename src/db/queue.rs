//! The persistent job queue on the `jobs` table: the producer side (enqueue, in the caller's
//! transaction), and the worker side — claims under a lease, heartbeats, verdicts.
//!
//! A claim sets a fresh `claim` token; every later write of that worker names it, so a worker
//! whose lease ran out (and whose job another worker has claimed since) changes nothing. On
//! PostgreSQL, claims skip rows other workers have locked and times come from the database's
//! clock, so instances agree on leases whatever their hosts' clocks say; SQLite has one writer
//! and one machine.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Value};
use uuid::Uuid;

use crate::db::{self, Db, Params};
use crate::domain::{Job, JobId};

/// Writes `job` in the caller's transaction, so it exists exactly when the change that asked
/// for it does. On PostgreSQL a `pg_notify` wakes the workers of every instance at commit; in
/// this process, call `db.wake().jobs()` after commit.
pub async fn enqueue(
    txn: &impl ConnectionTrait,
    job: &Job,
    max_attempts: u32,
) -> Result<JobId, DbErr> {
    let id = JobId::generate();
    let now = db::now();
    txn.execute_raw(db::sql(
        txn,
        "INSERT INTO jobs (id, kind, payload, status, attempts, max_attempts, run_at, \
           created_at, updated_at) VALUES ($1, $2, $3, 'PENDING', 0, $4, $5, $5, $5)",
        [
            id.into(),
            job.kind().into(),
            job.payload().into(),
            Value::from(i32::try_from(max_attempts).unwrap_or(i32::MAX)),
            Value::from(now),
        ],
    ))
    .await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared("SELECT pg_notify('jobs', '')")
            .await?;
    }
    Ok(id)
}

/// A job this worker now holds.
#[derive(Debug)]
pub struct Claimed {
    pub id: JobId,
    pub kind: String,
    /// The job, or why it cannot run (it then fails like any other error).
    pub job: Result<Job, String>,
    /// Counting this one.
    pub attempts: u32,
    pub max_attempts: u32,
    pub claim: Uuid,
}

/// "Now" and "now + d" in SQL: the database's clock on PostgreSQL, ours on SQLite.
struct Clock {
    backend: DbBackend,
}

impl Clock {
    fn now(&self, params: &mut Params) -> String {
        match self.backend {
            DbBackend::Postgres => "now()".to_owned(),
            _ => params.push(db::now()),
        }
    }

    fn after(&self, params: &mut Params, delay: Duration) -> String {
        match self.backend {
            DbBackend::Postgres => format!(
                "now() + {} * interval '1 millisecond'",
                params.push(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX))
            ),
            _ => params.push(db::now() + delay),
        }
    }
}

fn clock(db: &Db) -> Clock {
    Clock {
        backend: db.backend(),
    }
}

async fn execute(db: &Db, sql: &str, params: Params) -> Result<u64, DbErr> {
    Ok(db
        .write()
        .execute_raw(db::sql(db.write(), sql, params.into_values()))
        .await?
        .rows_affected())
}

/// Claims up to `limit` due jobs for `lease`: pending ones whose time has come, and running
/// ones whose worker's lease has ended (it died). A running job whose lease ended on its last
/// attempt is kept as `DEAD` instead.
pub async fn claim(db: &Db, limit: usize, lease: Duration) -> Result<Vec<Claimed>, DbErr> {
    let clock = clock(db);
    let mut params = Params::default();
    let now = clock.now(&mut params);
    execute(
        db,
        &format!(
            "UPDATE jobs SET status = 'DEAD', claim = NULL, locked_until = NULL, \
               last_error = 'the worker running its last attempt stopped before it ended', \
               updated_at = {now} \
             WHERE status = 'RUNNING' AND locked_until < {now} AND attempts >= max_attempts"
        ),
        params,
    )
    .await?;

    let token = Uuid::new_v4();
    let mut params = Params::default();
    let now = clock.now(&mut params);
    let until = clock.after(&mut params, lease);
    let claim = params.push(token);
    let limit = params.push(i64::try_from(limit).unwrap_or(i64::MAX));
    let skip_locked = match db.backend() {
        DbBackend::Postgres => " FOR UPDATE SKIP LOCKED",
        _ => "",
    };
    let rows = db
        .write()
        .query_all_raw(db::sql(
            db.write(),
            &format!(
                "UPDATE jobs SET status = 'RUNNING', claim = {claim}, attempts = attempts + 1, \
                   locked_until = {until}, updated_at = {now} \
                 WHERE id IN (SELECT id FROM jobs \
                   WHERE ((status = 'PENDING' AND run_at <= {now}) \
                       OR (status = 'RUNNING' AND locked_until < {now})) \
                     AND attempts < max_attempts \
                   ORDER BY run_at, id LIMIT {limit}{skip_locked}) \
                 RETURNING id, kind, payload, attempts, max_attempts"
            ),
            params.into_values(),
        ))
        .await?;
    rows.iter()
        .map(|row| {
            let kind: String = row.try_get("", "kind")?;
            let payload: serde_json::Value = row.try_get("", "payload")?;
            let count = |column| -> Result<u32, DbErr> {
                Ok(u32::try_from(row.try_get::<i32>("", column)?).unwrap_or(0))
            };
            Ok(Claimed {
                id: row.try_get("", "id")?,
                job: Job::from_row(&kind, payload),
                kind,
                attempts: count("attempts")?,
                max_attempts: count("max_attempts")?,
                claim: token,
            })
        })
        .collect()
}

/// Extends the lease; `false` when this worker no longer holds the job.
pub async fn heartbeat(db: &Db, job: &Claimed, lease: Duration) -> Result<bool, DbErr> {
    let clock = clock(db);
    let mut params = Params::default();
    let until = clock.after(&mut params, lease);
    let sql = format!(
        "UPDATE jobs SET locked_until = {until} WHERE id = {} AND claim = {} \
         AND status = 'RUNNING'",
        params.push(job.id),
        params.push(job.claim),
    );
    Ok(execute(db, &sql, params).await? == 1)
}

/// The job ran: `DONE`. `false` when this worker no longer held it.
pub async fn complete(db: &Db, job: &Claimed) -> Result<bool, DbErr> {
    let clock = clock(db);
    let mut params = Params::default();
    let now = clock.now(&mut params);
    let sql = format!(
        "UPDATE jobs SET status = 'DONE', claim = NULL, locked_until = NULL, last_error = NULL, \
           updated_at = {now} WHERE id = {} AND claim = {}",
        params.push(job.id),
        params.push(job.claim),
    );
    Ok(execute(db, &sql, params).await? == 1)
}

/// What a failed attempt leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Tried again after the delay.
    Retry(Duration),
    /// No attempts left: kept as `DEAD` with its last error.
    Dead,
    /// This worker no longer held the job; nothing changed.
    Lost,
}

/// Records a failed attempt: again after `retry_in`, or `DEAD` when it was the last.
pub async fn fail(
    db: &Db,
    job: &Claimed,
    error: &str,
    retry_in: Duration,
) -> Result<AfterFailure, DbErr> {
    let clock = clock(db);
    let mut params = Params::default();
    let now = clock.now(&mut params);
    let dead = job.attempts >= job.max_attempts;
    let next = if dead {
        "status = 'DEAD'".to_owned()
    } else {
        format!(
            "status = 'PENDING', run_at = {}",
            clock.after(&mut params, retry_in)
        )
    };
    let sql = format!(
        "UPDATE jobs SET {next}, claim = NULL, locked_until = NULL, last_error = {}, \
           updated_at = {now} WHERE id = {} AND claim = {}",
        params.push(error),
        params.push(job.id),
        params.push(job.claim),
    );
    Ok(match execute(db, &sql, params).await? {
        0 => AfterFailure::Lost,
        _ if dead => AfterFailure::Dead,
        _ => AfterFailure::Retry(retry_in),
    })
}

/// Gives a job back unfinished (its worker is shutting down): pending again at once, and the
/// attempt it did not finish is not counted.
pub async fn release(db: &Db, job: &Claimed) -> Result<(), DbErr> {
    let clock = clock(db);
    let mut params = Params::default();
    let now = clock.now(&mut params);
    let sql = format!(
        "UPDATE jobs SET status = 'PENDING', claim = NULL, locked_until = NULL, \
           attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, run_at = {now}, \
           updated_at = {now} WHERE id = {} AND claim = {}",
        params.push(job.id),
        params.push(job.claim),
    );
    execute(db, &sql, params).await?;
    Ok(())
}

/// When the next job falls due (a pending job's time, or a running job's lease end), if any.
pub async fn next_due(db: &Db) -> Result<Option<DateTime<Utc>>, DbErr> {
    let row = db
        .read()
        .query_one_raw(db::sql(
            db.read(),
            "SELECT (SELECT MIN(run_at) FROM jobs WHERE status = 'PENDING') AS due, \
                    (SELECT MIN(locked_until) FROM jobs WHERE status = 'RUNNING') AS lease_end",
            [],
        ))
        .await?;
    let Some(row) = row else { return Ok(None) };
    let due: Option<DateTime<Utc>> = row.try_get("", "due")?;
    let lease_end: Option<DateTime<Utc>> = row.try_get("", "lease_end")?;
    Ok(match (due, lease_end) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    })
}

/// Jobs by kind and state, for `/metrics`.
pub async fn counts(db: &Db) -> Result<Vec<(String, String, u64)>, DbErr> {
    let rows = db
        .read()
        .query_all_raw(db::sql(
            db.read(),
            "SELECT kind, status, COUNT(*) AS n FROM jobs GROUP BY kind, status",
            [],
        ))
        .await?;
    rows.iter()
        .map(|row| {
            let n: i64 = row.try_get("", "n")?;
            Ok((
                row.try_get("", "kind")?,
                row.try_get("", "status")?,
                u64::try_from(n).unwrap_or(0),
            ))
        })
        .collect()
}

/// Removes jobs that ended well before `before`; dead ones stay for an operator to see.
pub async fn purge_done(db: &Db, before: DateTime<Utc>) -> Result<u64, DbErr> {
    let result = db
        .write()
        .execute_raw(db::sql(
            db.write(),
            "DELETE FROM jobs WHERE status = 'DONE' AND updated_at < $1",
            [Value::from(before)],
        ))
        .await?;
    Ok(result.rows_affected())
}
