//! `/api/v1/admin`: the job queue, for operators (admins only).

use axum::extract::State;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::{DEFAULT_LIMIT, JobId, PageRequest, Validation};
use crate::error::{AppError, ErrorEnvelope};
use crate::http::envelope::{Data, Paginated};
use crate::http::extract::{Admin, Path, Query, RequireRole};
use crate::services::jobs::{self, JobQuery, JobState, JobView};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_jobs))
        .routes(routes!(retry_job))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobListQuery {
    #[param(value_type = Option<JobState>)]
    pub state: Option<String>,
    /// `mail.welcome` or `mail.password_changed`.
    #[param(value_type = Option<String>, pattern = "^(mail\\\\.welcome|mail\\\\.password_changed)$")]
    pub kind: Option<String>,
    /// From 1; `page × limit` at most 10,000: an offset list serves its first 10,000 rows (a
    /// deeper page is a 400; narrow the list with a filter instead).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 10000)]
    pub page: Option<String>,
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
}

/// Background jobs, newest first (admins only).
#[utoipa::path(get, operation_id = "listJobs", path = "/api/v1/admin/jobs", tag = "operations",
    security(("bearerAuth" = [])),
    params(JobListQuery),
    responses(
        (status = 200, description = "A page of jobs", body = Paginated<JobView>),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
    ))]
pub async fn list_jobs(
    State(state): State<AppState>,
    RequireRole(admin, ..): RequireRole<Admin>,
    Query(query): Query<JobListQuery>,
) -> Result<Paginated<JobView>, AppError> {
    let mut v = Validation::default();
    let filters = JobQuery::parse(&mut v, query.state.as_deref(), query.kind.as_deref());
    let page = PageRequest::parse(
        &mut v,
        query.page.as_deref(),
        query.limit.as_deref(),
        DEFAULT_LIMIT,
    );
    let (Some(filters), Some(page)) = (filters, page) else {
        return Err(v.into());
    };
    let (jobs, pagination) = jobs::list(&state.db, &admin, &filters, page).await?;
    Ok(Paginated::new(jobs, pagination))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct JobPath {
    #[param(value_type = String, format = Uuid)]
    pub id: JobId,
}

/// Run a `DEAD` job again, its attempts reset (admins only). Any other state is a 409.
#[utoipa::path(post, operation_id = "retryJob", path = "/api/v1/admin/jobs/{id}/retry",
    tag = "operations",
    security(("bearerAuth" = [])),
    params(JobPath),
    responses(
        (status = 200, description = "The job, pending again", body = Data<JobView>),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
        (status = 404, description = "No such job", body = ErrorEnvelope),
        (status = 409, description = "`INVALID_STATUS_TRANSITION`: the job is not DEAD",
         body = ErrorEnvelope),
    ))]
pub async fn retry_job(
    State(state): State<AppState>,
    RequireRole(admin, ..): RequireRole<Admin>,
    Path(path): Path<JobPath>,
) -> Result<Data<JobView>, AppError> {
    Ok(Data::with_message(
        jobs::retry(&state.db, &admin, path.id).await?,
        "Job queued again",
    ))
}
