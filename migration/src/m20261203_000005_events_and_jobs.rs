//! What the outbox relay and the job workers need of their tables.
//!
//! - `outbox.handled_at`: in-process subscribers have seen the event; the relay keeps this
//!   apart from `delivered_at` so that a NATS outage neither holds back nor repeats them.
//!   `outbox.last_error`: why the last publish failed, for operators.
//! - `jobs.status`: the contract's `DEAD` replaces `FAILED`; `jobs.claim`: the token of the
//!   worker holding the lease, which every write of that worker names, so one whose lease
//!   ran out cannot complete or fail a job another worker now runs. SQLite cannot change a
//!   CHECK in place, so there the table is rebuilt.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000005_events_and_jobs"
    }
}

const OUTBOX: &[&str] = &[
    "ALTER TABLE outbox ADD COLUMN handled_at TIMESTAMP WITH TIME ZONE NULL",
    "ALTER TABLE outbox ADD COLUMN last_error TEXT NULL",
];

const SQLITE_OUTBOX: &[&str] = &[
    "ALTER TABLE outbox ADD COLUMN handled_at timestamp_with_timezone_text NULL",
    "ALTER TABLE outbox ADD COLUMN last_error text NULL",
];

const POSTGRES_JOBS: &[&str] = &[
    "ALTER TABLE jobs DROP CONSTRAINT IF EXISTS jobs_status_check",
    "UPDATE jobs SET status = 'DEAD' WHERE status = 'FAILED'",
    "ALTER TABLE jobs ADD CONSTRAINT jobs_status_check \
     CHECK (status IN ('PENDING', 'RUNNING', 'DONE', 'DEAD'))",
    "ALTER TABLE jobs ADD COLUMN claim uuid NULL",
    "CREATE INDEX idx_jobs_leases ON jobs (locked_until) WHERE status = 'RUNNING'",
    "CREATE INDEX idx_jobs_created_at ON jobs (created_at DESC, id DESC)",
];

const SQLITE_JOBS: &[&str] = &[
    "CREATE TABLE jobs_rebuilt ( \
       \"id\" uuid_text NOT NULL PRIMARY KEY, \
       \"kind\" varchar(64) NOT NULL, \
       \"payload\" json_text NOT NULL, \
       \"status\" varchar(16) NOT NULL \
         CHECK (\"status\" IN ('PENDING', 'RUNNING', 'DONE', 'DEAD')), \
       \"attempts\" integer NOT NULL DEFAULT 0, \
       \"max_attempts\" integer NOT NULL, \
       \"run_at\" timestamp_with_timezone_text NOT NULL, \
       \"locked_until\" timestamp_with_timezone_text NULL, \
       \"last_error\" text NULL, \
       \"created_at\" timestamp_with_timezone_text NOT NULL, \
       \"updated_at\" timestamp_with_timezone_text NOT NULL, \
       \"claim\" uuid_text NULL )",
    "INSERT INTO jobs_rebuilt (id, kind, payload, status, attempts, max_attempts, run_at, \
       locked_until, last_error, created_at, updated_at) \
     SELECT id, kind, payload, CASE status WHEN 'FAILED' THEN 'DEAD' ELSE status END, \
       attempts, max_attempts, run_at, locked_until, last_error, created_at, updated_at \
     FROM jobs",
    "DROP TABLE jobs",
    "ALTER TABLE jobs_rebuilt RENAME TO jobs",
    "CREATE INDEX idx_jobs_due ON jobs (run_at) WHERE status = 'PENDING'",
    "CREATE INDEX idx_jobs_leases ON jobs (locked_until) WHERE status = 'RUNNING'",
    "CREATE INDEX idx_jobs_created_at ON jobs (created_at DESC, id DESC)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::run_for_backend(manager, OUTBOX, SQLITE_OUTBOX).await?;
        crate::run_for_backend(manager, POSTGRES_JOBS, SQLITE_JOBS).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration(
            "m20261203_000005 cannot be reverted: DEAD jobs have no FAILED equivalent".into(),
        ))
    }
}
