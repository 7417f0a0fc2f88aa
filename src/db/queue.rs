//! The persistent job queue's producer side: jobs are rows, written in the caller's
//! transaction, so a job exists exactly when the change that asked for it was committed.

use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};

use crate::db::{self, entities::jobs};
use crate::domain::JobId;

/// Mail to a new user; payload `{"userId"}`.
pub const MAIL_WELCOME: &str = "mail.welcome";
/// Mail telling a user their password changed; payload `{"userId"}`.
pub const MAIL_PASSWORD_CHANGED: &str = "mail.password_changed";

/// Attempts before a job is kept as `FAILED`.
const MAX_ATTEMPTS: i32 = 5;

pub async fn enqueue(
    db: &impl ConnectionTrait,
    kind: &str,
    payload: serde_json::Value,
) -> Result<JobId, sea_orm::DbErr> {
    let id = JobId::generate();
    let now = db::now();
    jobs::ActiveModel {
        id: Set(id),
        kind: Set(kind.to_owned()),
        payload: Set(payload),
        status: Set("PENDING".to_owned()),
        attempts: Set(0),
        max_attempts: Set(MAX_ATTEMPTS),
        run_at: Set(now),
        locked_until: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(id)
}
