//! What happens around every request: the request id, one log line and three metrics labelled
//! by the matched route (never the raw URI, which would give every product id its own time
//! series), and the security headers.
//!
//! The SQL statements a request sends are counted ([`crate::db::statements`]): in its log line,
//! in `http_request_db_statements`, and outside production in a `Server-Timing` header
//! (`db;desc="3 statements"`), where a developer sees an N+1 in the browser's network panel.
//!
//! These share one middleware because each `from_fn` layer costs a service clone and a boxed
//! future per request; merged, `/health` serves about a third more requests per second.
//! The route is known only after routing, so [`expose_matched_path`] runs inside the router and
//! hands it out on the response.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics::{Counter, Histogram};
use tracing::Instrument;

use super::{request_id, responses, unread_body};
use crate::db::statements;
use crate::error::{AppError, ErrorCause, FieldError};

/// Routes that load balancers and scrapers poll; logged at debug so they do not drown the log.
const QUIET_ROUTES: &[&str] = &["/health", "/ready", "/metrics"];

/// What [`around_request`] adds beyond the log line, and where it keeps its metric handles.
#[derive(Clone)]
pub struct Observe {
    /// Whether responses carry the `Server-Timing` statement count (not in production: it
    /// tells a stranger how much work a request caused).
    server_timing: bool,
    metrics: Arc<RequestMetrics>,
}

impl Observe {
    pub fn new(server_timing: bool) -> Self {
        Observe {
            server_timing,
            metrics: Arc::default(),
        }
    }
}

/// The three metrics of one method, route and status.
struct Handles {
    requests: Counter,
    duration: Histogram,
    statements: Histogram,
}

/// Metric handles by route, then method and status, registered on first use. Finding a metric
/// by its labels costs three label allocations and a hash of them, per metric and request; a
/// kept handle costs neither. Routes, methods and statuses are all bounded sets.
#[derive(Default)]
struct RequestMetrics(RwLock<HandlesByRoute>);

type HandlesByRoute = HashMap<Box<str>, Vec<(&'static str, u16, Handles)>>;

fn find<'a>(
    by_route: &'a HandlesByRoute,
    method: &str,
    route: &str,
    status: u16,
) -> Option<&'a Handles> {
    by_route
        .get(route)?
        .iter()
        .find(|(m, s, _)| *m == method && *s == status)
        .map(|(_, _, handles)| handles)
}

impl RequestMetrics {
    fn record(
        &self,
        method: &'static str,
        route: &str,
        status: u16,
        elapsed: Duration,
        db_statements: u64,
    ) {
        let record = |handles: &Handles| {
            handles.requests.increment(1);
            handles.duration.record(elapsed.as_secs_f64());
            #[expect(clippy::cast_precision_loss, reason = "a count far below 2^52")]
            handles.statements.record(db_statements as f64);
        };
        if let Some(handles) = find(
            &self.0.read().unwrap_or_else(PoisonError::into_inner),
            method,
            route,
            status,
        ) {
            return record(handles);
        }
        let mut by_route = self.0.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(handles) = find(&by_route, method, route, status) {
            return record(handles);
        }
        let labels = [
            ("method", method.to_owned()),
            ("route", route.to_owned()),
            ("status", status.to_string()),
        ];
        let handles = Handles {
            requests: metrics::counter!("http_requests_total", &labels),
            duration: metrics::histogram!("http_request_duration_seconds", &labels),
            statements: metrics::histogram!("http_request_db_statements", &labels),
        };
        record(&handles);
        by_route
            .entry(route.into())
            .or_default()
            .push((method, status, handles));
    }
}

pub async fn around_request(
    State(observe): State<Observe>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let id = request_id::assign(&mut request);
    let method = request.method().clone();
    let span = tracing::info_span!(
        "request",
        request_id = id.to_str().unwrap_or_default(),
        method = %method
    );

    let (mut response, db_statements) = match oversized_head(&request) {
        Some(refusal) => (refusal, 0),
        None => {
            let kept = unread_body::keep(request.body_mut());
            let (mut response, db_statements) =
                statements::count(next.run(request).instrument(span.clone())).await;
            if let Some(kept) = kept {
                unread_body::finish(kept, &mut response).await;
            }
            (response, db_statements)
        }
    };
    response
        .headers_mut()
        .insert(request_id::X_REQUEST_ID.clone(), id);
    if observe.server_timing
        && let Ok(timing) = HeaderValue::try_from(format!("db;desc=\"{db_statements} statements\""))
    {
        response.headers_mut().insert("server-timing", timing);
    }
    responses::add_security_headers(response.headers_mut());

    let elapsed = started.elapsed();
    let matched = response.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("unmatched", MatchedPath::as_str);
    let status = response.status().as_u16();
    observe.metrics.record(
        metric_method(&method),
        route,
        status,
        elapsed,
        db_statements,
    );

    let duration_ms = elapsed.as_secs_f64() * 1000.0;
    let _entered = span.enter();
    if let Some(ErrorCause(cause)) = response.extensions().get::<ErrorCause>() {
        tracing::error!(
            route,
            status,
            duration_ms,
            db_statements,
            error = format!("{cause:#}"),
            "request failed"
        );
    } else if QUIET_ROUTES.contains(&route) {
        tracing::debug!(route, status, duration_ms, db_statements, "request");
    } else {
        tracing::info!(route, status, duration_ms, db_statements, "request");
    }
    response
}

/// A request target longer than this is a 414.
const MAX_URI_BYTES: usize = 8 * 1024;
/// More header fields, or more header bytes, than this is a 431.
const MAX_HEADER_FIELDS: usize = 100;
const MAX_HEADER_BYTES: usize = 32 * 1024;

/// The app's own limits on a request head, below hyper's (`server.rs`), so that an oversized
/// head gets the contract's envelope, request id and security headers, not hyper's bare
/// status line.
fn oversized_head(request: &Request) -> Option<Response> {
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |target| target.as_str().len());
    let (status, field, message) = if target > MAX_URI_BYTES {
        (
            StatusCode::URI_TOO_LONG,
            "uri",
            format!("must be at most {MAX_URI_BYTES} bytes"),
        )
    } else if request.headers().len() > MAX_HEADER_FIELDS
        || request
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len())
            .sum::<usize>()
            > MAX_HEADER_BYTES
    {
        (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers",
            format!("must be at most {MAX_HEADER_FIELDS} fields and {MAX_HEADER_BYTES} bytes"),
        )
    } else {
        return None;
    };
    let mut response = AppError::Validation(vec![FieldError::new(field, message)]).into_response();
    *response.status_mut() = status;
    Some(response)
}

/// The method as a metric label. HTTP allows any token as a method; labelling by it would let
/// a client create a time series per made-up method.
fn metric_method(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Runs inside the router, where the matched route is known, and copies it to the response.
pub async fn expose_matched_path(
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    if let Some(matched) = matched {
        response.extensions_mut().insert(matched);
    }
    response
}
