//! Connections, migrations and transactions: the one place that tells SQLite from PostgreSQL.
//!
//! Pools are built with sqlx directly so every pooled connection gets the same settings
//! (a pragma run once reaches only one connection), then handed to SeaORM.
//!
//! SQLite lets one writer in at a time and makes the others sleep and retry in its busy
//! handler (1, 2, 5 … 100 ms naps), which under load gives writes a long tail and, past the
//! busy timeout, "database is locked". So on SQLite [`Db`] keeps a second pool of one
//! connection that every write goes through: writers wait their turn in that pool's queue,
//! in order and without naps, while reads keep their own pool. On PostgreSQL both are one
//! pool, since it locks rows, not the database.

pub mod entities;
pub mod leader;
pub mod listen;
pub mod money;
pub mod outbox;
pub mod queue;
pub mod search;
pub mod statements;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
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
use tokio::sync::Notify;

use crate::domain::CatalogChange;

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
    /// The backend a `DATABASE_URL` names, or `None` for any other scheme.
    pub fn from_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

/// What a `DATABASE_URL` of another kind is told.
pub const UNSUPPORTED_URL: &str = "DATABASE_URL must start with sqlite:// or postgres://";

/// The application's database. Every call names its pool: [`Db::read`] for reads,
/// [`Db::write`] or [`Db::begin_write`] for anything that writes, a write that returns rows
/// (`RETURNING`, a job claim) included. There is no implicit routing by method, which is the
/// trap a claim would fall into: it returns rows, yet must go to the writer.
#[derive(Debug, Clone)]
pub struct Db {
    read: DatabaseConnection,
    write: DatabaseConnection,
    wake: Arc<Wake>,
    job_max_attempts: u32,
}

/// Attempts a job gets unless `JOB_MAX_ATTEMPTS` says otherwise.
pub const DEFAULT_JOB_MAX_ATTEMPTS: u32 = 8;

/// In-process wake-ups for the background work that a commit in this process gives work to:
/// the outbox relay and the job workers wait on these instead of polling. (PostgreSQL also
/// wakes other instances through `LISTEN`/`NOTIFY`.)
#[derive(Default)]
pub struct Wake {
    pub outbox: Notify,
    pub jobs: Notify,
    catalog: std::sync::OnceLock<Arc<dyn CatalogListener>>,
}

impl std::fmt::Debug for Wake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wake").finish_non_exhaustive()
    }
}

/// Told of every catalog write this process commits, before the write's response is sent, so
/// that a read after it — here or, through the listener, on another instance — never sees
/// what it replaced. The caches are the listener.
#[async_trait::async_trait]
pub trait CatalogListener: Send + Sync {
    async fn changed(&self, change: CatalogChange);
}

impl Wake {
    /// After committing an outbox row.
    pub fn outbox(&self) {
        self.outbox.notify_one();
    }

    /// After committing a job.
    pub fn jobs(&self) {
        self.jobs.notify_one();
    }

    /// After committing a catalog write: waits until the listener has forgotten what it
    /// changed.
    pub async fn catalog(&self, change: CatalogChange) {
        if let Some(listener) = self.catalog.get() {
            listener.changed(change).await;
        }
    }

    /// Sets who is told of catalog writes; once per database, at start-up.
    pub fn listen_to_catalog(&self, listener: Arc<dyn CatalogListener>) {
        if self.catalog.set(listener).is_err() {
            tracing::warn!("a second catalog listener was ignored");
        }
    }
}

impl Db {
    /// The pool reads go through.
    pub fn read(&self) -> &DatabaseConnection {
        &self.read
    }

    /// The connection writes go through: one connection on SQLite, the pool on PostgreSQL.
    pub fn write(&self) -> &DatabaseConnection {
        &self.write
    }

    /// The same database, enqueueing jobs with this many attempts (`JOB_MAX_ATTEMPTS`).
    pub fn with_job_max_attempts(mut self, attempts: u32) -> Self {
        self.job_max_attempts = attempts;
        self
    }

    /// How many attempts a job enqueued now gets before it is kept as `DEAD`.
    pub fn job_max_attempts(&self) -> u32 {
        self.job_max_attempts
    }

