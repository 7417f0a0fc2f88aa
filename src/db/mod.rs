//! Connections, migrations and transactions: the one place that tells SQLite from PostgreSQL.
//!
//! Pools are built with sqlx directly so every pooled connection gets the same settings
//! (a pragma run once reaches only one connection), then handed to SeaORM.

pub mod entities;
pub mod money;
pub mod queue;
pub mod search;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sea_orm::sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, SqlErr,
    SqlxPostgresConnector, SqlxSqliteConnector, Statement, TransactionOptions, TransactionTrait,
    Value,
};

use crate::config::ConfigError;

/// How long a SQLite writer waits for the write lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a request waits for a pooled connection before it fails instead of queueing forever.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// Serialises migrations when several instances start at once against one PostgreSQL.
const MIGRATION_LOCK_KEY: i64 = 0x6563_6f6d_6d65_7263; // "ecommerc"

/// The database families we support, decided from the URL scheme alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Self, ConfigError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(ConfigError::new(
                "DATABASE_URL must start with sqlite:// or postgres://",
            ))
        }
    }
}

/// Opens a pool for `url`, creating the SQLite file and its folder on demand.
pub async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
    match Backend::from_url(url)? {
        Backend::Sqlite => connect_sqlite(url).await,
        Backend::Postgres => connect_postgres(url).await,
    }
}

async fn connect_sqlite(url: &str) -> anyhow::Result<DatabaseConnection> {
    let options = SqliteConnectOptions::from_str(url)
        .context("DATABASE_URL is not a valid SQLite URL")?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT);
    let file = options.get_filename().to_owned();
    if file.as_path() != Path::new(":memory:")
        && let Some(folder) = file.parent().filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(folder)
            .with_context(|| format!("cannot create the database folder {}", folder.display()))?;
    }
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .with_context(|| format!("cannot open the SQLite database {}", file.display()))?;
    Ok(SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
}

async fn connect_postgres(url: &str) -> anyhow::Result<DatabaseConnection> {
    let options =
        PgConnectOptions::from_str(url).context("DATABASE_URL is not a valid PostgreSQL URL")?;
    let pool = PgPoolOptions::new()
        .max_connections(32)
        .min_connections(1)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .context("cannot connect to PostgreSQL at DATABASE_URL")?;
    Ok(SqlxPostgresConnector::from_sqlx_postgres_pool(pool))
}

/// The current time at the precision both databases store (microseconds), so a value written
/// and the value read back compare equal.
pub fn now() -> DateTime<Utc> {
    Utc::now()
        .duration_trunc(TimeDelta::microseconds(1))
        .expect("microseconds divide any timestamp")
}

/// Starts a transaction that will write. On SQLite it takes the write lock at `BEGIN`
/// (`IMMEDIATE`), so a busy database makes it wait for the busy timeout; a deferred transaction
/// that reads first fails at once with "database is locked" when it later tries to write.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// A raw statement with `$1`, `$2` … placeholders, which both backends accept.
pub fn sql(
    db: &impl ConnectionTrait,
    sql: &str,
    values: impl IntoIterator<Item = Value>,
) -> Statement {
    Statement::from_sql_and_values(db.get_database_backend(), sql, values)
}

/// Values for a raw statement built piece by piece: `push` returns the placeholder to write.
#[derive(Debug, Default)]
pub struct Params(Vec<Value>);

impl Params {
    pub fn push(&mut self, value: impl Into<Value>) -> String {
        self.0.push(value.into());
        format!("${}", self.0.len())
    }

    pub fn into_values(self) -> Vec<Value> {
        self.0
    }
}

/// Whether the error is a foreign-key violation: a write named a row that does not exist.
pub fn is_foreign_key_violation(error: &DbErr) -> bool {
    matches!(
        error.sql_err(),
        Some(SqlErr::ForeignKeyConstraintViolation(_))
    )
}

/// Whether the error is a unique-index violation; the caller knows which index it guarded.
pub fn is_unique_violation(error: &DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Applies pending migrations in one transaction, so a failed migration leaves nothing half
/// done and concurrent starts queue behind each other (an advisory lock on PostgreSQL, an
/// immediate transaction on SQLite). Running it again is a no-op.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    let txn = begin_write(db)
        .await
        .context("cannot start the migration transaction")?;
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared(&format!(
            "SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"
        ))
        .await
        .context("cannot take the migration lock")?;
    }
    Migrator::up(&txn, None).await.context("migration failed")?;
    txn.commit().await.context("cannot commit the migrations")?;
    Ok(())
}

/// Connection counts for the `/metrics` pool gauges.
#[derive(Debug, Clone, Copy)]
pub struct PoolStats {
    pub open: u32,
    pub idle: u32,
    pub max: u32,
}

pub fn pool_stats(db: &DatabaseConnection) -> PoolStats {
    fn stats<DB: sea_orm::sqlx::Database>(pool: &sea_orm::sqlx::Pool<DB>) -> PoolStats {
        PoolStats {
            open: pool.size(),
            idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
            max: pool.options().get_max_connections(),
        }
    }
    match db.get_database_backend() {
        DbBackend::Postgres => stats(db.get_postgres_connection_pool()),
        _ => stats(db.get_sqlite_connection_pool()),
    }
}
