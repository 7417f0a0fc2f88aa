//! Liveness, readiness and metrics: the routes operators and load balancers poll.

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
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

#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// Always `ready`.
    status: &'static str,
    /// Each dependency checked, with `up`.
    checks: Checks,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Checks {
    database: &'static str,
}

/// Readiness: the database answers a ping within two seconds. Otherwise 503 `UNAVAILABLE`, so
/// a load balancer takes this instance out of rotation until it recovers.
#[utoipa::path(get, operation_id = "getReadiness", path = "/ready", tag = "operations", responses(
    (status = 200, description = "Every dependency answers", body = Ready),
    (status = 503, description = "A dependency is down", body = crate::error::ErrorEnvelope)))]
pub async fn ready(State(state): State<AppState>) -> Result<axum::Json<Ready>, AppError> {
    match tokio::time::timeout(READY_TIMEOUT, state.db.ping()).await {
        Ok(Ok(())) => Ok(axum::Json(Ready {
            status: "ready",
            checks: Checks { database: "up" },
        })),
        Ok(Err(error)) => {
            tracing::warn!(error = %error, "readiness: database ping failed");
            Err(AppError::Unavailable("Database unavailable".to_owned()))
        }
        Err(_) => {
            tracing::warn!("readiness: database ping timed out");
            Err(AppError::Unavailable("Database unavailable".to_owned()))
        }
    }
}

/// Prometheus metrics: `http_requests_total` and `http_request_duration_seconds` by method,
/// matched route and status, plus database pool gauges (`pool` is `read` and `write` on
/// SQLite, `shared` on PostgreSQL) and the process's resident memory.
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
    if let Some(rss) = crate::telemetry::resident_memory_bytes() {
        #[expect(clippy::cast_precision_loss, reason = "a gauge is a float")]
        metrics::gauge!("process_resident_memory_bytes").set(rss as f64);
    }
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    ))
}
