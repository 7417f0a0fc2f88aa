//! Application state, the middleware stack, and serving with graceful shutdown.
//!
//! `main` and the test harness both go through [`Application::build`] and
//! [`Application::run_until`], so tests exercise the same start-up path as production.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Method, StatusCode, header};
use axum::middleware::{from_fn, from_fn_with_state, map_response};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceBuilder;
use tower_http::CompressionLevel;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, Predicate, SizeAbove};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::TimeoutLayer;

use crate::background::{Stop, Supervisor};
use crate::config::Config;
use crate::db::listen::listen;
use crate::error::AppError;
use crate::events::{self, relay::Relay};
use crate::http::middleware::rate_limit::{ClientRateLimiter, rate_limit};
use crate::http::middleware::{observe, request_id, responses};
use crate::http::{self, docs};
use crate::jobs::Workers;
pub use crate::state::AppState;

/// How long shutdown waits for the database pool to close after the drain.
const POOL_CLOSE_DEADLINE: Duration = Duration::from_secs(5);

/// A request still running after this is answered 503, so a stuck query cannot pin a worker.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Bodies at most this long go out as they are: gzip saves nothing worth its CPU on one or two
/// TCP segments, and `/health`, errors and single resources are all below it.
const COMPRESS_ABOVE_BYTES: u16 = 1024;
/// How often expired lockout windows, idempotency keys and refresh tokens are purged.
const PURGE_EVERY: Duration = Duration::from_secs(600);

/// The whole HTTP application: routes, Swagger UI, fallbacks and the middleware stack.
pub fn router(state: AppState) -> Router {
    let (routes, openapi) = http::api(crate::graphql::openapi());
    let routes = routes
        .merge(docs::swagger_ui(openapi))
        .merge(crate::graphql::routes(state.clone()));
    with_platform(routes, state)
}

/// The OpenAPI document of every route, as served at `/api-docs/openapi.json` and printed by
/// `ecommerce-api openapi`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    http::api(crate::graphql::openapi()).1
}

/// Wraps routes in what API.md §2 promises every response: fallbacks, envelope, headers,
/// limits. Separate from [`router`] so tests can put routes of their own inside it.
fn with_platform(routes: Router<AppState>, state: AppState) -> Router {
    let config = &state.config;

    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(config.allowed_origins.clone()))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            http::orders::IDEMPOTENCY_KEY.clone(),
            request_id::X_REQUEST_ID.clone(),
        ])
        .expose_headers([
            request_id::X_REQUEST_ID.clone(),
            header::RETRY_AFTER,
            HeaderName::from_static("idempotent-replayed"),
            HeaderName::from_static("ratelimit-limit"),
            HeaderName::from_static("ratelimit-remaining"),
            HeaderName::from_static("ratelimit-reset"),
            HeaderName::from_static("ratelimit-policy"),
        ])
        .allow_credentials(true)
        .max_age(Duration::from_secs(600));
    let rate_limiter = ClientRateLimiter::new(
        config.rate_limit_max,
        config.rate_limit_window,
        config.trust_proxy,
        config.trusted_proxy_hops,
        state.redis.clone(),
    );

    // Outermost first. The request id wraps everything so even a rejection carries it; the
    // envelope sits inside compression so it never rewrites an encoded body.
    // The panic catcher sits just inside `observe`, so a panic anywhere below (the rate
    // limiter included) is still a 500 envelope with a request id, not a dropped connection.
    let stack = ServiceBuilder::new()
        .layer(from_fn_with_state(
            observe::Observe::new(!config.app_env.is_production()),
            observe::around_request,
        ))
        .layer(CatchPanicLayer::custom(responses::panic_response))
        .layer(cors)
        .layer(compression())
        .layer(map_response(responses::error_envelope))
        .layer(from_fn_with_state(rate_limiter, rate_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            REQUEST_TIMEOUT,
        ))
        .layer(DefaultBodyLimit::max(http::body_limits::DEFAULT));

    routes
        .route_layer(from_fn(observe::expose_matched_path))
        .fallback(|| async { AppError::NotFound("Route") })
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .layer(stack)
        .with_state(state)
}

/// gzip for bodies worth compressing, at the fastest level: on API JSON it keeps most of the
/// size saving of the default level for a fraction of the CPU. Otherwise tower-http's default
/// rules hold (no gRPC, images or event streams).
fn compression() -> CompressionLayer<impl Predicate> {
    CompressionLayer::new()
        .quality(CompressionLevel::Fastest)
        .compress_when(DefaultPredicate::new().and(SizeAbove::new(COMPRESS_ABOVE_BYTES)))
}