    /// Wake-ups for this process's background work; see [`Wake`].
    pub fn wake(&self) -> &Wake {
        &self.wake
    }

    /// Which database this is.
    pub fn backend(&self) -> DbBackend {
        self.read.get_database_backend()
    }

    /// Starts a transaction that will write, on the writer. On SQLite it also takes the
    /// database's write lock at `BEGIN` (`IMMEDIATE`), so the one writer never has to upgrade
    /// a read lock, which fails at once when another process wrote meanwhile.
    pub async fn begin_write(&self) -> Result<DatabaseTransaction, DbErr> {
        self.write
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await
    }

    pub async fn ping(&self) -> Result<(), DbErr> {
        self.read.ping().await
    }

    /// Closes both pools, waiting for connections in use to be returned.
    pub async fn close(&self) -> Result<(), DbErr> {
        self.read.close_by_ref().await?;
        self.write.close_by_ref().await
    }
}

/// Opens the pools for `url`, creating the SQLite file and its folder on demand.
pub async fn connect(url: &str) -> anyhow::Result<Db> {
    match Backend::from_url(url).ok_or_else(|| anyhow::anyhow!(UNSUPPORTED_URL))? {
        Backend::Sqlite => connect_sqlite(url).await,
        Backend::Postgres => {
            let pool = counted(connect_postgres(url).await?);
            Ok(Db {
                read: pool.clone(),
                write: pool,
                wake: Arc::default(),
                job_max_attempts: DEFAULT_JOB_MAX_ATTEMPTS,
            })
        }
    }
}

/// How long a write waits for its turn on SQLite's one writer before failing; as long as a
/// request may take, so a queue of writers is slow rather than an error.
const SQLITE_WRITE_QUEUE_TIMEOUT: Duration = Duration::from_secs(30);

/// Reading connections on SQLite, beside its one writer.
const SQLITE_READERS: u32 = 8;

/// Each SQLite reader's own page cache. The kernel's page cache already holds the file for
/// every connection; SQLite's default of 2 MiB per connection held it eight times over and
/// made up a third of the server's memory under a search load (102 MiB peak at 10,000
/// products, 72 MiB with this), with no loss of throughput measured. The writer keeps the
/// default: the index pages an insert changes stay in it (a bulk seed inserts millions).
const SQLITE_READER_CACHE_KIB: u32 = 256;

async fn connect_sqlite(url: &str) -> anyhow::Result<Db> {
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
    let open = |connections: u32, acquire_timeout: Duration, options: SqliteConnectOptions| {
        SqlitePoolOptions::new()
            .max_connections(connections)
            .acquire_timeout(acquire_timeout)
            .connect_with(options)
    };
    // The writer first: it creates the file, so the readers never race to.
    let write = open(1, SQLITE_WRITE_QUEUE_TIMEOUT, options.clone())
        .await
        .with_context(|| format!("cannot open the SQLite database {}", file.display()))?;
    let read = if file.as_path() == Path::new(":memory:") {
        // Each connection to `:memory:` is its own database: everything must share one.
        write.clone()
    } else {
        let cache = format!("-{SQLITE_READER_CACHE_KIB}");
        open(
            SQLITE_READERS,
            ACQUIRE_TIMEOUT,
            options.pragma("cache_size", cache),
        )
        .await
        .with_context(|| format!("cannot open the SQLite database {}", file.display()))?
    };
    Ok(Db {
        read: counted(SqlxSqliteConnector::from_sqlx_sqlite_pool(read)),
        write: counted(SqlxSqliteConnector::from_sqlx_sqlite_pool(write)),
        wake: Arc::default(),
        job_max_attempts: DEFAULT_JOB_MAX_ATTEMPTS,
    })
}

/// PostgreSQL connections per instance: four per core of this machine, from 4 to 32.
///
/// A statement keeps a database core busy, so connections beyond a few per core only queue
/// inside PostgreSQL, where waiting costs more than in the pool. On two cores, 8 connections
/// served 5,300 product reads a second against 3,400 with 32 (p99 18 ms against 41) at a
/// million products, and search and list pages gained too.
fn postgres_pool_size() -> u32 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    u32::try_from(cores * 4).unwrap_or(u32::MAX).clamp(4, 32)
}

