//! The outbox: events appended in the transaction of the change that causes them, and the
//! reads and marks of the relay that delivers them (`events::relay`).

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Value};
use uuid::Uuid;

use crate::db::{self, Db, Params};
use crate::domain::{DomainEvent, EventEnvelope};

/// Appends `event` in the caller's transaction: it exists exactly when the change does. On
/// PostgreSQL a `pg_notify` in the same transaction wakes the relay of every instance at
/// commit (and never on rollback); in this process, call `db.wake().outbox()` after commit.
pub async fn append(txn: &impl ConnectionTrait, event: DomainEvent) -> Result<Uuid, DbErr> {
    let envelope = EventEnvelope::new(event, db::now());
    let payload = serde_json::to_value(&envelope)
        .map_err(|error| DbErr::Custom(format!("an event does not serialise: {error}")))?;
    txn.execute_raw(db::sql(
        txn,
        "INSERT INTO outbox (id, event_type, payload, attempts, created_at) \
         VALUES ($1, $2, $3, 0, $4)",
        [
            envelope.id.into(),
            envelope.event.kind().into(),
            payload.into(),
            Value::from(envelope.occurred_at),
        ],
    ))
    .await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared("SELECT pg_notify('outbox', '')")
            .await?;
    }
    Ok(envelope.id)
}

/// An undelivered event, as the relay reads it.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: Uuid,
    pub kind: String,
    pub created_at: DateTime<Utc>,
    /// The body to publish, exactly as stored.
    pub envelope: EventEnvelope,
    /// In-process subscribers have seen it.
    pub handled: bool,
}

/// The oldest undelivered events, oldest first.
pub async fn pending(db: &Db, limit: u64) -> Result<Vec<Pending>, DbErr> {
    let rows = db
        .read()
        .query_all_raw(db::sql(
            db.read(),
            "SELECT id, event_type, payload, created_at, handled_at FROM outbox \
             WHERE delivered_at IS NULL ORDER BY created_at, id LIMIT $1",
            [Value::from(i64::try_from(limit).unwrap_or(i64::MAX))],
        ))
        .await?;
    rows.iter()
        .map(|row| {
            let payload: serde_json::Value = row.try_get("", "payload")?;
            Ok(Pending {
                id: row.try_get("", "id")?,
                kind: row.try_get("", "event_type")?,
                created_at: row.try_get("", "created_at")?,
                envelope: serde_json::from_value(payload).map_err(|error| {
                    DbErr::Type(format!("an outbox row is unreadable: {error}"))
                })?,
                handled: row
                    .try_get::<Option<DateTime<Utc>>>("", "handled_at")?
                    .is_some(),
            })
        })
        .collect()
}

/// Marks events as seen by the in-process subscribers, or (`delivered`) as done.
pub async fn mark(db: &Db, ids: &[Uuid], delivered: bool) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut params = Params::default();
    let now = params.push(db::now());
    let placeholders: Vec<String> = ids.iter().map(|id| params.push(*id)).collect();
    let sets = if delivered {
        format!("handled_at = COALESCE(handled_at, {now}), delivered_at = {now}, last_error = NULL")
    } else {
        format!("handled_at = {now}")
    };
    db.write()
        .execute_raw(db::sql(
            db.write(),
            &format!(
                "UPDATE outbox SET {sets} WHERE id IN ({})",
                placeholders.join(", ")
            ),
            params.into_values(),
        ))
        .await?;
    Ok(())
}

/// Counts a failed delivery of the event, with why.
pub async fn record_failure(db: &Db, id: Uuid, error: &str) -> Result<(), DbErr> {
    db.write()
        .execute_raw(db::sql(
            db.write(),
            "UPDATE outbox SET attempts = attempts + 1, last_error = $1 WHERE id = $2",
            [error.into(), id.into()],
        ))
        .await?;
    Ok(())
}

/// How many events wait, and since when the oldest has.
pub async fn backlog(db: &Db) -> Result<(u64, Option<DateTime<Utc>>), DbErr> {
    let row = db
        .read()
        .query_one_raw(db::sql(
            db.read(),
            "SELECT COUNT(*) AS waiting, MIN(created_at) AS oldest FROM outbox \
             WHERE delivered_at IS NULL",
            [],
        ))
        .await?;
    let Some(row) = row else {
        return Ok((0, None));
    };
    let waiting: i64 = row.try_get("", "waiting")?;
    Ok((
        u64::try_from(waiting).unwrap_or(0),
        row.try_get("", "oldest")?,
    ))
}

/// Removes delivered events older than `before`: consumers have had them, and NATS keeps its
/// own copy.
pub async fn purge_delivered(db: &Db, before: DateTime<Utc>) -> Result<u64, DbErr> {
    let result = db
        .write()
        .execute_raw(db::sql(
            db.write(),
            "DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < $1",
            [Value::from(before)],
        ))
        .await?;
    Ok(result.rows_affected())
}