/// A migrated database and a bound socket, ready to serve.
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Connects, applies pending migrations and binds `HOST:PORT` (port 0 picks a free one).
    /// Each failure is an error naming what to fix.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let db = crate::db::connect(&config.database_url).await?;
        crate::db::migrate(&db).await?;
        let listener = TcpListener::bind((config.host.as_str(), config.port))
            .await
            .with_context(|| format!("cannot listen on {}:{}", config.host, config.port))?;
        Ok(Application {
            listener,
            state: AppState::new(config, db).await?,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves, with the background work, until `shutdown` completes; then stops accepting,
    /// lets in-flight requests and running jobs finish within the drain deadline, and closes
    /// the database pool.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Application { listener, state } = self;
        let (stop, stopping) = watch::channel(false);
        let shutdown = async move {
            shutdown.await;
            let _ = stop.send(true);
        };
        let supervisor = start_background(&state, stopping);
        let db = state.db.clone();
        let limits = state.config.connections;
        let served = crate::server::serve(listener, router(state), limits, shutdown).await;
        supervisor.join(limits.drain).await;
        served?;
        // Closing waits for every connection to come back; one held by work that cannot end
        // (a statement waiting on a lock) must not keep the process from exiting. The database
        // rolls back whatever such a connection had open when it goes.
        match tokio::time::timeout(POOL_CLOSE_DEADLINE, db.close()).await {
            Ok(closed) => closed.context("cannot close the database pool")?,
            Err(_) => tracing::warn!(
                deadline_secs = POOL_CLOSE_DEADLINE.as_secs(),
                "database connections still in use at the close deadline are dropped"
            ),
        }
        Ok(())
    }
}

/// The background work of a server: the wake-up listener, the outbox relay, the job workers,
/// the cache's invalidation listener and the purge.
fn start_background(state: &AppState, stopping: watch::Receiver<bool>) -> Supervisor {
    let mut supervisor = Supervisor::new(stopping);
    supervisor.spawn("wake-up listener", |stop| listen(state.db.clone(), stop));
    let relay = Relay {
        db: state.db.clone(),
        nats: state.nats.clone(),
        subscribers: vec![Arc::new(events::Counter), state.cache.clone()],
    };
    supervisor.spawn("outbox relay", |stop| relay.run(stop));
    let workers = Workers {
        db: state.db.clone(),
        mailer: state.mailer.clone(),
        lease: state.config.job_lease,
        drain: state.config.connections.drain,
    };
    supervisor.spawn("job workers", |stop| workers.run(stop));
    let cache = state.cache.clone();
    supervisor.spawn("cache invalidation listener", |stop| cache.listen(stop));
    let purge = state.clone();
    supervisor.spawn("purge", |stop| purge_periodically(purge, stop));
    supervisor
}

async fn purge_periodically(state: AppState, mut stop: Stop) {
    while stop.sleep(PURGE_EVERY).await {
        match crate::services::maintenance::purge_expired(&state.db, &state.auth.lockout).await {
            Ok(purged) => tracing::debug!(?purged, "expired rows purged"),
            Err(error) => tracing::warn!(error = %error, "purging expired rows failed"),
        }
    }
}

/// A future that completes on SIGINT (Ctrl-C) or SIGTERM (what orchestrators send).
///
/// The handlers are installed by this call, not when the future is first polled: a signal
/// that arrives as soon as the listener accepts (the server polls this future on another task)
/// must still mean "drain and exit 0", never the default action of killing the process.
pub fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt =
        signal(SignalKind::interrupt()).context("cannot install the SIGINT handler")?;
    let mut terminate =
        signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("SIGINT received, draining in-flight requests"),
            _ = terminate.recv() => tracing::info!("SIGTERM received, draining in-flight requests"),
        }
    })
}

#[cfg(test)]
mod tests {
    //! The platform around routes that only tests have: a JSON echo, a panic, a slow handler.

    use axum::body::Body;
    use axum::http::{Request, Response};
    use axum::routing::{get, post};
    use tower::ServiceExt;

    use super::*;
    use crate::http::extract::Json;

    async fn state() -> AppState {
        let db = crate::db::connect("sqlite::memory:").await.unwrap();
        AppState::new(Config::for_database("sqlite::memory:"), db)
            .await
            .unwrap()
    }

