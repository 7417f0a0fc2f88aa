//! One leader per database for work that must run in one place at a time (the outbox relay,
//! which keeps events in commit order only if one process delivers them).
//!
//! PostgreSQL: a session advisory lock on a connection of its own — not a pooled one, whose
//! session would outlive the task — taken with the blocking `pg_advisory_lock`, so a follower
//! waits inside the database without polling and takes over the moment the leader's session
//! ends (its process died, its connection broke). SQLite: an advisory lock on a file beside the
//! database, which the kernel releases when its process dies; an in-memory database belongs to
//! one process anyway.

use std::time::Duration;

use sea_orm::DbBackend;
use sea_orm::sqlx::{Connection, PgConnection};

use crate::background::Stop;
use crate::db::Db;

/// How often a follower on SQLite tries the lock file again.
const FILE_RETRY: Duration = Duration::from_secs(5);

/// Leadership held until dropped.
pub struct Leadership {
    held: Held,
}

enum Held {
    Postgres(PgConnection),
    File(#[expect(dead_code, reason = "held for its lock, released on drop")] std::fs::File),
    Memory,
}

impl Leadership {
    /// Waits until this process leads `name`, or `None` if shutdown came first.
    pub async fn acquire(db: &Db, name: &str, stop: &mut Stop) -> Option<Leadership> {
        loop {
            let attempt = tokio::select! {
                () = stop.stopped() => return None,
                attempt = try_acquire(db, name) => attempt,
            };
            match attempt {
                Ok(Some(held)) => {
                    tracing::info!(role = name, "this instance leads");
                    return Some(Leadership { held });
                }
                Ok(None) => {
                    if !stop.sleep(FILE_RETRY).await {
                        return None;
                    }
                }
                Err(error) => {
                    tracing::warn!(role = name, error = %error, "cannot take the leader lock");
                    if !stop.sleep(FILE_RETRY).await {
                        return None;
                    }
                }
            }
        }
    }

    /// Whether the lock is still held: on PostgreSQL, whether its session still answers.
    pub async fn is_held(&mut self) -> bool {
        match &mut self.held {
            Held::Postgres(connection) => connection.ping().await.is_ok(),
            Held::File(_) | Held::Memory => true,
        }
    }
}

/// `Ok(None)`: someone else leads (SQLite; on PostgreSQL this waits instead).
async fn try_acquire(db: &Db, name: &str) -> anyhow::Result<Option<Held>> {
    match db.backend() {
        DbBackend::Postgres => {
            let options = db.write().get_postgres_connection_pool().connect_options();
            let mut connection = PgConnection::connect_with(&options).await?;
            sea_orm::sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(lock_key(name))
                .execute(&mut connection)
                .await?;
            Ok(Some(Held::Postgres(connection)))
        }
        _ => {
            let options = db.write().get_sqlite_connection_pool().connect_options();
            let file = options.get_filename();
            if file.as_os_str() == ":memory:" || file.as_os_str().is_empty() {
                return Ok(Some(Held::Memory));
            }
            let path = file.with_extension(format!("{name}.lock"));
            let lock = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)?;
            match lock.try_lock() {
                Ok(()) => Ok(Some(Held::File(lock))),
                Err(std::fs::TryLockError::WouldBlock) => Ok(None),
                Err(std::fs::TryLockError::Error(error)) => Err(error.into()),
            }
        }
    }
}

/// A stable 64-bit key for the name: PostgreSQL's advisory locks are numbered.
fn lock_key(name: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("ecommerce-api:{name}").as_bytes());
    i64::from_be_bytes(digest[..8].try_into().expect("a digest has 8 bytes"))
}
