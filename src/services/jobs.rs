//! The job queue as operators see it: a list of jobs, and retrying one that died. Admins only.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, QueryResult, Value};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::{self, Db, Params};
use crate::domain::{Actor, Invalid, JobId, PageRequest, Pagination, Validation, non_blank};
use crate::error::AppError;
use crate::services::admin_only;

/// A job as the admin routes show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    pub id: JobId,
    /// `mail.welcome` or `mail.password_changed`.
    pub kind: String,
    pub state: JobState,
    /// Attempts made so far (counting a running one).
    pub attempts: u32,
    pub max_attempts: u32,
    /// When it runs (next), for a pending job.
    pub run_at: DateTime<Utc>,
    /// Why the last attempt failed; `null` once it succeeds.
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobState {
    Pending,
    Running,
    Done,
    Dead,
}

impl JobState {
    fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "PENDING",
            JobState::Running => "RUNNING",
            JobState::Done => "DONE",
            JobState::Dead => "DEAD",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        match raw {
            "PENDING" => Ok(JobState::Pending),
            "RUNNING" => Ok(JobState::Running),
            "DONE" => Ok(JobState::Done),
            "DEAD" => Ok(JobState::Dead),
            _ => Err(Invalid::new("must be one of PENDING, RUNNING, DONE, DEAD")),
        }
    }
}

/// `GET /admin/jobs` filters, checked.
#[derive(Debug, Clone, Default)]
pub struct JobQuery {
    pub state: Option<JobState>,
    pub kind: Option<String>,
}

impl JobQuery {
    pub fn parse(v: &mut Validation, state: Option<&str>, kind: Option<&str>) -> Option<Self> {
        let state = v.field("state", non_blank(state).map(JobState::parse).transpose());
        let kind = v.field(
            "kind",
            non_blank(kind)
                .map(|kind| {
                    crate::domain::Job::KINDS
                        .iter()
                        .find(|known| **known == kind)
                        .map(|known| (*known).to_owned())
                        .ok_or_else(|| {
                            Invalid::new(format!(
                                "must be one of {}",
                                crate::domain::Job::KINDS.join(", ")
                            ))
                        })
                })
                .transpose(),
        );
        Some(JobQuery {
            state: state?,
            kind: kind?,
        })
    }
}

const COLUMNS: &str =
    "id, kind, status, attempts, max_attempts, run_at, last_error, created_at, updated_at";

fn from_row(row: &QueryResult) -> Result<JobView, DbErr> {
    let status: String = row.try_get("", "status")?;
    let count = |column| -> Result<u32, DbErr> {
        Ok(u32::try_from(row.try_get::<i32>("", column)?).unwrap_or(0))
    };
    Ok(JobView {
        id: row.try_get("", "id")?,
        kind: row.try_get("", "kind")?,
        state: JobState::parse(&status)
            .map_err(|_| DbErr::Type(format!("a job holds an unknown status {status:?}")))?,
        attempts: count("attempts")?,
        max_attempts: count("max_attempts")?,
        run_at: row.try_get("", "run_at")?,
        last_error: row.try_get("", "last_error")?,
        created_at: row.try_get("", "created_at")?,
        updated_at: row.try_get("", "updated_at")?,
    })
}

/// Jobs, newest first.
pub async fn list(
    db: &Db,
    actor: &Actor,
    query: &JobQuery,
    page: PageRequest,
) -> Result<(Vec<JobView>, Pagination), AppError> {
    admin_only(actor)?;
    let mut params = Params::default();
    let mut conditions = Vec::new();
    if let Some(state) = query.state {
        conditions.push(format!("status = {}", params.push(state.as_str())));
    }
    if let Some(kind) = &query.kind {
        conditions.push(format!("kind = {}", params.push(kind.clone())));
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let mut page_params = params.clone();
    let total: i64 = db
        .read()
        .query_one_raw(db::sql(
            db.read(),
            &format!("SELECT COUNT(*) FROM jobs {filter}"),
            params.into_values(),
        ))
        .await?
        .ok_or_else(|| anyhow::anyhow!("a count returns a row"))?
        .try_get_by_index(0)?;
    let rows = db
        .read()
        .query_all_raw(db::sql(
            db.read(),
            &format!(
                "SELECT {COLUMNS} FROM jobs {filter} ORDER BY created_at DESC, id DESC {}",
                page_params.page(page)
            ),
            page_params.into_values(),
        ))
        .await?;
    let jobs = rows.iter().map(from_row).collect::<Result<_, _>>()?;
    Ok((
        jobs,
        Pagination::new(page, u64::try_from(total).unwrap_or(0)),
    ))
}

/// A `DEAD` job becomes `PENDING` again with its attempts reset; any other state is a 409.
pub async fn retry(db: &Db, actor: &Actor, id: JobId) -> Result<JobView, AppError> {
    admin_only(actor)?;
    let txn = db.begin_write().await?;
    let now = db::now();
    let revived = txn
        .execute_raw(db::sql(
            &txn,
            "UPDATE jobs SET status = 'PENDING', attempts = 0, run_at = $1, claim = NULL, \
               locked_until = NULL, updated_at = $1 WHERE id = $2 AND status = 'DEAD'",
            [Value::from(now), id.into()],
        ))
        .await?;
    let row = txn
        .query_one_raw(db::sql(
            &txn,
            &format!("SELECT {COLUMNS} FROM jobs WHERE id = $1"),
            [id.into()],
        ))
        .await?
        .ok_or(AppError::NotFound("Job"))?;
    let job = from_row(&row)?;
    if revived.rows_affected() == 0 {
        return Err(AppError::InvalidStatusTransition {
            from: job.state.as_str().to_owned(),
            to: "PENDING".to_owned(),
        });
    }
    txn.commit().await?;
    db.wake().jobs();
    Ok(job)
}