    async fn test_router() -> Router {
        let routes = Router::new()
            .route(
                "/api/v1/echo",
                post(|Json(body): Json<serde_json::Value>| async move { Json(body) }),
            )
            .route(
                "/api/v1/panic",
                get(|| async {
                    let items: Vec<u8> = Vec::new();
                    items[1].to_string()
                }),
            );
        with_platform(routes, state().await)
    }

    async fn send(request: Request<Body>) -> (Response<Body>, serde_json::Value) {
        let response = test_router().await.oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        let json = serde_json::from_slice(&bytes).unwrap_or_default();
        (Response::from_parts(parts, Body::empty()), json)
    }

    fn post_echo(content_type: &str, body: impl Into<Body>) -> Request<Body> {
        Request::post("/api/v1/echo")
            .header(header::CONTENT_TYPE, content_type)
            .body(body.into())
            .unwrap()
    }

    fn assert_platform_headers(response: &Response<Body>) {
        assert!(response.headers().contains_key("x-request-id"));
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    }

    #[tokio::test]
    async fn valid_json_passes_through() {
        let (response, body) = send(post_echo("application/json", r#"{"a":1}"#)).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(body, serde_json::json!({"a": 1}));
    }

    #[tokio::test]
    async fn malformed_json_is_a_400_envelope() {
        let (response, body) = send(post_echo("application/json", "{\"a\": ")).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_platform_headers(&response);
        assert_eq!(body["success"], false);
        assert_eq!(body["error"]["code"], "VALIDATION_ERROR");
        assert_eq!(body["error"]["details"][0]["field"], "body");
    }

    #[tokio::test]
    async fn a_form_body_is_a_415_envelope() {
        let (response, body) = send(post_echo("application/x-www-form-urlencoded", "a=1")).await;
        assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_platform_headers(&response);
        assert_eq!(body["error"]["code"], "UNSUPPORTED_MEDIA_TYPE");
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_a_413_envelope() {
        let mut big = vec![b' '; http::body_limits::DEFAULT + 1];
        big[0] = b'1';
        let (response, body) = send(post_echo("application/json", big)).await;
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_platform_headers(&response);
        assert_eq!(body["error"]["code"], "PAYLOAD_TOO_LARGE");
    }

    #[tokio::test]
    async fn a_panicking_handler_is_a_plain_500_envelope() {
        let request = Request::get("/api/v1/panic").body(Body::empty()).unwrap();
        let (response, body) = send(request).await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_platform_headers(&response);
        assert_eq!(
            body,
            serde_json::json!({"success": false,
                "error": {"code": "INTERNAL_ERROR", "message": "Internal server error"}})
        );
    }

    #[tokio::test]
    async fn a_request_over_the_timeout_is_a_503_envelope() {
        let stuck = Router::new().route(
            "/api/v1/stuck",
            get(|| async {
                tokio::time::sleep(REQUEST_TIMEOUT * 2).await;
                "never"
            }),
        );
        let app = with_platform(stuck, state().await);
        // Virtual time from here on: the clock jumps to the timeout instead of waiting for it.
        tokio::time::pause();

        let response = app
            .oneshot(Request::get("/api/v1/stuck").body(Body::empty()).unwrap())
            .await
            .unwrap();

        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_platform_headers(&response);
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["error"]["code"], "UNAVAILABLE");
    }

    #[tokio::test]
    async fn shutdown_lets_in_flight_requests_finish() {
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let started_tx = Arc::new(std::sync::Mutex::new(Some(started_tx)));
        let slow = Router::new().route(
            "/slow",
            get(move || {
                if let Some(tx) = started_tx.lock().unwrap().take() {
                    let _ = tx.send(());
                }
                async {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    "done"
                }
            }),
        );
        let app = with_platform(slow, state().await);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let limits = Config::for_database("sqlite::memory:").connections;
        let server = tokio::spawn(crate::server::serve(listener, app, limits, async {
            let _ = stop_rx.await;
        }));

        let request = tokio::spawn(async move {
            let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            stream
                .write_all(b"GET /slow HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                .await
                .unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).await.unwrap();
            response
        });
        started_rx.await.unwrap();
        stop_tx.send(()).unwrap();

        let response = request.await.unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.ends_with("done"), "{response}");
        server.await.unwrap().unwrap();
    }
}