async fn connect_postgres(url: &str) -> anyhow::Result<DatabaseConnection> {
    let options =
        PgConnectOptions::from_str(url).context("DATABASE_URL is not a valid PostgreSQL URL")?;
    let pool = PgPoolOptions::new()
        .max_connections(postgres_pool_size())
        .min_connections(1)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .context("cannot connect to PostgreSQL at DATABASE_URL")?;
    Ok(SqlxPostgresConnector::from_sqlx_postgres_pool(pool))
}

/// `pool` with every statement counted for the request that sends it.
fn counted(mut pool: DatabaseConnection) -> DatabaseConnection {
    pool.set_metric_callback(statements::record);
    pool
}

/// The current time at the precision both databases store (microseconds), so a value written
/// and the value read back compare equal.
pub fn now() -> DateTime<Utc> {
    Utc::now()
        .duration_trunc(TimeDelta::microseconds(1))
        .expect("microseconds divide any timestamp")
}

/// ` FOR UPDATE` on PostgreSQL, to lock the rows a transaction reads before it changes them;
/// nothing on SQLite, whose write transactions hold the whole database.
pub fn for_update(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => " FOR UPDATE",
        _ => "",
    }
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
#[derive(Debug, Default, Clone)]
pub struct Params(Vec<Value>);

impl Params {
    pub fn push(&mut self, value: impl Into<Value>) -> String {
        self.0.push(value.into());
        format!("${}", self.0.len())
    }

    /// `LIMIT … OFFSET …` for an offset page.
    pub fn page(&mut self, page: crate::domain::PageRequest) -> String {
        let bound = |n: u64| Value::from(i64::try_from(n).unwrap_or(i64::MAX));
        format!(
            "LIMIT {} OFFSET {}",
            self.push(bound(page.limit)),
            self.push(bound(page.offset()))
        )
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

/// Whether SQLite gave up waiting for a lock ("database is locked"), which retrying the whole
/// transaction cures. PostgreSQL waits for row locks instead and never reports this.
pub fn is_busy(error: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    let (DbErr::Exec(RuntimeErr::SqlxError(e))
    | DbErr::Query(RuntimeErr::SqlxError(e))
    | DbErr::Conn(RuntimeErr::SqlxError(e))) = error
    else {
        return false;
    };
    match e.as_database_error() {
        // SQLITE_BUSY, SQLITE_LOCKED and their extended codes (BUSY_RECOVERY, BUSY_SNAPSHOT…).
        Some(e)
            if e.try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>()
                .is_some() =>
        {
            e.code()
                .and_then(|code| code.parse::<u32>().ok())
                .is_some_and(|code| matches!(code & 0xff, 5 | 6))
        }
        _ => false,
    }
}

/// Whether the error is a unique-index violation; the caller knows which index it guarded.
pub fn is_unique_violation(error: &DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Applies pending migrations in one transaction, so a failed migration leaves nothing half
/// done and concurrent starts queue behind each other (an advisory lock on PostgreSQL, an
/// immediate transaction on SQLite). Running it again is a no-op.
pub async fn migrate(db: &Db) -> anyhow::Result<()> {
    let txn = db
        .begin_write()
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

/// Counts per pool: `read` and `write` on SQLite, one `shared` pool on PostgreSQL.
pub fn pool_stats(db: &Db) -> Vec<(&'static str, PoolStats)> {
    fn stats(db: &DatabaseConnection) -> PoolStats {
        fn of<DB: sea_orm::sqlx::Database>(pool: &sea_orm::sqlx::Pool<DB>) -> PoolStats {
            PoolStats {
                open: pool.size(),
                idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
                max: pool.options().get_max_connections(),
            }
        }
        match db.get_database_backend() {
            DbBackend::Postgres => of(db.get_postgres_connection_pool()),
            _ => of(db.get_sqlite_connection_pool()),
        }
    }
    match db.backend() {
        DbBackend::Postgres => vec![("shared", stats(&db.read))],
        _ => vec![("read", stats(&db.read)), ("write", stats(&db.write))],
    }
}
