//! Liveness, readiness and metrics: the routes operators and load balancers poll.

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::response::Response;
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::error::AppError;
use crate::state::AppState;

/// A readiness probe must answer even when the database hangs.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `healthy`: the process answers.
    status: &'static str,
    timestamp: DateTime<Utc>,
    /// Seconds since the process started.
    uptime: f64,
    memory: Memory,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Memory {
    /// Resident set size in bytes (`null` where the platform does not tell).
    rss: Option<u64>,
}

/// Liveness: the process is up. Touches no dependency, so a slow database does not get
/// healthy instances restarted.
#[utoipa::path(get, operation_id = "getHealth", path = "/health", tag = "operations",
    responses((status = 200, description = "The process is alive", body = Health)))]
pub async fn health(State(state): State<AppState>) -> axum::Json<Health> {
    axum::Json(Health {
        status: "healthy",
        timestamp: Utc::now(),
        uptime: state.started_at.elapsed().as_secs_f64(),
        memory: Memory {
            rss: crate::telemetry::resident_memory_bytes(),
        },
    })
}

/// `up` or `down`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckState {
    Up,
    Down,
}

impl CheckState {
    fn from(up: bool) -> Self {
        if up { CheckState::Up } else { CheckState::Down }
    }
}

/// Each configured dependency; Redis and NATS appear only when `REDIS_URL` / `NATS_URL` are set.
#[derive(Debug, Serialize, ToSchema)]
pub struct Checks {
    database: CheckState,
    #[serde(skip_serializing_if = "Option::is_none")]
    redis: Option<CheckState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nats: Option<CheckState>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// `ready`, or `degraded` while Redis or NATS is down (the instance still serves correct
    /// answers without them).
    #[schema(value_type = String, pattern = "^(ready|degraded)$")]
    status: &'static str,
    checks: Checks,
}

/// The 503 body: the error envelope, with the same `status` and `checks` beside it.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotReady {
    /// Always `false`.
    success: bool,
    error: crate::error::ErrorBody,
    /// Always `unavailable`.
    #[schema(value_type = String, pattern = "^unavailable$")]
    status: &'static str,
    checks: Checks,
}

/// Readiness: 200 `ready` when every configured dependency answers; 200 `degraded` when only
/// Redis or NATS is down (events wait in the outbox, caches fall back to the database); 503
/// `UNAVAILABLE` while the database does not answer a ping within two seconds, so a load
/// balancer takes the instance out of rotation until it recovers.
#[utoipa::path(get, operation_id = "getReadiness", path = "/ready", tag = "operations", responses(
    (status = 200, description = "Ready, or degraded without Redis or NATS", body = Ready),
    (status = 503, description = "The database is down", body = NotReady)))]
pub async fn ready(State(state): State<AppState>) -> Response {
    let database = match tokio::time::timeout(READY_TIMEOUT, state.db.ping()).await {
        Ok(Ok(())) => true,
        Ok(Err(error)) => {
            tracing::warn!(error = %error, "readiness: database ping failed");
            false
        }
        Err(_) => {
            tracing::warn!("readiness: database ping timed out");
            false
        }
    };
    let checks = Checks {
        database: CheckState::from(database),
        redis: match &state.redis {
            Some(redis) => Some(CheckState::from(redis.ping().await)),
            None => None,
        },
        nats: state
            .nats
            .as_ref()
            .map(|nats| CheckState::from(nats.is_connected())),
    };
    if !database {
        let error = AppError::Unavailable("Database unavailable".to_owned());
        let body = NotReady {
            success: false,
            error: error.envelope().error,
            status: "unavailable",
            checks,
        };
        return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    }
    let degraded = [checks.redis, checks.nats].contains(&Some(CheckState::Down));
    axum::Json(Ready {
        status: if degraded { "degraded" } else { "ready" },
        checks,
    })
    .into_response()
}

/// Prometheus metrics: `http_requests_total` and `http_request_duration_seconds` by method,
/// matched route and status; database pool gauges (`pool` is `read` and `write` on SQLite,
/// `shared` on PostgreSQL); `jobs` by `kind` and `state`; `outbox_backlog` and
/// `outbox_oldest_undelivered_age_seconds`; `outbox_publish_latency_seconds` (commit to
/// JetStream's acknowledgement); and the process's resident memory.
///
/// Public by default, as API.md §3 has it. With `METRICS_TOKEN` set, it requires
/// `Authorization: Bearer <METRICS_TOKEN>` and answers 401 otherwise.
#[utoipa::path(get, operation_id = "getMetrics", path = "/metrics", tag = "operations",
    security((), ("metricsToken" = [])),
    responses(
        (status = 200, description = "Prometheus text exposition format", body = String,
         content_type = "text/plain; version=0.0.4"),
        (status = 401, description = "`UNAUTHORIZED`: `METRICS_TOKEN` is set and the request \
         does not carry it", body = crate::error::ErrorEnvelope),
    ))]
pub async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, AppError> {
    if let Some(expected) = &state.config.metrics_token {
        let sent = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .unwrap_or_default();
        // Compared as digests, so the time taken says nothing about the token's prefix.
        if Sha256::digest(sent.as_bytes()) != Sha256::digest(expected.expose_secret().as_bytes()) {
            return Err(AppError::Unauthorized);
        }
    }
    for (name, pool) in crate::db::pool_stats(&state.db) {
        metrics::gauge!("db_pool_connections", "pool" => name, "state" => "idle").set(pool.idle);
        metrics::gauge!("db_pool_connections", "pool" => name, "state" => "in_use")
            .set(pool.open.saturating_sub(pool.idle));
        metrics::gauge!("db_pool_max_connections", "pool" => name).set(pool.max);
    }
    record_queue_gauges(&state).await;
    if let Some(rss) = crate::telemetry::resident_memory_bytes() {
        #[expect(clippy::cast_precision_loss, reason = "a gauge is a float")]
        metrics::gauge!("process_resident_memory_bytes").set(rss as f64);
    }
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    ))
}

/// Jobs by kind and state, and the outbox's backlog, read at scrape time.
async fn record_queue_gauges(state: &AppState) {
    match crate::db::queue::counts(&state.db).await {
        Ok(counts) => {
            for kind in crate::domain::Job::KINDS {
                for job_state in ["PENDING", "RUNNING", "DONE", "DEAD"] {
                    let n = counts
                        .iter()
                        .find(|(k, s, _)| k == kind && s == job_state)
                        .map_or(0, |(_, _, n)| *n);
                    #[expect(clippy::cast_precision_loss, reason = "a gauge is a float")]
                    metrics::gauge!("jobs", "kind" => kind, "state" => job_state).set(n as f64);
                }
            }
        }
        Err(error) => tracing::warn!(error = %error, "metrics: cannot count jobs"),
    }
    match crate::db::outbox::backlog(&state.db).await {
        Ok((waiting, oldest)) => {
            #[expect(clippy::cast_precision_loss, reason = "a gauge is a float")]
            metrics::gauge!("outbox_backlog").set(waiting as f64);
            let age = oldest
                .map(|oldest| (crate::db::now() - oldest).to_std().unwrap_or_default())
                .unwrap_or_default();
            metrics::gauge!("outbox_oldest_undelivered_age_seconds").set(age.as_secs_f64());
        }
        Err(error) => tracing::warn!(error = %error, "metrics: cannot read the outbox backlog"),
    }
}
