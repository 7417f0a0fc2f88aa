//! PostgreSQL's `LISTEN`/`NOTIFY` as wake-ups: a transaction that writes an outbox row or a job
//! also notifies (`db::outbox`, `db::queue`), and this listener passes the notification to the
//! relay and workers of its own process, so they wait instead of polling. One connection per
//! process serves both channels.

use std::time::Duration;

use sea_orm::DbBackend;
use sea_orm::sqlx::postgres::PgListener;

use crate::background::Stop;
use crate::db::Db;

/// Listens until shutdown; reconnects with a pause when the connection breaks, and wakes
/// everything after a reconnect, since notifications sent meanwhile were lost. Returns at once
/// on SQLite, which has one process to wake, through [`Db::wake`] alone.
pub async fn listen(db: Db, mut stop: Stop) {
    if db.backend() != DbBackend::Postgres {
        return;
    }
    let pool = db.write().get_postgres_connection_pool().clone();
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(error = %error, "cannot LISTEN for wake-ups; retrying");
                if !stop.sleep(Duration::from_secs(2)).await {
                    return;
                }
                continue;
            }
        };
        if let Err(error) = listener.listen_all(["outbox", "jobs"]).await {
            tracing::warn!(error = %error, "cannot LISTEN for wake-ups; retrying");
            if !stop.sleep(Duration::from_secs(2)).await {
                return;
            }
            continue;
        }
        db.wake().outbox();
        db.wake().jobs();
        loop {
            let notification = tokio::select! {
                () = stop.stopped() => return,
                notification = listener.recv() => notification,
            };
            match notification {
                Ok(notification) => match notification.channel() {
                    "outbox" => db.wake().outbox(),
                    _ => db.wake().jobs(),
                },
                Err(error) => {
                    tracing::warn!(error = %error, "the wake-up listener lost its connection");
                    break;
                }
            }
        }
    }
}
